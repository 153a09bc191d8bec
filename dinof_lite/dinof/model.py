"""DiNof: a diffusion model whose reverse process starts from a normalizing flow at ``T_m`` (SPEC §4).

The forward process is split at ``T_m ∈ (0, T]`` (DiNof §4, Eq. 7–8): below ``T_m`` the usual
linear SDE (stochastic paths), above it a normalizing flow that maps ``x(T_m)`` to ``z ~ N(0, I)``
through its layers ``h_0 = x(T_m), …, h_M = z`` (deterministic paths)::

    model = DiNof(sde, ScoreMLP.for_sde(sde), Glow((2,), levels=1, steps=8, hidden=64), T_m=0.6)
    Trainer(model, training_loss, data, TrainConfig(...)).fit()   # one optimizer, both networks
    x = model.sample(2000)                          # z → flow⁻¹ → x(T_m) → PC sampler → x(eps)
    logp = model.log_likelihood(x)                  # ODE eps → T_m, plus the flow's log-density

**Any-T_m mode** (``T_m_range=(lo, hi)``): the flow is conditioned on ``T_m`` through Glow's
``context`` (features :func:`tm_context`), training draws one ``T_m ~ U(lo, hi)`` per example and
the score network is trained on ``[eps, hi)``; ``sample(T_m=…)`` then works for any ``T_m`` in the
range without retraining, and with ``hi = T`` the same score network also runs the plain diffusion
baseline from ``p_T``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from dinof_lite.dinof.likelihood import dinof_log_likelihood
from dinof_lite.dinof.sampling import dinof_sample
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.sde import SDE, batch_view
from dinof_lite.utils import rand, randn

__all__ = ["DiNof", "tm_context", "training_loss", "CONTEXT_DIM", "FLOW_REDUCTIONS"]

#: Size of the ``T_m`` feature vector :func:`tm_context` gives a conditional flow.
CONTEXT_DIM = 9
#: How the flow's NLL enters the loss: nats per example (authors' code) or per dimension.
FLOW_REDUCTIONS = ("sum", "mean")


def tm_context(sde: SDE, T_m: Tensor, T_m_range: tuple[float, float]) -> Tensor:
    """Features ``(B, 9)`` of ``T_m (B,)`` that condition the any-T_m flow.

    With ``u = (T_m − lo)/(hi − lo) ∈ [0, 1]``: ``[2u − 1, sin(2^k π u), cos(2^k π u) for k < 3,
    a(T_m), log s(T_m)]``. The marginal coefficients let the flow's conditional priors read the
    scale of ``p_{T_m}`` (``x(T_m) = a·x0 + s·z``) off a linear map.
    """
    lo, hi = T_m_range
    u = (T_m - lo) / (hi - lo) if hi > lo else torch.zeros_like(T_m)
    a, s = sde.marginal_coeffs(T_m)
    feats = [2 * u - 1]
    for k in range(3):
        feats += [torch.sin(2**k * math.pi * u), torch.cos(2**k * math.pi * u)]
    feats += [a, s.clamp_min(1e-12).log()]
    return torch.stack(feats, dim=-1)


class DiNof(nn.Module):
    """A score network and a normalizing flow joined at ``T_m`` (DiNof §4; SPEC §4).

    Args:
        sde: the forward SDE (VE, VP or sub-VP).
        score_net: raw network ``net(x (B, *dims), label (B,)) -> (B, *dims)``, read as a score by
            :func:`~dinof_lite.losses.get_score_fn` (ε-prediction for VP / sub-VP, σ-scaled for VE).
        flow: a bijection with ``flow(x, context) -> (z, logdet)``, ``flow.inverse(z, context)``,
            ``flow.log_prob(x, context)`` and ``flow.in_shape`` (a :class:`~dinof_lite.nets.Glow`);
            conditional (``context_dim == CONTEXT_DIM``) exactly when ``T_m_range`` is given.
        T_m: the hand-over time in ``(0, T]``; in any-T_m mode the default for :meth:`sample`.
        T_m_range: ``(lo, hi)`` with ``0 < lo < hi <= T`` for any-T_m mode, else ``None``.
        eps: smallest time for training and sampling (default ``sde.eps``).
        flow_weight: ``w`` in ``L = L_DSM + w · NLL_flow`` (authors: 1).
        flow_reduction: ``"sum"`` — the flow's NLL in nats per example, as the authors' code —
            or ``"mean"``, nats per dimension. The two networks share no parameters, so with Adam
            the weighting acts mainly through the one gradient-norm clip over both networks: on
            images the per-example NLL (thousands of nats) dominates that norm and the clip
            shrinks the score network's steps too; per dimension keeps both terms O(1).
        reduce_mean, likelihood_weighting: passed to :func:`~dinof_lite.losses.dsm_loss`.
    """

    CONTEXT_DIM = CONTEXT_DIM

    def __init__(
        self,
        sde: SDE,
        score_net: nn.Module,
        flow: nn.Module,
        T_m: float = 0.6,
        *,
        T_m_range: tuple[float, float] | None = None,
        eps: float | None = None,
        flow_weight: float = 1.0,
        flow_reduction: str = "sum",
        reduce_mean: bool | None = None,
        likelihood_weighting: bool = False,
    ) -> None:
        super().__init__()
        self.sde, self.score_net, self.flow = sde, score_net, flow
        self.eps = float(sde.eps if eps is None else eps)
        self.T_m_range = None if T_m_range is None else tuple(float(v) for v in T_m_range)
        if self.T_m_range is not None:
            lo, hi = self.T_m_range
            if len(T_m_range) != 2 or not self.eps < lo < hi <= sde.T:
                raise ValueError(
                    f"T_m_range must be (lo, hi) with eps = {self.eps} < lo < hi <= "
                    f"T = {sde.T}; got {T_m_range}"
                )
        self.T_m = self._check_T_m(T_m)
        want = CONTEXT_DIM if self.any_T_m else 0
        got = int(getattr(flow, "context_dim", 0))
        if got != want:
            raise ValueError(
                f"the flow has context_dim={got} but DiNof needs {want}: "
                + (
                    f"an any-T_m model conditions its flow on tm_context, build it with "
                    f"context_dim=DiNof.CONTEXT_DIM ({CONTEXT_DIM})"
                    if want
                    else "a single-T_m model takes an unconditional flow (or pass T_m_range)"
                )
            )
        if flow_reduction not in FLOW_REDUCTIONS:
            raise ValueError(
                f"unknown flow_reduction {flow_reduction!r}; valid: {', '.join(FLOW_REDUCTIONS)}"
            )
        if not flow_weight >= 0:
            raise ValueError(f"flow_weight must be >= 0; got {flow_weight}")
        self.flow_weight, self.flow_reduction = float(flow_weight), flow_reduction
        self.reduce_mean, self.likelihood_weighting = reduce_mean, likelihood_weighting
        self.dims = tuple(int(d) for d in flow.in_shape)

    @property
    def kwargs(self) -> dict:
        """The keyword arguments that rebuild this model around the same sde, nets and flow."""
        return {
            "T_m": self.T_m,
            "T_m_range": None if self.T_m_range is None else list(self.T_m_range),
            "eps": self.eps,
            "flow_weight": self.flow_weight,
            "flow_reduction": self.flow_reduction,
            "reduce_mean": self.reduce_mean,
            "likelihood_weighting": self.likelihood_weighting,
        }

    # ------------------------------------------------------------------ T_m handling
    @property
    def any_T_m(self) -> bool:
        """True when one conditional flow serves every ``T_m`` in :attr:`T_m_range`."""
        return self.T_m_range is not None

    @property
    def score_fn(self):
        """The score function ``(x (B, *dims), t (B,)) -> ∇log p_t(x)`` of :attr:`score_net`."""
        return get_score_fn(self.sde, self.score_net)

    def _check_T_m(self, T_m) -> float:
        T_m = float(T_m)
        if not self.eps < T_m <= self.sde.T:
            raise ValueError(f"T_m must lie in (eps, T] = ({self.eps}, {self.sde.T}]; got {T_m}")
        if self.any_T_m:
            lo, hi = self.T_m_range
            if not lo - 1e-9 <= T_m <= hi + 1e-9:
                raise ValueError(
                    f"T_m={T_m} is outside the range this model was trained on, "
                    f"T_m_range=[{lo}, {hi}]"
                )
        return T_m

    def resolve_T_m(self, T_m: float | None) -> float:
        """``T_m`` to use: the model's own if ``None``; otherwise checked against the training.

        Raises ``ValueError`` for ``T_m`` outside ``(eps, T]``, outside ``T_m_range`` (any-T_m
        mode), or different from the one ``T_m`` a single-T_m model was trained at.
        """
        if T_m is None:
            return self.T_m
        T_m = self._check_T_m(T_m)
        if not self.any_T_m and not math.isclose(T_m, self.T_m, abs_tol=1e-9):
            raise ValueError(
                f"this DiNof was trained at T_m={self.T_m} only; its flow models "
                f"p_{{T_m}} at that time. Train with T_m_range=(lo, hi) (any-T_m mode) "
                f"to sample at T_m={T_m}"
            )
        return T_m

    def context(self, T_m: Tensor | float, batch: int) -> Tensor | None:
        """The flow's context ``(B, CONTEXT_DIM)`` for ``T_m`` (scalar or ``(B,)``); ``None`` in
        single-T_m mode."""
        if not self.any_T_m:
            return None
        ref = next(self.flow.parameters())
        T_m = torch.as_tensor(T_m, dtype=ref.dtype, device=ref.device).expand(batch)
        return tm_context(self.sde, T_m, self.T_m_range)

    def _check_x(self, x0: Tensor, what: str = "x0") -> None:
        if (
            not isinstance(x0, Tensor)
            or tuple(x0.shape[1:]) != self.dims
            or x0.dim() != len(self.dims) + 1
        ):
            got = tuple(x0.shape) if isinstance(x0, Tensor) else type(x0).__name__
            raise ValueError(
                f"{what} must have shape (B, {', '.join(map(str, self.dims))}) "
                f"to match the flow; got {got}"
            )

    # ------------------------------------------------------------------ training
    def loss(
        self, x0: Tensor, generator: torch.Generator | None = None, *, return_parts: bool = False
    ):
        """The joint DiNof loss on a minibatch ``x0 (B, *dims)`` (SPEC §4; authors' code)::

            T_m   = self.T_m, or U(lo, hi) per example (any-T_m)
            t     ~ U(eps, T_m)   (any-T_m: U(eps, hi))      # score times
            z     ~ N(0, I)                                  # one draw, shared by both terms
            x_t   = a(t) x0 + s(t) z                         # DSM input
            x_Tm  = a(T_m) x0 + s(T_m) z                     # closed-form sample of p_{T_m}
            L     = L_DSM(t, z) + w · reduce(−log p_flow(x_Tm))

        The authors draw ``t = T_m·(U(1 − eps) + eps)``; ``U(eps, T_m)`` covers the sampler's
        last time ``eps`` exactly. Returns the scalar loss, or ``(loss, {"dsm", "flow_nll"})``
        (detached floats; ``flow_nll`` in the unit ``flow_reduction`` chooses).
        """
        self._check_x(x0)
        B, dev, dt = x0.shape[0], x0.device, x0.dtype
        z = randn(x0.shape, generator, dev, dt)
        if self.any_T_m:
            lo, hi = self.T_m_range
            T_m = lo + (hi - lo) * rand((B,), generator, dev, dt)
            t_max = hi
        else:
            T_m, t_max = torch.full((B,), self.T_m, device=dev, dtype=dt), self.T_m
        t = self.eps + (t_max - self.eps) * rand((B,), generator, dev, dt)
        dsm = dsm_loss(
            self.sde,
            self.score_fn,
            x0,
            t=t,
            z=z,
            reduce_mean=self.reduce_mean,
            likelihood_weighting=self.likelihood_weighting,
        )
        a, s = self.sde.marginal_coeffs(T_m)
        x_Tm = batch_view(a, x0) * x0 + batch_view(s, x0) * z
        nll = -self.flow.log_prob(x_Tm, self.context(T_m, B))
        if self.flow_reduction == "mean":
            nll = nll / math.prod(self.dims)
        nll = nll.mean()
        total = dsm + self.flow_weight * nll
        if return_parts:
            return total, {"dsm": float(dsm.detach()), "flow_nll": float(nll.detach())}
        return total

    def forward(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``model(x0, generator)`` is :meth:`loss`: the call ``DistributedDataParallel`` wraps, so
        gradients of both networks are all-reduced across ranks."""
        return self.loss(x0, generator)

    # ------------------------------------------------------------------ sampling and likelihood
    #: ``model.sample(n, *, T_m, n_steps, predictor, corrector, snr, …)``: see :func:`dinof_sample`.
    sample = dinof_sample
    #: ``model.log_likelihood(x0, *, T_m, exact_divergence, …)``: see :func:`dinof_log_likelihood`.
    log_likelihood = dinof_log_likelihood

    def extra_repr(self) -> str:
        mode = f"T_m_range={self.T_m_range}" if self.any_T_m else f"T_m={self.T_m}"
        return (
            f"sde={self.sde.name}, {mode}, eps={self.eps}, flow_reduction={self.flow_reduction!r}"
        )


def training_loss(model: nn.Module, x0: Tensor, generator: torch.Generator) -> Tensor:
    """``Trainer`` loss function: ``model(x0, generator)``, the joint loss of a :class:`DiNof`
    (also when it is wrapped in ``DistributedDataParallel``)."""
    return model(x0, generator)
