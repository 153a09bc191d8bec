"""Glow (Kingma & Dhariwal 2018): a multi-scale flow for vectors ``(D,)`` and images ``(C, H, W)``.

Data → latent, level by level (Kingma & Dhariwal 2018, Fig. 2 and Table 1)::

    x ─squeeze─▶ [ActNorm → InvConv → AffineCoupling] × K ─split─▶ squeeze ─▶ … ─▶ top prior ─▶ z
                                                            └──▶ z₁ (standardised half)

Vectors skip the squeezes. Every latent is standardised by its learned Gaussian prior (see
:mod:`~dinof_lite.flows.priors`), and the pieces are put back in the input's layout by undoing
the squeezes, so ``z`` has the shape of ``x`` and is ``N(0, I)`` under the model:

    log p(x) = log N(z; 0, I) + Σ_layers log|det ∂h_l/∂h_{l−1}|          (change of variables)

This is the deterministic half of DiNof: ``h_0 = x(T_m), h_1, …, h_M = z`` (DiNof Eq. 8).
``flow(x, context) -> (z, logdet)`` and ``flow.inverse(z, context) -> x`` always return just
that; ``flow.trajectory(x)`` (data → latent) and ``flow.inverse_trajectory(z)`` (latent → data)
return the states in between, each in the input's layout, for drawing the flow layer by layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from dinof_lite.data.quantize import bits_per_dim, dequantize
from dinof_lite.flows.actnorm import ActNorm
from dinof_lite.flows.base import FlowLayer
from dinof_lite.flows.coupling import AffineCoupling
from dinof_lite.flows.invconv import InvConv
from dinof_lite.flows.priors import GaussianPrior, Split
from dinof_lite.flows.squeeze import squeeze, unsqueeze
from dinof_lite.precision import float32
from dinof_lite.trained_on import check_data_range
from dinof_lite.utils import check_batch, randn

__all__ = ["FlowStep", "Glow"]


class FlowStep(FlowLayer):
    """One step of flow: ActNorm → invertible 1×1 conv (linear map for vectors) → affine coupling.

    ``forward(x, context) -> (y, logdet (B,))``; ``inverse(y, context) -> (x, −logdet)``.
    """

    def __init__(
        self,
        num_channels: int,
        hidden: int,
        *,
        image: bool,
        context_dim: int = 0,
        clamp: float = 6.0,
    ) -> None:
        super().__init__()
        self.actnorm = ActNorm(num_channels)
        self.invconv = InvConv(num_channels)
        self.coupling = AffineCoupling(
            num_channels, hidden, image=image, context_dim=context_dim, clamp=clamp
        )

    def named_sublayers(self) -> list[tuple[str, nn.Module]]:
        """``[(name, layer)]`` in the order ``forward`` applies them: actnorm, invconv,
        coupling (the order they are registered in)."""
        return list(self.named_children())

    @property
    def sublayers(self) -> tuple[nn.Module, ...]:
        """The three layers in the order ``forward`` applies them."""
        return tuple(layer for _, layer in self.named_sublayers())

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        logdet = x.new_zeros(x.shape[0])
        for layer in self.sublayers:
            x, ld = layer(x, context)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        logdet = y.new_zeros(y.shape[0])
        for layer in reversed(self.sublayers):
            y, ld = layer.inverse(y, context)
            logdet = logdet + ld
        return y, logdet


class Glow(nn.Module):
    """A Glow flow ``x (B, *in_shape) ↔ z (B, *in_shape)``, ``z ~ N(0, I)`` under the model.

    Args:
        in_shape: ``(D,)`` for vectors (MLP couplings, no squeeze) or ``(C, H, W)`` for images
            (H and W divisible by ``2**levels``).
        levels: ``L``, number of scales; each but the last ends by factoring out half the channels.
        steps: ``K``, flow steps per level.
        hidden: width of every coupling network.
        context_dim: size of an optional context vector seen by every coupling and prior
            (DiNof conditions one flow on ``T_m`` this way); 0 for an unconditional flow.
        clamp: soft bound on the couplings' raw log-scales and on the priors' log-std.

    Example (the DiNof paper's flow, 7.8M parameters)::

        flow = Glow.paper()                        # (3, 32, 32), L=3, K=16, hidden=256
        z, logdet = flow(x)                        # x (B, 3, 32, 32) -> z (B, 3, 32, 32), (B,)
        x_again = flow.inverse(z)
    """

    def __init__(
        self,
        in_shape: Sequence[int],
        levels: int = 3,
        steps: int = 16,
        hidden: int = 256,
        *,
        context_dim: int = 0,
        clamp: float = 6.0,
    ) -> None:
        super().__init__()
        in_shape = tuple(int(s) for s in in_shape)
        if len(in_shape) not in (1, 3) or min(in_shape) < 1:
            raise ValueError(
                f"in_shape must be (D,) or (C, H, W) with positive sizes, got {in_shape}"
            )
        for name, v in (("levels", levels), ("steps", steps), ("hidden", hidden)):
            if int(v) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {v}")
        if context_dim < 0:
            raise ValueError(f"context_dim must be ≥ 0, got {context_dim}")
        self.in_shape, self.image = in_shape, len(in_shape) == 3
        self.n_levels, self.n_steps, self.hidden = int(levels), int(steps), int(hidden)
        self.context_dim, self.clamp = int(context_dim), float(clamp)
        channels = self._level_channels()
        kw = {"image": self.image, "context_dim": self.context_dim, "clamp": self.clamp}
        self.flows = nn.ModuleList(
            nn.ModuleList(FlowStep(c, self.hidden, **kw) for _ in range(self.n_steps))
            for c in channels
        )
        self.splits = nn.ModuleList(Split(c, **kw) for c in channels[:-1])
        self.top = GaussianPrior(channels[-1], **kw)

    # ------------------------------------------------------------------ structure

    def _level_channels(self) -> list[int]:
        """Channels seen by the flow steps of each level (after that level's squeeze)."""
        if self.image:
            c, h, w = self.in_shape
            if h % 2**self.n_levels or w % 2**self.n_levels:
                raise ValueError(
                    f"image Glow with levels={self.n_levels} needs height and width "
                    f"divisible by {2**self.n_levels}, got in_shape={self.in_shape}"
                )
            channels = [4 * c]
            for _ in range(self.n_levels - 1):
                channels.append(4 * (channels[-1] - channels[-1] // 2))
            return channels
        channels = [self.in_shape[0]]
        for _ in range(self.n_levels - 1):
            channels.append(channels[-1] - channels[-1] // 2)
        if channels[-1] < 2:
            raise ValueError(
                f"vector Glow on in_shape={self.in_shape} with levels={self.n_levels} "
                f"leaves {channels[-1]} feature(s) at the last level; couplings need "
                f"≥ 2 (use fewer levels)"
            )
        return channels

    @property
    def kwargs(self) -> dict:
        """Constructor arguments: ``Glow(**flow.kwargs)`` builds the same architecture."""
        return {
            "in_shape": list(self.in_shape),
            "levels": self.n_levels,
            "steps": self.n_steps,
            "hidden": self.hidden,
            "context_dim": self.context_dim,
            "clamp": self.clamp,
        }

    @classmethod
    def paper(cls, in_shape: Sequence[int] = (3, 32, 32), context_dim: int = 0) -> Glow:
        """The DiNof paper's flow: L = 3 levels, K = 16 steps, 256 hidden channels (§5)."""
        return cls(in_shape, levels=3, steps=16, hidden=256, context_dim=context_dim)

    @property
    def dim(self) -> int:
        """Dimensions per example, ``D = prod(in_shape)``."""
        return math.prod(self.in_shape)

    def num_parameters(self) -> int:
        """Number of scalars in the parameters (frozen ones too, e.g. an EMA copy's)."""
        return sum(p.numel() for p in self.parameters())

    def layer_names(self) -> list[str]:
        """Names of the states a traced ``forward`` records after ``x`` (data → latent order):
        ``"L{j}.K{k}.{sublayer}"`` for each flow step's sublayers (their attribute names),
        ``"L{j}.split"`` for each split and ``"prior"`` for the top prior; ``M`` names in all."""
        names = []
        for j, level in enumerate(self.flows, start=1):
            for k, step in enumerate(level, start=1):
                names += [f"L{j}.K{k}.{name}" for name, _ in step.named_sublayers()]
            names.append(f"L{j}.split" if j <= len(self.splits) else "prior")
        return names

    # ------------------------------------------------------------------ checks and layout

    def _check_x(self, x: Tensor, what: str) -> tuple[float, float]:
        """Type, shape, dtype and finiteness of ``x``, in one pass over it; returns its
        ``(min, max)`` (:func:`~dinof_lite.utils.check_batch`)."""
        expected = "(B, " + ", ".join(map(str, self.in_shape)) + ")"
        if not isinstance(x, Tensor):
            raise TypeError(
                f"Glow expects {what} as a tensor of shape {expected}, got {type(x).__name__}"
            )
        if tuple(x.shape[1:]) != self.in_shape or x.dim() != len(self.in_shape) + 1:
            raise ValueError(f"Glow expects {what} of shape {expected}, got {tuple(x.shape)}")
        dtype = next(self.parameters()).dtype
        if not x.is_floating_point():
            raise TypeError(
                f"Glow expects a floating {what} of shape {expected}, got {x.dtype}; "
                f"scale 8-bit images with x.float() / 255"
            )
        if x.dtype != dtype:
            raise TypeError(
                f"{what} is {x.dtype} but the flow's parameters are {dtype}; "
                f"convert one of them (x.to({dtype}) or flow.to({x.dtype}))"
            )
        return check_batch(x, what, "Glow")

    def _check_context(self, context: Tensor | None, batch: int) -> Tensor | None:
        if self.context_dim == 0:
            if context is not None:
                raise ValueError("this Glow was built with context_dim=0 and takes no context")
            return None
        if context is None:
            raise ValueError(
                f"this Glow is conditional: pass context of shape "
                f"(B, {self.context_dim}) or ({self.context_dim},)"
            )
        ref = next(self.parameters())
        context = torch.as_tensor(context, dtype=ref.dtype, device=ref.device)
        if context.shape == (self.context_dim,):
            context = context.expand(batch, -1)
        if tuple(context.shape) != (batch, self.context_dim):
            raise ValueError(
                f"context must have shape ({batch}, {self.context_dim}) or "
                f"({self.context_dim},), got {tuple(context.shape)}"
            )
        return context

    def _assemble(self, h: Tensor, zs: list[Tensor]) -> Tensor:
        """Current level state + factored-out latents → one tensor in the input's layout."""
        for z in reversed(zs):
            h = torch.cat([unsqueeze(h) if self.image else h, z], dim=1)
        return unsqueeze(h) if self.image else h

    def _disassemble(self, z: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Inverse of :meth:`_assemble` for the final latent: (top-level state, [z_1, …])."""
        h, zs = (squeeze(z) if self.image else z), []
        for split in self.splits:
            zs.append(h[:, split.n_keep :])
            h = squeeze(h[:, : split.n_keep]) if self.image else h[:, : split.n_keep]
        return h, zs

    # ------------------------------------------------------------------ the bijection

    @float32  # the bijection and its log-dets never run in bf16 (docs/design.md §Precision policy)
    def _run_forward(
        self,
        x: Tensor,
        context: Tensor | None,
        states: list[Tensor] | None,
        every: int = 1,
        checked: bool = False,
    ) -> tuple[Tensor, Tensor]:
        """Data → latent; appends the state after every ``every``-th layer to ``states``.
        ``checked``: the caller has run :meth:`_check_x` on ``x`` already."""
        if not checked:
            self._check_x(x, "x")
        ctx = self._check_context(context, x.shape[0])
        logdet = x.new_zeros(x.shape[0])
        if states is not None:
            states.append(x.detach())
        done = 0  # layers applied so far

        def record() -> None:
            if states is not None and done % every == 0:
                states.append(self._assemble(h, zs).detach())

        h, zs = (squeeze(x) if self.image else x), []
        for j, level in enumerate(self.flows):
            for step in level:
                for layer in step.sublayers:
                    h, ld = layer(h, ctx)
                    logdet = logdet + ld
                    done += 1
                    record()
            if j < len(self.splits):
                h, z_j, ld = self.splits[j](h, ctx)
                zs.append(z_j)
                logdet = logdet + ld
                h = squeeze(h) if self.image else h
                done += 1
                record()
        h, ld = self.top(h, ctx)
        z = self._assemble(h, zs)
        if states is not None:
            states.append(z.detach())
        return z, logdet + ld

    @float32
    def _run_inverse(
        self,
        z: Tensor,
        context: Tensor | None,
        states: list[Tensor] | None,
        every: int = 1,
        checked: bool = False,
    ) -> Tensor:
        """Latent → data; appends the state after every ``every``-th inverted layer to ``states``.
        ``checked``: ``z`` is known to be valid (drawn by :meth:`sample_latent`)."""
        if not checked:
            self._check_x(z, "z")
        ctx = self._check_context(context, z.shape[0])
        h, zs = self._disassemble(z)
        if states is not None:
            states.append(z.detach())
        done = 0  # inverted layers so far

        def record() -> None:
            if states is not None and done % every == 0:
                states.append(self._assemble(h, zs).detach())

        h, _ = self.top.inverse(h, ctx)
        for j in reversed(range(self.n_levels)):
            if j < len(self.splits):
                h, _ = self.splits[j].inverse(unsqueeze(h) if self.image else h, zs.pop(), ctx)
            done += 1
            record()
            for step in reversed(self.flows[j]):
                for layer in reversed(step.sublayers):
                    h, _ = layer.inverse(h, ctx)
                    done += 1
                    record()
        x = unsqueeze(h) if self.image else h
        if states is not None and done % every:
            states.append(x.detach())
        return x

    def forward(self, x: Tensor, context: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data → latent. ``x (B, *in_shape)`` → ``(z (B, *in_shape), logdet (B,))``.

        ``logdet = Σ_layers log|det ∂h_l/∂h_{l−1}|`` (Glow Eq. 3); :meth:`trajectory` gives the
        states ``h_0 … h_M`` in between.
        """
        return self._run_forward(x, context, None)

    def inverse(self, z: Tensor, context: Tensor | None = None) -> Tensor:
        """Latent → data. ``z (B, *in_shape)`` → ``x (B, *in_shape)``; :meth:`inverse_trajectory`
        gives the states in between."""
        return self._run_inverse(z, context, None)

    @staticmethod
    def _check_every(every: int) -> int:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an integer ≥ 1, got {every!r}")
        return every

    @torch.no_grad()
    def trajectory(self, x: Tensor, context: Tensor | None = None, every: int = 1) -> list[Tensor]:
        """The forward pass's states ``[x = h_0, h_1, …, h_M = z]`` (DiNof Eq. 8), data → latent.

        One detached state per layer of :meth:`layer_names`, each in the input's layout; with
        ``every = k`` only the states after every k-th layer (plus ``x`` and ``z``). The first
        state is ``x``, the last equals ``flow(x, context)[0]``.
        """
        states: list[Tensor] = []
        self._run_forward(x, context, states, self._check_every(every))
        return states

    @torch.no_grad()
    def inverse_trajectory(
        self, z: Tensor, context: Tensor | None = None, every: int = 1
    ) -> list[Tensor]:
        """The inverse pass's states ``[z, …, x]``, latent → data (sampling order).

        The forward states of :meth:`trajectory` in reverse. ``every = k`` keeps only the states
        after every k-th inverted layer (plus ``z`` and ``x``), so only those are ever stored: the
        recorded indices are :meth:`intermediate_indices` ``(k)``. The last state equals
        ``flow.inverse(z, context)``.
        """
        states: list[Tensor] = []
        self._run_inverse(z, context, states, self._check_every(every))
        return states

    def intermediate_indices(self, every: int = 1) -> list[int]:
        """Which sampling-order states ``inverse_trajectory(z, every=every)`` records (0 = ``z``,
        M = ``x``).

        ``M = len(layer_names())``; state ``i`` (0 < i < M) is the output of inverting layer
        ``layer_names()[M − i]``.
        """
        m = len(self.layer_names())
        return sorted({0, m, *range(every, m, every)})

    # ------------------------------------------------------------------ densities and samples

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """``log p(x)`` in nats, ``(B,)`` (change of variables, Glow Eq. 3); ``x`` far outside
        the data range a loaded flow was trained on is refused (:mod:`dinof_lite.trained_on`)."""
        extrema = self._check_x(x, "x")  # one pass over x for both checks
        check_data_range(self, x, "x", "Glow.log_prob", extrema)
        z, logdet = self._run_forward(x, context, None, checked=True)
        log_normal = -0.5 * z.pow(2).flatten(1).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)
        return log_normal + logdet

    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        context: Tensor | None = None,
    ) -> Tensor:
        """``n`` samples ``(n, *in_shape)``: ``inverse(T·ε)``, ``ε ~ N(0, I)`` (Glow §5, temperature T).

        ``context`` is ``(n, context_dim)`` or one ``(context_dim,)`` vector for all samples.
        The states of one sample's path: ``inverse_trajectory(latent)`` for a latent drawn as
        :meth:`sample_latent` does.
        """
        z = self.sample_latent(n, temperature, generator)  # finite: drawn here, T checked
        x = self._run_inverse(z, context, None, checked=True)
        if not torch.isfinite(x).all():
            raise FloatingPointError(
                f"Glow.sample produced NaN/inf at temperature={temperature} (an untrained or "
                "diverged flow, or a temperature far above 1); try a temperature of at most 1"
            )
        return x

    def sample_latent(
        self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """The latent :meth:`sample` maps to data: ``T·ε``, ``ε ~ N(0, I)``, ``(n, *in_shape)``."""
        if int(n) < 1:
            raise ValueError(f"n must be ≥ 1, got {n}")
        if not 0 <= temperature < math.inf:
            raise ValueError(f"temperature must be a finite number ≥ 0, got {temperature}")
        ref = next(self.parameters())
        eps = randn((int(n), *self.in_shape), generator, device=ref.device, dtype=ref.dtype)
        return temperature * eps

    def bits_per_dim(
        self,
        x: Tensor,
        *,
        n_bins: int = 256,
        data_range: tuple[float, float] = (0.0, 1.0),
        dequantize_data: bool = True,
        generator: torch.Generator | None = None,
        context: Tensor | None = None,
    ) -> Tensor:
        """Bits per dimension ``(B,)`` of discrete data ``x`` (docs/design.md §Bits per dimension).

        Args:
            x: ``(B, *in_shape)`` on the ``n_bins``-level grid of ``data_range`` (e.g. 8-bit
                images ``/255`` for ``(0, 1)``); it is uniformly dequantised first unless
                ``dequantize_data=False`` (then ``x`` is taken as already continuous).
            n_bins, data_range: see :func:`dinof_lite.data.quantize.dequantize`.
            generator: for the dequantisation noise.
            context: as in :meth:`forward`.
        """
        self._check_x(x, "x")
        if dequantize_data:
            x = dequantize(x, n_bins=n_bins, data_range=data_range, generator=generator)
        return bits_per_dim(
            self.log_prob(x, context), self.dim, n_bins=n_bins, data_range=data_range
        )
