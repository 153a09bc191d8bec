"""Experiment configurations for DiNof on images, mirroring the authors' (DiNof §4; score_sde).

Each config is a plain dataclass: data, SDE, score network (:class:`~dinof_lite.nets.UNetConfig`),
flow (Glow L, K, hidden), DiNof (``T_m``, loss weighting), training (:class:`TrainConfig`) and
sampling (predictor, corrector, snr). ``get_config(name)`` returns a fresh copy::

    cfg = get_config("cifar10_ve")           # NCSN++ cont., VE, RD + Langevin, snr 0.16, T_m 0.6
    cfg = get_config("digits_cpu")           # minutes on a laptop CPU
    cfg = get_config("cifar10_ve_smoke")     # every full config has a *_smoke twin for tests

Paper settings (DiNof §4.1–4.2, score_sde configs): Adam lr 2e-4, warm-up 5000, gradient clip 1,
batch 128, EMA 0.999 (VE) / 0.9999 (VP, sub-VP); VE data on [0, 1], VP / sub-VP on [−1, 1];
Glow with L = 3, K = 16, 256 hidden channels; N = 1000 noise scales; ``T_m = 0.6``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from dinof_lite.nets.unet import UNetConfig
from dinof_lite.train import TrainConfig

__all__ = [
    "ExperimentConfig",
    "CONFIGS",
    "get_config",
    "config_names",
    "smoke_variant",
    "build_model",
]


@dataclass
class ExperimentConfig:
    """One experiment: what to train, how, and how to sample it.

    Attributes:
        name: registry name; dataset: a name of ``dinof_lite.data.IMAGE_DATASETS``.
        image_size, channels: the data's ``(C, H, W) = (channels, image_size, image_size)``.
        data_range: pixel range the networks see, ``(0, 1)`` (VE) or ``(-1, 1)`` (VP, sub-VP).
        random_flip: horizontal flips during training.
        sde, sde_params: :func:`dinof_lite.sde.get_sde` arguments.
        unet: the score network's :class:`~dinof_lite.nets.UNetConfig`.
        flow_levels, flow_steps, flow_hidden: Glow's L, K and hidden channels.
        T_m: hand-over time; T_m_range: ``(lo, hi)`` for an any-T_m model (a flow conditioned
            on T_m, the score network trained on ``[eps, hi)``), else None.
        flow_reduction: ``"sum"`` (nats per example) or ``"mean"``.
        reduce_mean: DSM reduction (None: the SDE's default, as in score_sde).
        train_score: train the score network with the flow (the joint loss), or freeze it and
            train the flow alone (``DiNof(train_score=False)``; ``train --score``).
        pretrained_score: the published score network the run starts from, its source (see
            :mod:`~dinof_lite.experiment.pretrained_score`), e.g. ``{"kind": "diffusers",
            "source": "google/ddpm-cifar10-32"}``; ``None``: a fresh UNet of ``unet``.
        train: optimiser, schedule, EMA and length (:class:`~dinof_lite.train.TrainConfig`).
        predictor, corrector, snr, n_corrector_steps: the PC sampler (Song et al. 2021, Alg. 1).
        sample_every: write a sample grid every this many training steps (0: never).
    """

    name: str
    dataset: str
    image_size: int
    channels: int
    data_range: tuple[float, float]
    sde: str
    unet: UNetConfig
    sde_params: dict = field(default_factory=dict)
    random_flip: bool = True
    flow_levels: int = 3
    flow_steps: int = 16
    flow_hidden: int = 256
    T_m: float = 0.6
    T_m_range: tuple[float, float] | None = None
    flow_reduction: str = "sum"
    reduce_mean: bool | None = None
    train_score: bool = True
    pretrained_score: dict | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    predictor: str = "reverse_diffusion"
    corrector: str = "langevin"
    snr: float = 0.16
    n_corrector_steps: int = 1
    sample_every: int = 50_000

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return (self.channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        """Plain-Python dict (stored in checkpoints and the workdir's ``config.json``)."""
        return dataclasses.asdict(self)


def _paper_train(ema: float, n_steps: int = 1_000_000) -> TrainConfig:
    return TrainConfig(
        n_steps=n_steps,
        batch_size=128,
        lr=2e-4,
        warmup=5000,
        grad_clip=1.0,
        ema_decay=ema,
        log_every=100,
        ckpt_every=10_000,
    )


def cifar10_ve() -> ExperimentConfig:
    """NCSN++ cont. (VE, σ_max 50) + Glow, RD predictor + Langevin corrector, snr 0.16."""
    return ExperimentConfig(
        "cifar10_ve",
        "cifar10",
        32,
        3,
        (0.0, 1.0),
        "ve",
        UNetConfig.ncsnpp_cifar10(),
        {"sigma_min": 0.01, "sigma_max": 50.0},
        train=_paper_train(0.999),
    )


def cifar10_ve_deep() -> ExperimentConfig:
    """NCSN++ cont. deep (8 residual blocks per resolution): the paper's best model, FID 2.01."""
    cfg = cifar10_ve()
    cfg.name, cfg.unet = "cifar10_ve_deep", UNetConfig.ncsnpp_cifar10_deep()
    return cfg


def cifar10_vp() -> ExperimentConfig:
    """DDPM++ cont. (VP) + Glow, Euler–Maruyama predictor, no corrector; data on [−1, 1]."""
    return ExperimentConfig(
        "cifar10_vp",
        "cifar10",
        32,
        3,
        (-1.0, 1.0),
        "vp",
        UNetConfig.ddpmpp_cifar10(),
        {"beta_min": 0.1, "beta_max": 20.0},
        train=_paper_train(0.9999),
        predictor="euler_maruyama",
        corrector="none",
        reduce_mean=True,
    )


def cifar10_subvp() -> ExperimentConfig:
    """DDPM++ cont. (sub-VP) + Glow, Euler–Maruyama predictor, no corrector; data on [−1, 1]."""
    cfg = cifar10_vp()
    cfg.name, cfg.sde = "cifar10_subvp", "subvp"
    return cfg


def celebahq256_ve() -> ExperimentConfig:
    """NCSN++ cont. on CelebA-HQ-256 (VE, σ_max 348), snr 0.17; the paper trains with batch 8."""
    cfg = ExperimentConfig(
        "celebahq256_ve",
        "celebahq256",
        256,
        3,
        (0.0, 1.0),
        "ve",
        UNetConfig.ncsnpp_celebahq256(),
        {"sigma_min": 0.01, "sigma_max": 348.0},
        train=_paper_train(0.999, n_steps=500_000),
        snr=0.17,
    )
    cfg.train.batch_size = 8
    return cfg


def digits_cpu() -> ExperimentConfig:
    """sklearn's 8×8 digits padded to 16×16 on [0, 1], a tiny UNet and Glow: minutes on a CPU.

    Any-T_m (``T_m ∈ [0.1, 1]``), so one CPU run serves samples at every ``T_m`` and the plain
    diffusion baseline with the same score network."""
    # ~0.2 s per step on one CPU thread: 1500 steps are ~5 minutes (EMA horizon ~200 steps)
    train = TrainConfig(
        n_steps=1500,
        batch_size=64,
        lr=2e-3,
        warmup=100,
        grad_clip=1.0,
        ema_decay=0.995,
        log_every=50,
        ckpt_every=500,
    )
    return ExperimentConfig(
        "digits_cpu",
        "digits",
        16,
        1,
        (0.0, 1.0),
        "ve",
        UNetConfig.tiny(image_size=16, in_channels=1),
        {"sigma_min": 0.01, "sigma_max": 10.0},
        random_flip=False,
        flow_levels=2,
        flow_steps=4,
        flow_hidden=32,
        T_m_range=(0.1, 1.0),
        train=train,
        flow_reduction="mean",
        sample_every=500,
    )


def smoke_variant(cfg: ExperimentConfig) -> ExperimentConfig:
    """The same experiment at test size: tiny networks, 8×8 fake-able images, a few steps."""
    small = copy.deepcopy(cfg)
    small.name = f"{cfg.name}_smoke"
    small.image_size = 8
    # the full config's data convention (centered: [-1, 1] in; else [0, 1], centred inside)
    small.unet = UNetConfig.tiny(image_size=8, in_channels=cfg.channels, centered=cfg.unet.centered)
    small.flow_levels, small.flow_steps, small.flow_hidden = 1, 2, 8
    small.sde_params = {**cfg.sde_params, "N": 20}
    small.train = dataclasses.replace(
        cfg.train, n_steps=4, batch_size=4, warmup=2, log_every=1, ckpt_every=2, progress=False
    )
    small.sample_every = 2
    return small


_FULL: dict[str, Callable[[], ExperimentConfig]] = {
    f.__name__: f
    for f in (cifar10_ve, cifar10_vp, cifar10_subvp, cifar10_ve_deep, celebahq256_ve, digits_cpu)
}
#: name -> factory of every config (the full ones and their ``*_smoke`` twins)
CONFIGS: dict[str, Callable[[], ExperimentConfig]] = {
    **_FULL,
    **{f"{k}_smoke": (lambda f=f: smoke_variant(f())) for k, f in _FULL.items()},
}


def config_names() -> list[str]:
    """Every registered config name."""
    return list(CONFIGS)


def get_config(name: str) -> ExperimentConfig:
    """A fresh :class:`ExperimentConfig` by name (``ValueError`` listing the valid names)."""
    if name not in CONFIGS:
        raise ValueError(f"unknown config {name!r}; valid: {', '.join(CONFIGS)}")
    return CONFIGS[name]()


def build_model(cfg: ExperimentConfig, score: tuple | None = None):
    """``DiNof(sde, UNet, Glow)`` for ``cfg`` (untrained; ActNorm initialises on the first batch).

    The score network is ``score = (sde, net)`` when given, else ``cfg.pretrained_score``'s
    (loaded and checked by :func:`~dinof_lite.experiment.pretrained_score.load_pretrained_score`),
    else a fresh ``UNet`` of ``cfg.unet``; it trains unless ``cfg.train_score`` is False.
    """
    from dinof_lite.dinof import DiNof
    from dinof_lite.flows import Glow
    from dinof_lite.nets.unet import UNet
    from dinof_lite.sde import get_sde

    if score is None and cfg.pretrained_score:
        from dinof_lite.experiment.pretrained_score import load_pretrained_score

        score = load_pretrained_score(cfg)
    flow = Glow(  # built before a fresh UNet: the initial weights of a seed stay what they were
        cfg.shape,
        levels=cfg.flow_levels,
        steps=cfg.flow_steps,
        hidden=cfg.flow_hidden,
        context_dim=DiNof.CONTEXT_DIM if cfg.T_m_range else 0,
    )
    if score is not None:
        sde, net = score
    else:
        sde = get_sde(cfg.sde, **cfg.sde_params)
        unet_cfg = dataclasses.replace(
            cfg.unet, image_size=cfg.image_size, in_channels=cfg.channels
        )
        net = UNet.for_sde(sde, unet_cfg)
    return DiNof(
        sde,
        net,
        flow,
        T_m=cfg.T_m,
        T_m_range=cfg.T_m_range,
        flow_reduction=cfg.flow_reduction,
        reduce_mean=cfg.reduce_mean,
        train_score=cfg.train_score,
    )
