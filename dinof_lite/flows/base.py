"""The contract every layer of :mod:`dinof_lite.flows` follows, written down as a base class.

A flow layer is an invertible map ``f`` applied to each example of a batch, with the log-absolute-
determinant of its Jacobian. :class:`FlowLayer` declares the two methods every layer has:

``forward(x, context=None) -> (y, logdet)``
    data → latent: ``y = f(x)`` and ``logdet[b] = log|det ∂y_b/∂x_b|``, shape ``(B,)``. This is
    the term the change of variables adds, ``log p(x) = log p_Z(f(x)) + logdet``.
``inverse(y, context=None) -> (x, logdet)``
    latent → data: ``x = f⁻¹(y)`` and ``logdet[b] = log|det ∂x_b/∂y_b|``, the log-det of the map
    *this method computes*, hence ``inverse(y)[1] == −forward(x)[1]`` for ``y = forward(x)[0]``.

Sign convention: each method returns the log-det of its own direction, so the two log-dets of a
round trip add up to zero; a layer that shrinks (``|scale| < 1``) has a negative forward log-det.

Further rules the layers keep (and ``check_flow_layer`` in ``tests/flow_check.py`` checks):

- ``y`` has the shape of ``x`` (a layer that reshapes, like a squeeze, keeps the number of entries
  per example); ``logdet`` is ``(B,)`` with ``x``'s dtype and device, also when it does not depend
  on the data (``logdet.expand(B)``) or is zero (``x.new_zeros(B)``).
- ``context`` is ``None`` or ``(B, K)``; a layer that does not use it still accepts it, so that a
  stack of layers can hand the same context to each (as :class:`~dinof_lite.flows.glow.FlowStep`
  does). A layer may take further optional keyword arguments after it
  (:class:`~dinof_lite.flows.priors.GaussianPrior`'s ``cond``).
- Examples do not interact: ``y_b`` depends on ``x_b`` and ``context_b`` only, so the per-example
  Jacobian is well defined. The one exception is a one-off data-dependent initialisation on the
  first batch (:class:`~dinof_lite.flows.actnorm.ActNorm`), after which the layer is a fixed map.

The layers that subclass it: :class:`~dinof_lite.flows.actnorm.ActNorm`,
:class:`~dinof_lite.flows.invconv.InvConv`, :class:`~dinof_lite.flows.coupling.AffineCoupling`,
:class:`~dinof_lite.flows.priors.GaussianPrior` and :class:`~dinof_lite.flows.glow.FlowStep`.
Two pieces of Glow have other signatures and are not ``FlowLayer`` s:
:class:`~dinof_lite.flows.priors.Split` (``forward(h) -> (kept, z, logdet)``,
``inverse(kept, z) -> (h, logdet)``: two outputs) and :class:`~dinof_lite.flows.glow.Glow` itself
(``inverse(z) -> x`` without a log-det, as sampling needs no more); ``squeeze``/``unsqueeze`` are
plain functions (a permutation, log-det 0).

How to add a layer
------------------
1. Subclass :class:`FlowLayer`; create parameters in ``__init__`` so the layer starts at (or near)
   the identity, e.g. zero-initialise the last layer of any network that predicts a scale or shift.
2. Implement :meth:`~FlowLayer.forward` and :meth:`~FlowLayer.inverse` as above. Compute the
   log-det analytically (a triangular Jacobian's diagonal, ``H·W·log|det W|`` for a 1×1
   convolution) and reduce it to ``(B,)`` with ``.flatten(1).sum(1)``.
3. Test it with ``check_flow_layer(layer, x, context)`` from ``tests/flow_check.py`` in float64: it
   checks both inverses, the log-det against the autograd Jacobian, the inverse's log-det and the
   shapes.
4. Use it in :class:`~dinof_lite.flows.glow.FlowStep` or a model; export it from
   :mod:`dinof_lite.flows` if it is public.

A minimal example, an elementwise learned scale ``y = x · exp(s)``::

    class Scale(FlowLayer):
        def __init__(self, num_channels: int) -> None:
            super().__init__()
            self.log_scale = nn.Parameter(torch.zeros(num_channels))

        def forward(self, x, context=None):
            s = self.log_scale.view(1, -1, *[1] * (x.dim() - 2))
            return x * s.exp(), s.expand_as(x).flatten(1).sum(1)

        def inverse(self, y, context=None):
            s = self.log_scale.view(1, -1, *[1] * (y.dim() - 2))
            return y * torch.exp(-s), -s.expand_as(y).flatten(1).sum(1)

A whole flow used as DiNof's prior at ``T_m`` follows a second contract, :class:`FlowPrior`
(:class:`~dinof_lite.flows.glow.Glow` does); :func:`flow_prior_missing` names what a flow lacks.
"""

from __future__ import annotations

import abc
import inspect
from typing import Protocol, runtime_checkable

from torch import Tensor, nn

__all__ = ["FlowLayer", "FlowPrior", "flow_prior_missing"]


class FlowLayer(nn.Module, metaclass=abc.ABCMeta):
    """An invertible layer with its log-determinant; see the module docstring for the contract.

    Subclasses implement :meth:`forward` and :meth:`inverse`; calling the layer, ``layer(x, c)``,
    runs :meth:`forward` through :class:`torch.nn.Module`'s hooks as usual. The base class adds no
    parameters, buffers or state-dict keys.
    """

    @abc.abstractmethod
    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data → latent: ``(y = f(x), log|det ∂y/∂x|)``, the log-det of shape ``(B,)``."""

    @abc.abstractmethod
    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Latent → data: ``(x = f⁻¹(y), log|det ∂x/∂y|)``; the log-det is ``−`` forward's."""


@runtime_checkable
class FlowPrior(Protocol):
    """What :class:`~dinof_lite.dinof.DiNof` needs of its flow (an ``nn.Module``), the flow
    ``h_0 = x(T_m) → … → h_M = z`` of DiNof Eq. 8 (:class:`~dinof_lite.flows.glow.Glow` is one).

    Attributes:
        in_shape: ``(D,)`` or ``(C, H, W)``, the shape of one example.
        context_dim: size of the context vector the flow is conditioned on, 0 for none.
    """

    in_shape: tuple[int, ...]
    context_dim: int

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``log p(x)`` in nats, ``(B,)``; the loss and the likelihood at ``T_m``."""

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        """Latent ``z (B, *in_shape)`` → data ``x (B, *in_shape)``; sampling's first part."""

    def inverse_trajectory(
        self, z: Tensor, context: Tensor | None = None, every: int = 1
    ) -> list[Tensor]:
        """The states ``[z, …, x]`` of :meth:`inverse`, after every ``every``-th layer."""

    def layer_names(self) -> list[str]:
        """The names of the ``M`` layers, data → latent order."""

    def intermediate_indices(self, every: int = 1) -> list[int]:
        """Which states (0 = ``z``, ``M`` = ``x``) :meth:`inverse_trajectory` records."""


def _protocol_members(proto: type) -> list[str]:
    """The attributes and methods a protocol class declares (in declaration order)."""
    methods = [n for n, v in vars(proto).items() if inspect.isfunction(v) and n[0] != "_"]
    return [*proto.__annotations__, *methods]


def flow_prior_missing(flow: object) -> list[str]:
    """The members of :class:`FlowPrior` that ``flow`` lacks (empty when it has them all);
    methods must be callable."""
    missing = []
    for name in _protocol_members(FlowPrior):
        is_method = inspect.isfunction(vars(FlowPrior).get(name))
        if not hasattr(flow, name) or (is_method and not callable(getattr(flow, name))):
            missing.append(f"{name}()" if is_method else name)
    return missing
