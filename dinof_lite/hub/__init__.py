"""Published pretrained score networks as library networks (docs/design.md §Published score
networks): ``sde, net = from_diffusers(unet, scheduler)`` or ``from_diffusers("google/ddpm-cifar10-32")``
(needs the ``hub`` extra), and ``load_score_sde_checkpoint(path)`` for score_sde_pytorch's own
checkpoints. Either gives a network for ``get_score_fn(sde, net)`` like any of the library's."""

from dinof_lite.hub.diffusers import from_diffusers
from dinof_lite.hub.fetch import HubUnavailable
from dinof_lite.hub.score_sde import load_score_sde_checkpoint

__all__ = ["from_diffusers", "HubUnavailable", "load_score_sde_checkpoint"]
