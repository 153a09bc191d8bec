"""2D toy distributions (FFJORD lineage) and the exact Gaussian-mixture oracle.

See docs/design.md §Gaussian-mixture oracle and §Toy data and metrics.

``sample(name, n, seed)`` draws reproducible samples of the standard toys. :class:`GaussianMixture`
knows its density exactly, and so — because every SDE here is linear — the density and score of its
diffused marginal ``p_t`` at every time ``t``:

    p_t(x)      = Σ_k π_k N(x; a μ_k, C_k),   C_k = a² Σ_k + s² I
    ∇log p_t(x) = −Σ_k w_k(x) C_k⁻¹ (x − a μ_k),   w_k = softmax_k[log π_k + log N(x; a μ_k, C_k)]

with ``(a, s) = sde.marginal_coeffs(t)``. It is what a perfect score network would output, and the
ground truth the tests check the samplers and likelihoods against.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from dinof_lite.sde import SDE

__all__ = ["DATASETS", "PRESETS", "TOY_RANGE", "sample", "GaussianMixture"]

#: The box every toy (and mixture preset) lies in, roughly: the data range a 2D model records
#: (:mod:`dinof_lite.trained_on`; Gaussian tails reach a little beyond it).
TOY_RANGE: tuple[float, float] = (-4.0, 4.0)

DATASETS: tuple[str, ...] = (
    "8gaussians",
    "moons",
    "swissroll",
    "circles",
    "rings",
    "pinwheel",
    "2spirals",
    "checkerboard",
)


def sample(name: str, n: int, seed: int = 0) -> Tensor:
    """``n`` samples ``(n, 2)`` float32 of the toy ``name`` (see :data:`DATASETS`), reproducible by seed.

    All toys lie roughly in :data:`TOY_RANGE` ``= [-4, 4]²`` with standard deviation of order 1–2
    per coordinate.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; valid: {', '.join(DATASETS)}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (the number of samples); got {n!r}")
    if name == "8gaussians":
        return GaussianMixture.preset("8gaussians").sample(n, torch.Generator().manual_seed(seed))
    rng = np.random.default_rng(seed)
    x = _SAMPLERS[name](n, rng)
    return torch.from_numpy(rng.permutation(x)).float()


def _moons(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_moons  # lazily: sklearn takes ~1 s to import

    x = make_moons(n, noise=0.1, random_state=int(rng.integers(2**31)))[0]
    return 2 * x + np.array([-1.0, -0.2])


def _swissroll(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_swiss_roll  # lazily: sklearn takes ~1 s to import

    x = make_swiss_roll(n, noise=1.0, random_state=int(rng.integers(2**31)))[0]
    return x[:, [0, 2]] / 5.0


def _circles(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_circles  # lazily: sklearn takes ~1 s to import

    x = make_circles(n, factor=0.5, noise=0.08, random_state=int(rng.integers(2**31)))[0]
    return 3.0 * x


def _rings(n: int, rng: np.random.Generator) -> np.ndarray:
    radius = rng.choice(np.array([0.75, 1.5, 2.25, 3.0]), size=n)
    angle = rng.uniform(0, 2 * np.pi, n)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    return x + 0.08 * rng.standard_normal((n, 2))


def _pinwheel(n: int, rng: np.random.Generator) -> np.ndarray:
    arms, rate = 5, 0.25
    arm = rng.integers(arms, size=n)
    radial = 1.0 + 0.3 * rng.standard_normal(n)
    tangential = 0.1 * rng.standard_normal(n)
    angle = 2 * np.pi * arm / arms + rate * np.exp(radial)
    c, s = np.cos(angle), np.sin(angle)
    return 2.0 * np.stack([c * radial - s * tangential, s * radial + c * tangential], 1)


def _2spirals(n: int, rng: np.random.Generator) -> np.ndarray:
    r = np.sqrt(rng.uniform(size=n)) * 3 * np.pi  # 540 degrees
    sign = np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0)[:, None]
    arm = np.stack([-np.cos(r) * r, np.sin(r) * r], 1) + 0.5 * rng.uniform(size=(n, 2))
    return sign * arm / 3.0 + 0.1 * rng.standard_normal((n, 2))


def _checkerboard(n: int, rng: np.random.Generator) -> np.ndarray:
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) - 2 * rng.integers(2, size=n) + np.floor(x1) % 2
    return 2.0 * np.stack([x1, x2], 1)


_SAMPLERS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "moons": _moons,
    "swissroll": _swissroll,
    "circles": _circles,
    "rings": _rings,
    "pinwheel": _pinwheel,
    "2spirals": _2spirals,
    "checkerboard": _checkerboard,
}


def _presets() -> dict[str, tuple[Tensor, Tensor, Tensor]]:
    """(means (K,D), covs (K,D,D), weights (K,)) of the named mixtures."""
    eye = torch.eye(2, dtype=torch.float64)
    ang = torch.arange(8, dtype=torch.float64) * math.pi / 4
    ring = (4 / math.sqrt(2)) * torch.stack([ang.cos(), ang.sin()], 1)
    grid = torch.cartesian_prod(*(torch.tensor([-2.5, 0.0, 2.5], dtype=torch.float64),) * 2)
    rot = torch.tensor([[0.8, 0.6], [-0.6, 0.8]], dtype=torch.float64)
    aniso = torch.stack(
        [
            rot @ torch.diag(torch.tensor([0.5, 0.05], dtype=torch.float64)) @ rot.T,
            torch.tensor([[0.2, 0.1], [0.1, 0.3]], dtype=torch.float64),
            0.1 * eye,
        ]
    )
    return {
        # FFJORD's 8gaussians: centres at radius 4/√2, component std 0.5/√2.
        "8gaussians": (ring, (0.125 * eye).expand(8, 2, 2), torch.full((8,), 1 / 8)),
        "2gaussians": (
            torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64),
            (0.25 * eye).expand(2, 2, 2),
            torch.tensor([0.5, 0.5]),
        ),
        "grid": (grid, (0.09 * eye).expand(9, 2, 2), torch.full((9,), 1 / 9)),
        "aniso": (
            torch.tensor([[-2.0, -1.0], [1.5, 1.5], [2.0, -2.0]], dtype=torch.float64),
            aniso,
            torch.tensor([0.5, 0.3, 0.2]),
        ),
    }


PRESETS: tuple[str, ...] = ("8gaussians", "2gaussians", "grid", "aniso")


class GaussianMixture:
    """``p0(x) = Σ_k π_k N(x; μ_k, Σ_k)`` in ``D`` dimensions, with its exact diffused marginals.

    Args:
        means: ``(K, D)``.
        covs: ``(K, D, D)`` full, ``(K, D)`` diagonal variances, or ``(K,)`` isotropic variances.
        weights: ``(K,)`` non-negative, normalised internally. Defaults to uniform.

    Computations run in float64 and return the input's dtype.
    """

    def __init__(self, means, covs, weights=None) -> None:
        means = torch.as_tensor(means, dtype=torch.float64)
        if means.dim() != 2:
            raise ValueError(f"means must have shape (K, D), got {tuple(means.shape)}")
        K, D = means.shape
        covs = torch.as_tensor(covs, dtype=torch.float64)
        if covs.shape == (K,):
            covs = covs[:, None, None] * torch.eye(D, dtype=torch.float64)
        elif covs.shape == (K, D):
            covs = torch.diag_embed(covs)
        elif covs.shape != (K, D, D):
            raise ValueError(
                f"covs must have shape ({K},), ({K}, {D}) or ({K}, {D}, {D}), "
                f"got {tuple(covs.shape)}"
            )
        weights = torch.full((K,), 1.0 / K) if weights is None else weights
        weights = torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != (K,) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"weights must be {K} non-negative numbers with a positive sum")
        self.means, self.covs = means, covs.contiguous()
        self.weights = weights / weights.sum()
        self._chol = torch.linalg.cholesky(self.covs)  # raises if a covariance is not SPD

    @classmethod
    def preset(cls, name: str) -> GaussianMixture:
        """A named 2D mixture: ``8gaussians`` (FFJORD's), ``2gaussians``, ``grid`` (3×3), ``aniso``."""
        table = _presets()
        if name not in table:
            raise ValueError(f"unknown mixture preset {name!r}; valid: {', '.join(PRESETS)}")
        return cls(*table[name])

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples ``(n, D)`` float32."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1 (the number of samples); got {n!r}")
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + (self._chol[k] @ z[..., None])[..., 0]).float()

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p0(x)``: ``(B,)``."""
        return self._log_prob_and_score(x, None, None, need_score=False)[0]

    def marginal(self, sde: SDE, t: float) -> GaussianMixture:
        """The diffused marginal ``p_t`` at a scalar time ``t``, itself a Gaussian mixture."""
        a, s = (float(v) for v in sde.marginal_coeffs(torch.tensor(float(t), dtype=torch.float64)))
        eye = torch.eye(self.dim, dtype=torch.float64)
        return GaussianMixture(a * self.means, a**2 * self.covs + s**2 * eye, self.weights)

    def marginal_log_prob(self, x: Tensor, t: Tensor | float, sde: SDE) -> Tensor:
        """Exact ``log p_t(x)`` ``(B,)`` of the SDE's marginal at time(s) ``t`` (float or ``(B,)``)."""
        return self._log_prob_and_score(x, t, sde, need_score=False)[0]

    def score(self, x: Tensor, t: Tensor | float, sde: SDE) -> Tensor:
        """Exact score ``∇_x log p_t(x)`` ``(B, D)``."""
        return self._log_prob_and_score(x, t, sde, need_score=True)[1]

    def score_fn(self, sde: SDE) -> Callable[[Tensor, Tensor], Tensor]:
        """The oracle as a score function ``(x, t) -> score``: what a perfect network would give."""
        return lambda x, t: self.score(x, t, sde)

    def denoise(self, x: Tensor, t: Tensor | float, sde: SDE) -> Tensor:
        """Tweedie's formula ``E[x0 | x_t = x] = (x + s² ∇log p_t(x)) / a``: ``(B, D)``."""
        tt = sde.time(t, x)
        a, s = sde.marginal_coeffs(tt)
        return (x + (s**2)[:, None] * self.score(x, tt, sde)) / a[:, None]

    def entropy(self, n_samples: int = 200_000, generator: torch.Generator | None = None) -> float:
        """Monte-Carlo differential entropy ``E[−log p0(X)]`` in nats: the floor for any model's NLL."""
        return -self.log_prob(self.sample(n_samples, generator)).mean().item()

    def _log_prob_and_score(self, x: Tensor, t, sde: SDE | None, need_score: bool):
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (batch, {self.dim}), got {tuple(x.shape)}")
        xd = x.to(torch.float64)
        if sde is None:  # t = 0: the data distribution itself
            mean, chol = self.means[None], self._chol[None]
        else:
            tt = sde.time(t, xd)
            same = bool((tt == tt[0]).all())
            a, s = sde.marginal_coeffs(tt[:1] if same else tt)  # (B',) with B' = 1 or B
            eye = torch.eye(self.dim, dtype=torch.float64)
            cov = a[:, None, None, None] ** 2 * self.covs + s[:, None, None, None] ** 2 * eye
            mean, chol = a[:, None, None] * self.means, torch.linalg.cholesky(cov)  # (B',K,D[,D])
        diff = xd[:, None, :] - mean  # (B, K, D)
        prec = torch.cholesky_inverse(chol)  # C⁻¹: (B', K, D, D)
        if prec.shape[0] == 1:  # one time for the whole batch: share the precision matrices
            prec_diff = torch.einsum("kde,bke->bkd", prec[0], diff)
        else:
            prec_diff = torch.einsum("bkde,bke->bkd", prec, diff)
        log_det = torch.diagonal(chol, dim1=-2, dim2=-1).log().sum(-1)  # ½ log|C|: (B', K)
        log_n = -0.5 * (prec_diff * diff).sum(-1) - log_det - 0.5 * self.dim * math.log(2 * math.pi)
        joint = self.weights.log() + log_n  # (B, K)
        logp = torch.logsumexp(joint, dim=1)
        score = None
        if need_score:
            w = torch.softmax(joint, dim=1)
            score = -(w[..., None] * prec_diff).sum(1).to(x.dtype)
        return logp.to(x.dtype), score

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"
