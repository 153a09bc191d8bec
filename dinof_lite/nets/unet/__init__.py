"""A UNet score network in the NCSN++ / DDPM++ family (Song et al. 2021), pure PyTorch.

``UNet(config)(x, label)``: ``x (B, C, H, W)``, ``label = sde.noise_label(t)`` of shape ``(B,)``
→ ``(B, C, H, W)``, the raw network that :func:`dinof_lite.losses.get_score_fn` wraps. Feed it
centred data. ``UNet.for_sde(sde, config)`` picks the embedding (VE → Gaussian Fourier features
of ``log σ``; VP / sub-VP → sinusoidal embedding of ``999 t``).

Parameter counts (trainable, ``UNetConfig.<preset>().num_parameters()``) vs the published ones:

=========================  ==============  ============================================
preset                      ours            published (score_sde; see notes)
=========================  ==============  ============================================
``ncsnpp_cifar10``          61,869,955      ≈ 62M  (NCSN++ cont., VE)
``ncsnpp_cifar10_deep``     106,698,115     ≈ 108M (NCSN++ cont. deep, VE)
``ddpmpp_cifar10``          61,804,419      ≈ 62M  (DDPM++ cont., VP / sub-VP)
``ddpmpp_cifar10_deep``     106,632,579     ≈ 108M (DDPM++ cont. deep)
``ncsnpp_celebahq256``      65,528,451      not found (NCSN++, CelebA-HQ 256²)
=========================  ==============  ============================================

The score_sde paper gives no parameter table; the ≈62M / ≈108M figures are the sizes usually
quoted for these models (e.g. by later work re-using them) and could not be checked against a
primary source here. Our NCSN++ CIFAR-10 count lacks the ``progressive_input="residual"`` strided
convs (3→128, 128→256, 256→256: 888,832 parameters, so ≈ 62.76M with them). A cross-check on a
published figure: ``ddpmpp_cifar10(resblock="ddpm", num_res_blocks=2)`` has 35,218,947
parameters; the original DDPM CIFAR-10 net (Ho et al. 2020: "35.7 million") also runs attention
after *every* 16² up-block (two more 256-channel AttnBlocks, 2 × 263,680 → 35,746,307).

Not implemented (so counts and function differ slightly from score_sde): FIR resampling
(``fir=True``: parameter-free but a different filter), NCSN++'s progressive input / output
pyramids (``progressive_input="residual"`` for CIFAR-10 adds strided convs from the image into each
level; ``progressive="output_skip"`` / ``progressive_input="input_skip"`` for CelebA-HQ adds
per-level GroupNorm + conv heads), ``scale_by_sigma`` (done by ``get_score_fn``), the fixed
Fourier weights being a (non-trainable) parameter rather than a buffer, class-conditional layers,
and the ``[0, 1] → [−1, 1]`` input rescaling (the caller centres the data).
"""

from dinof_lite.nets.unet.layers import AttnBlock, Downsample, ResnetBlock, Upsample
from dinof_lite.nets.unet.model import UNet, UNetConfig

__all__ = ["UNet", "UNetConfig", "ResnetBlock", "AttnBlock", "Upsample", "Downsample"]
