"""A UNet score network in the NCSN++ / DDPM++ family (Song et al. 2021), pure PyTorch.

``UNet(config)(x, label)``: ``x (B, C, H, W)``, ``label = sde.noise_label(t)`` of shape ``(B,)``
→ ``(B, C, H, W)``, the raw network that :func:`dinof_lite.losses.get_score_fn` wraps. Feed it
centred data (or data on ``[0, 1]`` with ``centered=False``). ``UNet.for_sde(sde, config)``
picks the embedding (VE → Gaussian Fourier features of ``log σ``; VP / sub-VP → sinusoidal
embedding of ``999 t``).

``UNetConfig`` carries score_sde's ``config.model`` knobs (FIR resampling, the progressive
input / output pyramids, ``conditional``, ``centered``, …), and the presets are the published
architectures module for module: :func:`dinof_lite.hub.load_score_sde_checkpoint` loads the
published score_sde_pytorch checkpoints into them (``tests/hub/test_hub_score_sde.py`` checks the
outputs against the reference implementation's own).

Parameter counts (trainable, ``UNetConfig.<preset>().num_parameters()``); all but the DDPM++
deep one are checked equal to those of score_sde's ``NCSNpp`` built from the config file
(``tests/fixtures/score_sde/reference_param_counts.json``):

=========================  ==============  ============================================
preset                      ours            score_sde config
=========================  ==============  ============================================
``ncsnpp_cifar10``          62,758,787      ``ve/cifar10_ncsnpp_continuous`` (≈ 62M)
``ncsnpp_cifar10_deep``     107,586,947     ``ve/cifar10_ncsnpp_deep_continuous`` (≈ 108M)
``ddpmpp_cifar10``          61,804,419      ``vp/cifar10_ddpmpp_continuous`` (≈ 62M)
``ddpmpp_cifar10_deep``     106,632,579     ``vp/cifar10_ddpmpp_deep_continuous``
``ncsnpp_celebahq256``      65,574,421      ``ve/celebahq_256_ncsnpp_continuous``
=========================  ==============  ============================================

A cross-check on a published figure: ``ddpmpp_cifar10(resblock="ddpm", num_res_blocks=2)`` has
35,218,947 parameters; the original DDPM CIFAR-10 net (Ho et al. 2020: "35.7 million") also runs
attention after *every* 16² up-block (two more 256-channel AttnBlocks, 2 × 263,680 →
35,746,307).

Conventions that differ from score_sde (the numbers do not): ``scale_by_sigma`` (the division
of a VE network's output by σ) is done by :func:`dinof_lite.losses.get_score_fn`, not by the
network; the fixed Fourier features are a buffer, not a non-trainable parameter; score_sde's
``embedding_type="positional"`` is ``embedding="sinusoidal"`` and ``resblock_type`` is
``resblock``; class-conditional layers are not implemented.
"""

from dinof_lite.nets.unet.layers import AttnBlock, Combine, Downsample, ResnetBlock, Upsample
from dinof_lite.nets.unet.model import UNet, UNetConfig

__all__ = [
    "UNet",
    "UNetConfig",
    "ResnetBlock",
    "AttnBlock",
    "Upsample",
    "Downsample",
    "Combine",
]
