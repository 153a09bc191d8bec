"""One check for every flow layer (in the manner of normflows' ``FlowTest``): the contract of
:class:`dinof_lite.flows.FlowLayer`, verified numerically.

``check_flow_layer(layer, x, context)`` runs ``layer`` on ``x`` and asserts

(a) ``inverse(forward(x)) == x``;
(b) ``forward(inverse(y)) == y`` at a second point ``y`` (the outputs in reverse batch order);
(c) forward's log-det equals ``log|det ∂y_b/∂x_b|`` from :func:`torch.autograd.functional.jacobian`
    of each example alone (all dimensions after the batch flattened), and a single example's
    output equals its row of the batched one;
(d) the inverse's log-det is minus the forward's, at ``x`` and at the second point;
(e) shapes: ``y`` like ``x`` (or ``y_shape``), log-dets ``(B,)``, the inverse's output like ``x``.

Use float64 inputs and layers for tight tolerances (the defaults). ``layer`` needs only
``layer(x, context) -> (y, logdet)`` and ``layer.inverse(y, context)``; an inverse that returns the
bare ``x`` (as :meth:`dinof_lite.flows.Glow.inverse` does) skips (d). A layer with a data-dependent
initialisation (ActNorm) is initialised by the first call here; call it yourself first (and move
its parameters) to test a non-trivial map.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["check_flow_layer", "perturb"]


def _forward(layer, x: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor]:
    out = layer(x, context)
    assert isinstance(out, tuple) and len(out) == 2, (
        f"forward must return (y, logdet), got {type(out).__name__}"
    )
    return out


def _inverse(layer, y: Tensor, context: Tensor | None) -> tuple[Tensor, Tensor | None]:
    out = layer.inverse(y, context)
    if isinstance(out, Tensor):
        return out, None
    assert isinstance(out, tuple) and len(out) == 2, "inverse must return (x, logdet) or x"
    return out


def _rows(context: Tensor | None, index) -> Tensor | None:
    return None if context is None else context[index]


def _assert_logdet_shape(logdet: Tensor, batch: int, like: Tensor, what: str) -> None:
    assert isinstance(logdet, Tensor) and logdet.shape == (batch,), (
        f"{what} log-det must have shape ({batch},), got "
        f"{tuple(logdet.shape) if isinstance(logdet, Tensor) else type(logdet).__name__}"
    )
    assert logdet.dtype == like.dtype, f"{what} log-det is {logdet.dtype}, input is {like.dtype}"
    assert torch.isfinite(logdet).all(), f"{what} log-det is not finite: {logdet}"


def check_flow_layer(
    layer,
    x: Tensor,
    context: Tensor | None = None,
    *,
    atol: float = 1e-8,
    rtol: float = 1e-6,
    y_shape: tuple[int, ...] | None = None,
    n_jacobian: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Assert the flow-layer contract (a)–(e) of the module docstring for ``layer`` at ``x``.

    Args:
        layer: ``layer(x, context) -> (y, logdet)``, ``layer.inverse(y, context) -> (x, logdet)``
            (or ``-> x``).
        x: a batch ``(B, …)``; its dtype sets the precision of every check.
        context: ``None`` or ``(B, K)``, passed to both directions.
        atol, rtol: tolerances of every comparison (``torch.testing.assert_close``).
        y_shape: the expected shape of ``y`` when the layer reshapes (default: ``x.shape``).
        n_jacobian: check (c) on the first ``n_jacobian`` examples only (default: all; 0: none).

    Returns:
        ``(y, logdet)`` of the batched forward pass, detached, for further checks.

    Raises:
        AssertionError: naming the first property that fails.
    """
    batch = x.shape[0]
    close = dict(atol=atol, rtol=rtol)
    with torch.no_grad():
        y, logdet = _forward(layer, x, context)
    # (e) shapes
    expected = tuple(x.shape) if y_shape is None else tuple(y_shape)
    assert tuple(y.shape) == expected, f"forward output has shape {tuple(y.shape)}, not {expected}"
    assert y[0].numel() == x[0].numel(), "a bijection keeps the number of entries per example"
    _assert_logdet_shape(logdet, batch, x, "forward")

    with torch.no_grad():
        # (a) inverse(forward(x)) == x, (d) with the negated log-det
        x_back, logdet_inv = _inverse(layer, y, context)
        assert tuple(x_back.shape) == tuple(x.shape), (
            f"inverse output has shape {tuple(x_back.shape)}, not {tuple(x.shape)}"
        )
        torch.testing.assert_close(
            x_back, x, **close, msg=lambda m: f"inverse(forward(x)) != x\n{m}"
        )
        if logdet_inv is not None:
            _assert_logdet_shape(logdet_inv, batch, x, "inverse")
            torch.testing.assert_close(
                logdet_inv, -logdet, **close, msg=lambda m: f"inverse log-det != −forward's\n{m}"
            )
        # (b) forward(inverse(y')) == y' at another point, and (d) there too
        y_other = y.flip(0)
        x_other, logdet_inv_other = _inverse(layer, y_other, context)
        y_again, logdet_other = _forward(layer, x_other, context)
        torch.testing.assert_close(
            y_again, y_other, **close, msg=lambda m: f"forward(inverse(y)) != y\n{m}"
        )
        if logdet_inv_other is not None:
            torch.testing.assert_close(
                logdet_inv_other,
                -logdet_other,
                **close,
                msg=lambda m: f"inverse log-det != −forward's at forward(inverse(y))\n{m}",
            )

    # (c) the log-det is the log|det| of the autograd Jacobian, example by example
    n = batch if n_jacobian is None else min(n_jacobian, batch)
    for i in range(n):
        ctx_i = _rows(context, slice(i, i + 1))

        def f(v: Tensor, ctx_i=ctx_i) -> Tensor:
            return _forward(layer, v.unsqueeze(0), ctx_i)[0].flatten()

        with torch.no_grad():
            y_i, logdet_i = _forward(layer, x[i : i + 1], ctx_i)
        torch.testing.assert_close(
            y_i[0], y[i], **close, msg=lambda m, i=i: f"example {i} alone != its batched row\n{m}"
        )
        jac = torch.autograd.functional.jacobian(f, x[i])
        d = x[i].numel()
        ref = torch.linalg.slogdet(jac.reshape(d, d).double())[1].to(logdet.dtype)
        torch.testing.assert_close(
            logdet[i],
            ref,
            **close,
            msg=lambda m, i=i: f"forward log-det of example {i} != log|det| of its Jacobian\n{m}",
        )
        torch.testing.assert_close(logdet_i[0], logdet[i], **close)
    return y.detach(), logdet.detach()


def perturb(module: nn.Module, scale: float = 0.3, seed: int = 0) -> nn.Module:
    """Move every parameter off its initial value (zero-initialised layers included), in place."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device))
    return module
