"""The SDE owns its conventions: no module outside ``sde.py`` branches on an SDE's name, and an
SDE registered from outside the package trains, samples, gives likelihoods and runs DiNof without
any library change.

The outside SDE is ``dx = σ √(2t) dw`` (zero drift): ``x(t) | x0 ~ N(x0, σ² t² I)``, the noise
schedule ``σ(t) = σ t`` of Karras et al. 2022 on ``[0, 1]``, with its own mix of conventions
(ε-prediction, conditioned on ``σ t`` through a Fourier embedding, reverse diffusion without a
corrector).
"""

from __future__ import annotations

import ast
import copy
import math
from pathlib import Path

import pytest
import torch

from dinof_lite import ScoreMLP, TrainConfig, Trainer
from dinof_lite.dinof import training_loss
from dinof_lite.evaluation.metrics import mmd
from dinof_lite.losses import dsm_loss, get_score_fn
from dinof_lite.nets.oracle import OracleScoreNet
from dinof_lite.pretrained import load_score_model, save_score_model
from dinof_lite.sampling import get_predictor, ode_log_likelihood, pc_sample
from dinof_lite.sde import SDE, SDES, VESDE, VPSDE, get_sde, register_sde, subVPSDE
from dinof_lite.utils import make_generator as _gen
from tests.factories import tiny_dinof

PACKAGE = Path(__file__).resolve().parents[1] / "dinof_lite"


# --------------------------------------------------------------------------- no name branches
def _mentions_sde(node: ast.AST) -> bool:
    return "sde" in ast.unparse(node).lower()


def _is_sde_name(n: ast.AST) -> bool:
    """``<…sde…>.name`` or ``getattr(<…sde…>, "name", …)``."""
    if isinstance(n, ast.Attribute):
        return n.attr == "name" and _mentions_sde(n.value)
    return (
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "getattr"
        and len(n.args) >= 2
        and isinstance(n.args[1], ast.Constant)
        and n.args[1].value == "name"
        and _mentions_sde(n.args[0])
    )


def name_branches(source: str, filename: str = "<string>") -> list[str]:
    """``file:line: code`` of every comparison (``==``, ``!=``, ``in``, ``not in``) with an SDE's
    name as an operand, and of every table lookup keyed by it (``TABLE[sde.name]``,
    ``TABLE.get(sde.name)``)."""
    hits = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for op in node.ops
        ):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Subscript):
            operands = [node.slice]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
        ):
            operands = node.args[:1]
        else:
            continue
        if any(_is_sde_name(n) for op in operands for n in ast.walk(op)):
            hits.append((node.lineno, f"{filename}:{node.lineno}: {ast.unparse(node)}"))
    return [hit for _, hit in sorted(hits)]


def test_name_branch_finder_catches_every_form():
    source = "\n".join(
        [
            'sign = 1.0 if sde.name == "ve" else -1.0',
            "if self.sde.name != 'vp': pass",
            'ok = model.sde.name in ("ve", "vp")',
            'bad = model.sde.name.lower() not in {"subvp"}',
            "pc = PC_DEFAULTS[sde.name]",
            "pc = TABLE.get(self.sde.name)",
            'ok = getattr(sde, "name", None) in ("ve",)',
            # display only, and names of other things: not branches
            'title = f"on the {sde.name.upper()} SDE"',
            'print(sde.name); ok = p.name == "x"; ok = predictor.name in PREDICTORS',
        ]
    )
    hits = name_branches(source, "fake.py")
    assert [h.split(":")[1] for h in hits] == ["1", "2", "3", "4", "5", "6", "7"], hits


def test_no_module_outside_sde_py_branches_on_the_sde_name():
    hits = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "sde.py":
            continue
        rel = path.relative_to(PACKAGE.parent).as_posix()
        hits += name_branches(path.read_text(encoding="utf-8"), rel)
    assert not hits, "ask the SDE (an attribute or method) instead of its name:\n" + "\n".join(hits)


# --------------------------------------------------------------------------- built-in conventions
@pytest.mark.parametrize(
    "sde, embedding, pc, reduce_mean, ancestral",
    [
        (VESDE(), "fourier", ("reverse_diffusion", "langevin"), False, True),
        (VPSDE(), "sinusoidal", ("euler_maruyama", "none"), True, True),
        (subVPSDE(), "sinusoidal", ("euler_maruyama", "none"), True, False),
    ],
    ids=["ve", "vp", "subvp"],
)
def test_builtin_sdes_carry_their_conventions(sde, embedding, pc, reduce_mean, ancestral):
    assert sde.default_embedding == embedding and tuple(sde.default_pc) == pc
    assert sde.dsm_reduce_mean is reduce_mean and sde.supports_ancestral is ancestral
    assert SDES[sde.name] is type(sde) and ScoreMLP.for_sde(sde).embed.__class__.__name__ == (
        "GaussianFourierEmbedding" if embedding == "fourier" else "SinusoidalEmbedding"
    )
    t = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
    torch.testing.assert_close(sde.label_to_time(sde.noise_label(t)), t)
    x, out = torch.randn(5, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    torch.testing.assert_close(sde.net_from_score(sde.score_from_net(out, t, x), t, x), out)


def test_subvp_has_no_ancestral_chain():
    with pytest.raises(NotImplementedError, match="subVPSDE.*'reverse_diffusion'"):
        subVPSDE().ancestral_step(torch.zeros(2, 2), torch.full((2,), 0.5), 0.01, torch.zeros(2, 2))


# --------------------------------------------------------------------------- an outside SDE
class LinearSigmaSDE(SDE):
    """``dx = σ √(2t) dw``: ``a(t) = 1``, ``s(t) = σ t`` (Karras et al. 2022's ``σ(t) = t``)."""

    sample_eps = 1e-3
    default_embedding = "fourier"  # the label σ t spans decades, like VE's σ(t)
    default_pc = ("reverse_diffusion", "none")

    def __init__(self, sigma_max: float = 10.0, N: int = 1000) -> None:
        super().__init__(N)
        self.sigma_max = float(sigma_max)

    def sde(self, x, t):
        t = self.time(t, x)
        return torch.zeros_like(x), self.sigma_max * (2 * t).sqrt()

    def marginal_coeffs(self, t):
        return torch.ones_like(t), self.sigma_max * t

    @property
    def prior_std(self) -> float:
        return self.sigma_max

    def noise_label(self, t):
        return self.sigma_max * t

    def label_to_time(self, label):
        return label / self.sigma_max

    def params(self):
        return {"sigma_max": self.sigma_max, "N": self.N}


@pytest.fixture(scope="module", autouse=True)
def registered():
    """Register the outside SDE (as a user would) on one torch thread; undo both afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    register_sde("linear_sigma")(LinearSigmaSDE)
    yield
    SDES.pop("linear_sigma")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sde():
    return LinearSigmaSDE(N=200)


def _fit(model, loss, data, steps: int):
    cfg = TrainConfig(
        n_steps=steps,
        lr=3e-3,
        batch_size=256,
        warmup=50,
        ema_decay=0.99,
        progress=False,
        seed=0,
        device="cpu",
        ckpt_every=None,
    )
    trainer = Trainer(model, loss, data, cfg)
    trainer.fit()
    return trainer.ema_model.module.eval()


@pytest.fixture(scope="module")
def trained_net(sde, gmm):
    torch.manual_seed(0)
    net = ScoreMLP.for_sde(sde, hidden=64, n_layers=2)

    def loss(model, x0, g):
        return dsm_loss(sde, get_score_fn(sde, model), x0, generator=g)

    return _fit(net, loss, lambda n, g: gmm.sample(n, g), 1500)


def test_get_sde_builds_a_registered_outside_sde(sde, tmp_path):
    for name in ("linear_sigma", "Linear-Sigma", "LINEARSIGMA"):
        built = get_sde(name, sigma_max=3.0, N=7)
        assert type(built) is LinearSigmaSDE and built.params() == {"sigma_max": 3.0, "N": 7}
    assert LinearSigmaSDE.name == "linear_sigma"
    with pytest.raises(ValueError, match="valid: ve, vp, subvp, linear_sigma"):
        get_sde("cosine")
    with pytest.raises(TypeError, match="SDE subclass"):
        register_sde("not_an_sde")(dict)
    # a checkpoint of a net for it saves and loads (the registry, not a fixed list of names)
    net = ScoreMLP.for_sde(sde, hidden=8, n_layers=1)
    loaded_sde, loaded = load_score_model(save_score_model(tmp_path / "m.pt", sde, net))
    assert type(loaded_sde) is LinearSigmaSDE and loaded_sde.params() == sde.params()
    x, t = torch.randn(4, 2), torch.full((4,), 0.3)
    assert torch.equal(loaded(x, sde.noise_label(t)), net(x, sde.noise_label(t)))


def test_unregistered_subclass_cannot_be_saved(tmp_path):
    class Unregistered(VPSDE):
        pass

    with pytest.raises(ValueError, match="Unregistered.*not registered"):
        save_score_model(tmp_path / "m.pt", Unregistered(), ScoreMLP(hidden=8, n_layers=1))


def test_outside_sde_closed_form_marginal_matches_monte_carlo(sde, gmm):
    """Euler–Maruyama on ``sde.sde`` (200 steps to t = 0.5) against ``marginal_coeffs``."""
    g = _gen(0)
    x0 = gmm.sample(50000, g).double()
    x, dt = x0.clone(), 0.5 / 200
    for i in range(200):
        _, diffusion = sde.sde(x, i * dt)  # g at the left end: Var = σ² Σ 2 t_i dt -> σ² t²
        x = x + diffusion[:, None] * math.sqrt(dt) * torch.randn(
            x.shape, generator=g, dtype=x.dtype
        )
    a, s = sde.marginal_coeffs(torch.tensor(0.5, dtype=torch.float64))
    resid = x - a * x0  # exactly N(0, s² (1 − dt/T) I) here
    assert abs(resid.std().item() / (s.item() * math.sqrt(1 - dt / 0.5)) - 1) < 0.01
    assert resid.mean(0).abs().max() < 0.15  # 4 standard errors
    # and the mixture's marginal p_t built from it has the Monte-Carlo samples' covariance
    p_t = gmm.marginal(sde, 0.5)
    want = (p_t.covs * p_t.weights[:, None, None]).sum(0) + torch.cov(p_t.means.T, correction=0)
    assert (torch.cov(x.T) - want).abs().max() < 0.8  # ≈ 6 standard errors; s = σ√t: 25


def test_outside_sde_oracle_and_predictors(sde, gmm):
    x, t = torch.randn(64, 2, dtype=torch.float64), torch.rand(64, dtype=torch.float64) * 0.9 + 0.05
    score_fn = gmm.score_fn(sde)  # needs only marginal_coeffs and time
    exact = score_fn(x, t)
    torch.testing.assert_close(exact, gmm.score(x, t, sde))
    oracle = get_score_fn(sde, OracleScoreNet(gmm, sde))
    torch.testing.assert_close(oracle(x, t), exact, rtol=1e-9, atol=1e-9)
    # the oracle's probability-flow likelihood reproduces the exact log p_eps: to solver accuracy
    # (measured 3e-4) from the exact p_T, up to the prior's mismatch (mean 0.006) from N(0, σ²)
    x0 = gmm.sample(100, _gen(1))
    p_eps, p_T = gmm.marginal(sde, sde.train_eps).log_prob(x0), gmm.marginal(sde, sde.T)
    logp = ode_log_likelihood(sde, score_fn, x0, prior_logp=lambda h: p_T.log_prob(h).to(h.dtype))
    assert (logp - p_eps).abs().max() < 2e-3
    logp = ode_log_likelihood(sde, score_fn, x0)
    assert (logp - p_eps).mean().abs() < 0.02
    with pytest.raises(ValueError, match="LinearSigmaSDE.*'reverse_diffusion'"):
        get_predictor("ancestral")(sde, oracle)


@pytest.mark.slow  # trains a model to convergence
def test_outside_sde_trains_samples_and_gives_likelihoods(sde, gmm, trained_net):
    score_fn = get_score_fn(sde, trained_net)
    pred, corr = sde.default_pc
    x = pc_sample(sde, score_fn, (1000, 2), predictor=pred, corrector=corr, generator=_gen(0))
    ref, ref2 = gmm.sample(1000, _gen(1)), gmm.sample(1000, _gen(2))
    # measured 0.003 (floor ~0); one Gaussian with the data's covariance 0.027, a flipped score
    # sign 0.34
    assert mmd(ref, x) < 0.01 + abs(mmd(ref, ref2))
    x0 = gmm.sample(300, _gen(3))
    logp = ode_log_likelihood(sde, score_fn, x0, generator=_gen(4))
    # paired KL(p_eps || model) >= 0; measured 0.50 ± 0.04 after 1500 steps (VP, VE: 0.46, 0.45);
    # one Gaussian with the data's covariance: 1.44
    d = gmm.marginal(sde, sde.train_eps).log_prob(x0) - logp
    kl, se = d.mean().item(), d.std().item() / math.sqrt(len(d))
    assert -3 * se < kl < 0.8, (kl, se)
    nll = -logp.mean().item()
    assert abs(nll - gmm.entropy(generator=_gen(5))) < 0.8, nll


@pytest.mark.slow  # trains a model to convergence
def test_outside_sde_runs_dinof(sde, gmm, trained_net):
    """DiNof seeded with the trained score network: 400 joint steps fit the flow to p_{T_m}."""
    model = tiny_dinof(sde, net=copy.deepcopy(trained_net), flow_steps=4, flow_hidden=32)
    model = _fit(model, training_loss, lambda n, g: gmm.sample(n, g), 400)
    res = model.sample_result(1000, generator=_gen(0))
    assert res.nfe == round(sde.N * 0.5)  # reverse diffusion, no corrector: one call a step
    ref, ref2 = gmm.sample(1000, _gen(1)), gmm.sample(1000, _gen(2))
    assert mmd(ref, res.x) < 0.01 + abs(mmd(ref, ref2))  # measured 0.004
    x0 = gmm.sample(300, _gen(3))
    d = gmm.marginal(sde, sde.train_eps).log_prob(x0) - model.log_likelihood(x0)
    kl, se = d.mean().item(), d.std().item() / math.sqrt(len(d))
    assert -3 * se < kl < 0.8, (kl, se)  # measured 0.50 ± 0.04
