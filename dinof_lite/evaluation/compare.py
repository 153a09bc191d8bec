"""DiNof, DiffFlow and DiffEnc side by side on one 2D Gaussian mixture, with the same metrics.

Each model is wrapped as a :class:`Contender`: a sampler, a negative log-likelihood (exact, or an
upper bound) and the network evaluations one sample costs. :func:`compare` then measures all of
them with the same data, seeds and metrics:

* sample quality against fresh data: MMD² (mixture of RBF bandwidths) and sliced Wasserstein-2;
* wall time per 1000 samples and network evaluations (NFE) per sample;
* NLL on fresh data in nats, next to the mixture's entropy ``H = E[−log p0]``, and the paired
  estimate ``KL(p0 ‖ p_model) ≈ mean(nll(x) + log p0(x))`` with its standard error (no exact NLL
  can go under ``H``, so a bound or a likelihood with ``KL < −3·SE`` would be a bug; see
  docs/design.md §Gaussian-mixture oracle).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dinof_lite.data.toy import GaussianMixture
from dinof_lite.evaluation.quality import sample_quality
from dinof_lite.utils import make_generator

__all__ = ["Contender", "compare", "dinof_contender", "diffflow_contender", "diffenc_contender"]

#: ``sample(n, generator) -> (n, D)``
SampleFn = Callable[[int, torch.Generator], Tensor]
#: ``nll(x (B, D), generator) -> (B,)`` nats
NllFn = Callable[[Tensor, torch.Generator], Tensor]


@dataclass
class Contender:
    """One model as :func:`compare` sees it.

    ``nll_kind`` says what ``nll`` returns: ``"exact"`` (a likelihood, e.g. through the
    probability-flow ODE) or ``"bound"`` (a variational upper bound on the NLL).
    """

    name: str
    sample: SampleFn
    nfe: int
    nll: NllFn | None = None
    nll_kind: str = "exact"

    def __post_init__(self) -> None:
        if self.nll_kind not in ("exact", "bound"):
            raise ValueError(f"nll_kind must be 'exact' or 'bound'; got {self.nll_kind!r}")


def dinof_contender(model, name: str = "DiNof", *, T_m: float | None = None) -> Contender:
    """A :class:`~dinof_lite.dinof.DiNof`: flow prior at ``T_m``, then the PC sampler; exact NLL."""
    T_m = model.resolve_T_m(T_m)

    def sample(n: int, g: torch.Generator) -> Tensor:
        return model.sample(n, T_m=T_m, generator=g)

    def nll(x: Tensor, g: torch.Generator) -> Tensor:
        return -model.log_likelihood(x, T_m=T_m)

    probe = model.sample_result(2, T_m=T_m, generator=make_generator(0))
    return Contender(f"{name} (T_m={T_m:g})", sample, probe.nfe, nll, "exact")


def diffflow_contender(
    model, name: str = "DiffFlow", *, lam: float = 1.0, nll: str = "ode", n_repeats: int = 8
) -> Contender:
    """A DiffFlow: backward SDE with noise ``lam`` (Zhang & Chen 2021, App. H); NLL by the λ=0
    ODE or the bound.

    The bound is a one-trajectory estimate per point; ``n_repeats`` trajectories are averaged.
    """
    if nll not in ("ode", "bound"):
        raise ValueError(f"nll must be 'ode' or 'bound'; got {nll!r}")

    def sample(n: int, g: torch.Generator) -> Tensor:
        return model.sample(n, lam=lam, generator=g)

    if nll == "ode":

        def nll_fn(x: Tensor, g: torch.Generator) -> Tensor:
            return -model.log_likelihood(x)
    else:

        def nll_fn(x: Tensor, g: torch.Generator) -> Tensor:
            return torch.stack([model.nll_bound(x, generator=g) for _ in range(n_repeats)]).mean(0)

    kind = "exact" if nll == "ode" else "bound"
    return Contender(f"{name} (λ={lam:g})", sample, model.nfe(lam=lam), nll_fn, kind)


def diffenc_contender(
    model, name: str = "DiffEnc", *, n_steps: int = 1000, n_repeats: int = 16
) -> Contender:
    """A DiffEnc: VDM ancestral sampler with ``n_steps`` steps; NLL is the variational bound.

    The bound of one point is a one-draw Monte-Carlo estimate over ``t`` and the noise with a
    spread of many nats; ``n_repeats`` draws per point are averaged (the bound stays a bound).
    """

    def sample(n: int, g: torch.Generator) -> Tensor:
        return model.sample(n, n_steps=n_steps, generator=g)

    def nll(x: Tensor, g: torch.Generator) -> Tensor:
        return model.nll_bound(x, generator=g, n_repeats=n_repeats)

    return Contender(f"{name} ({n_steps} steps)", sample, model.nfe(n_steps=n_steps), nll, "bound")


def _timed(fn: Callable[[], Tensor]) -> tuple[Tensor, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


@torch.no_grad()
def _sample_metrics(c: Contender, data: Tensor, n: int, seed: int) -> dict[str, float]:
    x, seconds = _timed(lambda: c.sample(n, make_generator(seed)))
    if x.shape != (n, data.shape[1]):
        raise ValueError(
            f"{c.name}: sample(n) returned shape {tuple(x.shape)}, expected {(n, data.shape[1])}"
        )
    x = x.detach().float().cpu()
    # the kernel widths come from the model's samples here (the T_m study takes the data's)
    q = sample_quality(x, data, seed=seed, bandwidth_from="samples")
    return {
        "MMD²": q["mmd"],
        "SW": q["sw"],
        "s / 1000 samples": 1000.0 * seconds / n,
    }


def _nll_metrics(c: Contender, gmm: GaussianMixture, x: Tensor, seed: int) -> dict[str, object]:
    if c.nll is None:
        return {"NLL": float("nan"), "NLL kind": "—", "KL": float("nan"), "± SE": float("nan")}
    with torch.enable_grad():  # ODE likelihoods need autograd for the divergence
        nll = c.nll(x, make_generator(seed)).detach().double().cpu()
    if nll.shape != (x.shape[0],):
        raise ValueError(
            f"{c.name}: nll(x) returned shape {tuple(nll.shape)}, expected {(x.shape[0],)}"
        )
    kl = nll + gmm.log_prob(x.double())
    return {
        "NLL": nll.mean().item(),
        "NLL kind": c.nll_kind,
        "KL": kl.mean().item(),
        "± SE": kl.std().item() / math.sqrt(len(kl)),
    }


def compare(
    contenders: Sequence[Contender],
    gmm: GaussianMixture,
    *,
    n_samples: int = 2000,
    n_nll: int = 500,
    seed: int = 0,
) -> list[dict[str, object]]:
    """Measure every contender on the same data; one row (a dict) per contender.

    Columns: ``model, NFE, s / 1000 samples, MMD², SW, NLL, NLL kind, KL, ± SE`` — NLL in nats
    per example on ``n_nll`` fresh points of ``gmm``; ``KL`` is the paired estimate of
    ``KL(p0 ‖ p_model)`` (or of the bound's gap, for ``"bound"``). Samples use
    ``make_generator(seed)`` for every model, the reference set ``seed + 1``, the NLL points
    ``seed + 2``.
    """
    if not contenders:
        raise ValueError("compare needs at least one Contender")
    if n_samples < 10 or n_nll < 2:
        raise ValueError(f"need n_samples >= 10 and n_nll >= 2; got {n_samples}, {n_nll}")
    data = gmm.sample(n_samples, make_generator(seed + 1)).float()
    x_nll = gmm.sample(n_nll, make_generator(seed + 2)).float()
    rows = []
    for c in contenders:
        row: dict[str, object] = {"model": c.name, "NFE": c.nfe}
        row.update(_sample_metrics(c, data, n_samples, seed))
        row.update(_nll_metrics(c, gmm, x_nll, seed))
        rows.append(row)
    return rows
