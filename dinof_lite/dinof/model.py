"""DiNof: a diffusion model whose reverse process starts from a normalizing flow at ``T_m``.

The forward process is split at ``T_m ∈ (0, T]`` (DiNof §3.2, Eqs. 7–8): below ``T_m`` the usual
linear SDE (stochastic paths), above it a normalizing flow that maps ``x(T_m)`` to ``z ~ N(0, I)``
through its layers ``h_0 = x(T_m), …, h_M = z`` (deterministic paths)::

    model = DiNof(sde, ScoreMLP.for_sde(sde), Glow((2,), levels=1, steps=8, hidden=64), T_m=0.6)
    Trainer(model, training_loss, data, TrainConfig(...)).fit()   # one optimizer, both networks
    loss, parts = model.loss_parts(x0)     # the scalar loss and {"dsm", "flow_nll"}
    x = model.sample(2000)                 # z → flow⁻¹ → x(T_m) → PC sampler → x(sample_eps)
    s = model.sample_result(500, trajectory_every=10)   # a DiNofSample: both parts' states, NFE
    logp = model.log_likelihood(x)         # ODE train_eps → T_m, plus the flow's log-density

**On a published score network** (``train_score=False``): the score network is frozen (no
gradient, no optimizer state, no EMA in :class:`~dinof_lite.train.Trainer`; weights unchanged)
and the loss is the flow's term alone, on the same draws as the joint loss: DiNof's two terms
share no parameter, so the flow's gradients are the joint loss's (docs/design.md §DiNof loss)::

    sde, net = load_score_sde_checkpoint("checkpoint_26.pth", "cifar10_ve")
    model = DiNof(sde, net, Glow((3, 32, 32)), T_m=0.6, train_score=False)

**Any-T_m mode** (``T_m_range=(lo, hi)``): the flow is conditioned on ``T_m`` through Glow's
``context`` (features :func:`tm_context`), training draws one ``T_m ~ U(lo, hi)`` per example and
the score network is trained on ``[train_eps, hi)``; ``sample(T_m=…)`` then works for any ``T_m``
in the range without retraining, and with ``hi = T`` the same score network also runs the plain
diffusion baseline from ``p_T``. Which ``T_m`` a model accepts is its :class:`TmSpec`
(:mod:`~dinof_lite.dinof.conditioning`, with the flow's context features); what it needs of the
flow is :class:`~dinof_lite.flows.FlowPrior`.

One return type per method: ``sample`` / ``log_likelihood`` / ``loss`` return a tensor, their
``sample_result`` / ``log_likelihood_result`` / ``loss_parts`` companions the full result.
"""

from __future__ import annotations

import math
import time

import torch
from torch import Tensor, nn

from dinof_lite.data.quantize import bits_per_dim
from dinof_lite.dinof.conditioning import CONTEXT_DIM, TmSpec, tm_context
from dinof_lite.dinof.result import DiNofSample, flow_state_labels
from dinof_lite.flows.base import flow_prior_missing
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.precision import float32
from dinof_lite.sampling import LikelihoodResult, ode_log_likelihood_result, pc_sample_result
from dinof_lite.sampling.base import synchronize
from dinof_lite.sampling.fast import fast_sample_result
from dinof_lite.sde import SDE, batch_view, warn_eps_deprecated
from dinof_lite.trained_on import check_sde
from dinof_lite.utils import check_batch, rand, randn

__all__ = ["DiNof", "SOLVER_STEPS", "FLOW_REDUCTIONS", "training_loss"]

#: Default steps of a fast ODE solver from ``T_m`` (``DiNof.sample(solver=...)``).
SOLVER_STEPS = 10
#: How the flow's NLL enters the loss: nats per example (authors' code) or per dimension.
FLOW_REDUCTIONS = ("sum", "mean")


class DiNof(nn.Module):
    """A score network and a normalizing flow joined at ``T_m`` (DiNof §3.2).

    Args:
        sde: the forward SDE (VE, VP or sub-VP).
        score_net: raw network ``net(x (B, *dims), label (B,)) -> (B, *dims)``, read as a score by
            :func:`~dinof_lite.losses.get_score_fn` (ε-prediction for VP / sub-VP, σ-scaled for VE).
        flow: an ``nn.Module`` following :class:`~dinof_lite.flows.FlowPrior` (``in_shape``,
            ``context_dim``, ``log_prob``, ``inverse``, ``inverse_trajectory``, ``layer_names``,
            ``intermediate_indices``; a :class:`~dinof_lite.flows.Glow`), conditional
            (``context_dim == CONTEXT_DIM``) exactly when ``T_m_range`` is given.
        T_m: the hand-over time in ``(eps, T]`` with ``eps = max(train_eps, sample_eps)``; in
            any-T_m mode the default for :meth:`sample`.
        T_m_range: ``(lo, hi)`` with ``eps < lo < hi <= T`` for any-T_m mode, else ``None``.
        train_eps: smallest training time and the likelihood's data side (default
            ``sde.train_eps`` = 1e-5, as score_sde).
        sample_eps: the sampler's last time (default ``sde.sample_eps``: 1e-3 VP / sub-VP, 1e-5
            VE, as score_sde).
        eps: deprecated (``FutureWarning``): one number for both ``train_eps`` and
            ``sample_eps``, which, when given, take precedence. :meth:`kwargs_from_checkpoint`
            reads the ``eps`` of dinof_lite 0.2 checkpoints without it.
        flow_weight: ``w`` in ``L = L_DSM + w · NLL_flow`` (authors: 1).
        flow_reduction: ``"sum"`` — the flow's NLL in nats per example, as the authors' code —
            or ``"mean"``, nats per dimension. The two networks share no parameters, so with Adam
            the weighting acts mainly through the one gradient-norm clip over both networks: on
            images the per-example NLL (thousands of nats) dominates that norm and the clip
            shrinks the score network's steps too; per dimension keeps both terms O(1).
        reduce_mean, likelihood_weighting: passed to :func:`~dinof_lite.losses.dsm_loss`.
        train_score: train the score network with the flow (the joint loss, default), or
            freeze it (``False``: ``requires_grad`` off, kept in eval mode, the loss is the
            flow's term only): a score network trained on ``[train_eps, T]`` already, e.g. a
            published one.
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
        train_eps: float | None = None,
        sample_eps: float | None = None,
        eps: float | None = None,
        flow_weight: float = 1.0,
        flow_reduction: str = "sum",
        reduce_mean: bool | None = None,
        likelihood_weighting: bool = False,
        train_score: bool = True,
    ) -> None:
        super().__init__()
        for name, value, cls in (("sde", sde, SDE), ("score_net", score_net, nn.Module)):
            if not isinstance(value, cls):
                raise TypeError(f"{name} must be a {cls.__name__}; got {type(value).__name__}")
        is_module = isinstance(flow, nn.Module)
        missing = flow_prior_missing(flow) if is_module else []
        if missing or not is_module:
            raise TypeError(
                "flow must be a flow module following dinof_lite.flows.FlowPrior (e.g. "
                f"dinof_lite.flows.Glow); {type(flow).__name__} "
                + (f"lacks {', '.join(missing)}" if is_module else "is not an nn.Module")
            )
        check_sde(sde, score_net, where="DiNof")  # a loaded network's own SDE (trained_on.py)
        if eps is not None:
            warn_eps_deprecated("DiNof(eps=...)", "train_eps and sample_eps")
        self.sde, self.score_net, self.flow = sde, score_net, flow
        defaults = {"train_eps": sde.train_eps, "sample_eps": sde.sample_eps}
        given = {"train_eps": train_eps, "sample_eps": sample_eps}
        for key, value in given.items():
            value = value if value is not None else eps if eps is not None else defaults[key]
            if not (isinstance(value, (int, float)) and 0 < value < sde.T):
                what = key if given[key] is not None or eps is None else "eps"
                raise ValueError(
                    f"{what} must be a number in (0, T = {sde.T}); got {value!r}. Leave it None "
                    f"for the SDE's default {defaults[key]}"
                )
            setattr(self, key, float(value))
        eps_floor = max(self.train_eps, self.sample_eps)
        self.tm_spec = TmSpec.build(T_m, T_m_range, eps=eps_floor, T=sde.T)
        want, got = (CONTEXT_DIM if self.any_T_m else 0), int(flow.context_dim)
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
        if not isinstance(train_score, bool):
            raise TypeError(f"train_score must be True or False; got {train_score!r}")
        self.train_score = train_score
        if not train_score:
            score_net.requires_grad_(False).eval()

    def train(self, mode: bool = True) -> DiNof:
        """``nn.Module.train``; a frozen score network (``train_score=False``) stays in eval
        mode (no dropout), as it was when it was trained."""
        super().train(mode)
        if not self.train_score:
            self.score_net.eval()
        return self

    @property
    def kwargs(self) -> dict:
        """The keyword arguments that rebuild this model around the same sde, nets and flow."""
        return {
            "T_m": self.T_m,
            "T_m_range": None if self.T_m_range is None else list(self.T_m_range),
            "train_eps": self.train_eps,
            "sample_eps": self.sample_eps,
            "flow_weight": self.flow_weight,
            "flow_reduction": self.flow_reduction,
            "reduce_mean": self.reduce_mean,
            "likelihood_weighting": self.likelihood_weighting,
            "train_score": self.train_score,
        }

    @staticmethod
    def kwargs_from_checkpoint(stored: dict) -> dict:
        """:attr:`kwargs` as a checkpoint stored them, for ``DiNof(sde, net, flow, **…)``: the
        single ``eps`` of dinof_lite 0.2 files becomes ``train_eps`` and ``sample_eps``."""
        kwargs = dict(stored)
        if "eps" in kwargs:
            eps = kwargs.pop("eps")
            kwargs.setdefault("train_eps", eps)
            kwargs.setdefault("sample_eps", eps)
        return kwargs

    @property
    def eps(self) -> float:
        """Deprecated (``FutureWarning``): :attr:`sample_eps`, the sampler's last time; training
        and likelihoods start at :attr:`train_eps`."""
        warn_eps_deprecated("DiNof.eps", "sample_eps")
        return self.sample_eps

    # ------------------------------------------------------------------ T_m
    @property
    def T_m(self) -> float:
        """The model's own hand-over time (any-T_m: the default of :meth:`sample`)."""
        return self.tm_spec.T_m

    @property
    def T_m_range(self) -> tuple[float, float] | None:
        """``(lo, hi)`` of an any-T_m model, ``None`` for a single-T_m one."""
        return self.tm_spec.T_m_range

    @property
    def any_T_m(self) -> bool:
        """True when one conditional flow serves every ``T_m`` in :attr:`T_m_range`."""
        return self.tm_spec.any_T_m

    def resolve_T_m(self, T_m: float | Tensor | None) -> float:
        """``T_m`` to use: the model's own if ``None``; otherwise checked against the training
        (``ValueError`` outside ``(eps, T]``, outside ``T_m_range``, or, single-T_m, different
        from :attr:`T_m`); see :meth:`TmSpec.resolve`."""
        return self.tm_spec.resolve(T_m)

    def context(self, T_m: Tensor | float, batch: int) -> Tensor | None:
        """The flow's context ``(B, CONTEXT_DIM)`` for ``T_m`` (scalar or ``(B,)``):
        :func:`tm_context`; ``None`` in single-T_m mode."""
        if not self.any_T_m:
            return None
        ref = next(self.flow.parameters())
        T_m = torch.as_tensor(T_m, dtype=ref.dtype, device=ref.device).expand(batch)
        return tm_context(self.sde, T_m, self.T_m_range)

    @property
    def score_fn(self):
        """The score function ``(x (B, *dims), t (B,)) -> ∇log p_t(x)`` of :attr:`score_net`."""
        return get_score_fn(self.sde, self.score_net)

    def check_x(self, x0: Tensor, what: str = "x0") -> None:
        """Raise unless ``x0`` is a non-empty, finite tensor ``(B, *dims)`` of the flow's dtype
        (``ValueError``; ``TypeError`` for the dtype)."""
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
        dtype = next(self.flow.parameters()).dtype
        if not x0.is_floating_point():
            raise TypeError(
                f"{what} must be a floating-point tensor ({dtype}, like the model); got "
                f"{x0.dtype}: scale 8-bit images with {what}.to({dtype}) / 255 or use the data "
                "loaders' float output"
            )
        if x0.dtype != dtype:
            raise TypeError(
                f"{what} is {x0.dtype} but the model's parameters are {dtype}; convert one of "
                f"them ({what}.to({dtype}) or model.to({x0.dtype}))"
            )
        check_batch(x0, what, "DiNof")

    # ------------------------------------------------------------------ training
    def _loss_terms(
        self, x0: Tensor, generator: torch.Generator | None
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        """``(total, dsm, flow_nll)`` on ``x0 (B, *dims)``, scalars with gradients (DiNof Eqs. 3
        and 8; the authors' code: one optimizer, both networks)::

            T_m   = self.T_m, or U(lo, hi) per example (any-T_m)
            t     ~ U(train_eps, T_m)   (any-T_m: U(train_eps, hi))   # score times
            z     ~ N(0, I)                                  # one draw, shared by both terms
            x_t   = a(t) x0 + s(t) z                         # DSM input (Song et al. 2021, Eq. 7)
            x_Tm  = a(T_m) x0 + s(T_m) z                     # closed-form sample of p_{T_m}
            L     = L_DSM(t, z) + w · reduce(−log p_flow(x_Tm))

        ``L_DSM`` is :func:`~dinof_lite.losses.dsm_loss` (mean or half sum over dimensions),
        ``reduce`` the ``flow_reduction`` and ``w`` the ``flow_weight``. The flow sees ``x(T_m)``
        at ``T_m`` exactly, the time the sampler starts from. The authors draw ``t = T_m·(U(1 −
        eps) + eps)`` and evaluate the flow at ``t_f = T_m·(1 − eps) + eps`` (``T_m + 1e-5·(1 −
        T_m)``); here ``t ~ U(train_eps, T_m)`` and ``t_f = T_m``.

        With ``train_score=False`` the score network is not evaluated: ``dsm`` is ``None`` and
        ``L = w · reduce(−log p_flow(x_Tm))``, drawn exactly as above (``t`` too, unused), so
        the flow sees the joint loss's ``x_Tm`` and gets the joint loss's gradient.
        """
        self.check_x(x0)
        B, dev, dt = x0.shape[0], x0.device, x0.dtype
        z = randn(x0.shape, generator, dev, dt)
        T_m, t_max = self.tm_spec.draw(B, generator, dev, dt)
        eps = self.train_eps
        t = eps + (t_max - eps) * rand((B,), generator, dev, dt)
        dsm = None
        if self.train_score:
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
        flow_term = self.flow_weight * nll
        return (flow_term if dsm is None else dsm + flow_term), dsm, nll

    def loss(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        r"""The joint DiNof loss (a scalar) on a minibatch ``x0 (B, *dims)``: denoising score
        matching below ``T_m`` plus the flow's NLL at ``T_m`` (DiNof Eqs. 3 and 8), with one
        draw of :math:`z` shared by both terms,

        .. math::

            \mathcal{L}(\theta, \phi) =
            \mathbb{E}_{t \sim U(\varepsilon, T_m),\; z \sim \mathcal{N}(0, I)}
            \Bigl[\, s(t)^2 \,\bigl\lVert s_\theta(x_t, t) + z / s(t) \bigr\rVert^2 \Bigr]
            + w\, \mathbb{E}_z\bigl[-\log p_\phi\bigl(x(T_m)\bigr)\bigr],
            \qquad x_t = a(t)\, x_0 + s(t)\, z,

        with :math:`\varepsilon` = ``train_eps``, up to the reduction over dimensions
        (:func:`~dinof_lite.losses.dsm_loss`: the mean, or half the sum) and the flow's
        (``flow_reduction``); :math:`w` is ``flow_weight`` (the authors': 1). With
        ``train_score=False``, the second term alone (same draws).
        """
        return self._loss_terms(x0, generator)[0]

    def loss_parts(
        self, x0: Tensor, generator: torch.Generator | None = None
    ) -> tuple[Tensor, dict[str, float]]:
        """``(loss, {"dsm", "flow_nll"})``: :meth:`loss` (same draws from ``generator``, same
        number) and its two terms as detached floats (``flow_nll`` in the unit
        ``flow_reduction`` chooses; ``dsm`` is NaN with ``train_score=False``: not computed)."""
        total, dsm, nll = self._loss_terms(x0, generator)
        dsm_value = math.nan if dsm is None else float(dsm.detach())
        return total, {"dsm": dsm_value, "flow_nll": float(nll.detach())}

    def forward(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """``model(x0, generator)`` is :meth:`loss`: the call ``DistributedDataParallel`` wraps, so
        gradients of both networks are all-reduced across ranks."""
        return self.loss(x0, generator)

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample_result(
        self,
        n: int,
        *,
        T_m: float | None = None,
        n_steps: int | None = None,
        predictor: str | None = None,
        corrector: str | None = None,
        solver: str | None = None,
        snr: float = 0.16,
        n_corrector_steps: int = 1,
        temperature: float = 1.0,
        denoise: bool = True,
        generator: torch.Generator | None = None,
        trajectory_every: int | None = None,
        flow_every: int = 1,
        progress: bool = False,
    ) -> DiNofSample:
        """Draw ``n`` DiNof samples (DiNof §3.2): ``z ~ N(0, I)`` → ``x(T_m) = flow⁻¹(z)`` (DiNof
        Eq. 8 read backwards) → predictor–corrector sampler (Song et al. 2021, Alg. 1) from
        ``T_m`` down to ``sample_eps`` in ``round(N·T_m/T)`` steps, saving a fraction ``1 − T_m`` of
        the plain sampler's network evaluations.

        Args:
            n: number of samples.
            T_m: hand-over time (default ``self.T_m``); any value in ``T_m_range`` for an
                any-T_m model.
            n_steps: reverse-SDE steps from ``T_m`` to ``sample_eps`` (default ``round(N·T_m/T)``; with
                a ``solver``, its steps, default :data:`SOLVER_STEPS`).
            predictor, corrector: registry names; default per SDE (``sde.default_pc``).
            solver: a fast probability-flow ODE solver of
                :data:`~dinof_lite.sampling.solvers.ODE_SOLVERS` (e.g. ``"dpm_solver_pp_2m"``)
                in place of the PC sampler, started at ``T_m`` from the flow's sample; then
                ``predictor``, ``corrector``, ``snr``, ``n_corrector_steps`` and ``denoise`` are
                not used (the ODE is deterministic given ``z``).
            snr, n_corrector_steps: Langevin corrector settings (paper: 0.16 CIFAR-10, 0.17
                CelebA-HQ).
            temperature: scales ``z`` (1 in the paper).
            denoise: return the last predictor mean (no noise at the last step).
            generator: the source of all noise (latent, predictor, corrector): same seed, same
                samples.
            trajectory_every: record both parts (the result's ``flow_states`` and
                ``sde_states``), keeping every ``trajectory_every``-th SDE step and every
                ``flow_every``-th flow layer, so memory stays bounded on images; None (default):
                no trajectory. The samples are the same either way. With a ``solver`` every
                solver step is recorded.
            progress: a ``tqdm.auto`` bar over the SDE steps.

        Returns:
            A :class:`~dinof_lite.dinof.result.DiNofSample` (samples, ``x_Tm``, ``z``, NFE,
            timings, and the states when ``trajectory_every`` is given).
        """
        T_m = self.resolve_T_m(T_m)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1; got {n!r}")
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0; got {temperature}")
        if n_steps is None:
            n_steps = SOLVER_STEPS if solver else self.sde.n_steps_from(T_m)
        default_pred, default_corr = self.sde.default_pc
        ref = next(self.flow.parameters())
        z = temperature * randn((n, *self.dims), generator, ref.device, ref.dtype)

        t0 = time.perf_counter()
        ctx = self.context(T_m, n)
        flow_states = flow_layers = None
        if trajectory_every is not None:
            states = self.flow.inverse_trajectory(z, ctx, every=flow_every)
            x_Tm, flow_states = states[-1], torch.stack(states)
            flow_layers = flow_state_labels(self.flow, flow_every)
        else:
            x_Tm = self.flow.inverse(z, ctx)
        synchronize(ref.device)
        t1 = time.perf_counter()
        if not torch.isfinite(x_Tm).all():
            raise FloatingPointError(
                f"the flow's inverse produced NaN/inf at T_m={T_m} (an untrained "
                "or diverged flow); try a lower temperature"
            )
        if solver:
            res = fast_sample_result(
                self.sde,
                self.score_fn,
                x_Tm,
                solver=solver,
                n_steps=n_steps,
                t_start=T_m,
                eps=self.sample_eps,
                trajectory=trajectory_every is not None,
            )
        else:
            res = pc_sample_result(
                self.sde,
                self.score_fn,
                x_Tm,
                t_start=T_m,
                n_steps=n_steps,
                predictor=predictor or default_pred,
                corrector=corrector or default_corr,
                snr=snr,
                n_corrector_steps=n_corrector_steps,
                eps=self.sample_eps,
                denoise=denoise,
                trajectory_every=trajectory_every,
                generator=generator,
                progress=progress,
            )
        synchronize(ref.device)
        return DiNofSample(
            x=res.x,
            x_Tm=x_Tm,
            z=z,
            T_m=T_m,
            n_steps=int(n_steps),
            nfe=res.nfe,
            n_flow_layers=len(self.flow.layer_names()),
            flow_states=flow_states,
            flow_layers=flow_layers,
            sde_states=res.trajectory,
            sde_times=res.times,
            flow_time_s=t1 - t0,
            sde_time_s=time.perf_counter() - t1,
        )

    def sample(
        self,
        n: int,
        *,
        T_m: float | None = None,
        n_steps: int | None = None,
        predictor: str | None = None,
        corrector: str | None = None,
        solver: str | None = None,
        snr: float = 0.16,
        n_corrector_steps: int = 1,
        temperature: float = 1.0,
        denoise: bool = True,
        generator: torch.Generator | None = None,
        progress: bool = False,
    ) -> Tensor:
        """``n`` samples ``x(sample_eps)`` ``(n, *dims)``: :meth:`sample_result`'s ``x`` (same
        arguments, same numbers; no trajectory)."""
        return self.sample_result(
            n,
            T_m=T_m,
            n_steps=n_steps,
            predictor=predictor,
            corrector=corrector,
            solver=solver,
            snr=snr,
            n_corrector_steps=n_corrector_steps,
            temperature=temperature,
            denoise=denoise,
            generator=generator,
            progress=progress,
        ).x

    # ------------------------------------------------------------------ likelihood
    @float32  # likelihoods always in float32 (docs/design.md §Precision policy)
    def log_likelihood_result(
        self,
        x0: Tensor,
        *,
        T_m: float | None = None,
        exact_divergence: bool | None = None,
        n_probes: int = 1,
        rtol: float = 1e-5,
        atol: float = 1e-5,
        method: str = "dopri5",
        generator: torch.Generator | None = None,
    ) -> LikelihoodResult:
        """DiNof's exact ``log p_eps(x0)`` with its parts (``eps = train_eps``, 1e-5 by default,
        as score_sde's likelihoods): the probability-flow ODE from ``eps`` up to ``T_m`` (Song
        et al. 2021, Eq. 39), then the flow's exact density (Glow Eq. 3)::

            log p_eps(x) = log p_flow(x(T_m)) + ∫_eps^{T_m} div f̃(x(t), t) dt

        (the authors' code never computes it; the two parts compose by the change of variables).

        Args:
            x0: (B, *dims) data points (continuous; dequantise discrete data first).
            T_m: hand-over time (default ``self.T_m``; any value of the range for any-T_m
                models).
            exact_divergence: exact divergence (default when ``prod(dims) <= 16``) or
                Hutchinson's estimate with ``n_probes`` Rademacher probes drawn from ``generator``.
            rtol, atol, method: ``torchdiffeq`` solver settings.

        Returns:
            A :class:`~dinof_lite.sampling.LikelihoodResult`: ``logp`` (B,) in nats, ``latent``
            ``x(T_m)``, ``prior_logp`` the flow's part and ``delta_logp`` the ODE's, ``nfe``.
        """
        T_m = self.resolve_T_m(T_m)
        self.check_x(x0)
        ctx = self.context(T_m, x0.shape[0])

        def flow_logp(h: Tensor) -> Tensor:
            return self.flow.log_prob(h, ctx)

        return ode_log_likelihood_result(
            self.sde,
            self.score_fn,
            x0,
            t_start=self.train_eps,
            t_end=T_m,
            prior_logp=flow_logp,
            exact_divergence=exact_divergence,
            n_probes=n_probes,
            rtol=rtol,
            atol=atol,
            method=method,
            generator=generator,
        )

    def log_likelihood(
        self,
        x0: Tensor,
        *,
        T_m: float | None = None,
        exact_divergence: bool | None = None,
        n_probes: int = 1,
        rtol: float = 1e-5,
        atol: float = 1e-5,
        method: str = "dopri5",
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """``log p(x0)`` ``(B,)`` in nats (``log p_eps``): :meth:`log_likelihood_result`'s
        ``logp``, same arguments."""
        return self.log_likelihood_result(
            x0,
            T_m=T_m,
            exact_divergence=exact_divergence,
            n_probes=n_probes,
            rtol=rtol,
            atol=atol,
            method=method,
            generator=generator,
        ).logp

    def bits_per_dim(
        self,
        x: Tensor,
        *,
        n_bins: int = 256,
        data_range: tuple[float, float] = (0.0, 1.0),
        **kwargs,
    ) -> Tensor:
        """Bits per dimension ``(B,)`` of already dequantised data ``x``:
        ``−log p / (D ln 2) + log2(n_bins) − log2(hi − lo)``; ``kwargs`` as in
        :meth:`log_likelihood`."""
        logp = self.log_likelihood(x, **kwargs)
        return bits_per_dim(logp, x[0].numel(), n_bins=n_bins, data_range=data_range)

    def extra_repr(self) -> str:
        mode = f"T_m_range={self.T_m_range}" if self.any_T_m else f"T_m={self.T_m}"
        frozen = "" if self.train_score else ", train_score=False"
        return (
            f"sde={self.sde.name}, {mode}, train_eps={self.train_eps}, "
            f"sample_eps={self.sample_eps}, flow_reduction={self.flow_reduction!r}{frozen}"
        )


def training_loss(model: nn.Module, x0: Tensor, generator: torch.Generator) -> Tensor:
    """``Trainer`` loss function: ``model(x0, generator)``, the joint loss of a :class:`DiNof`
    (also when it is wrapped in ``DistributedDataParallel``)."""
    return model(x0, generator)
