"""Published pretrained score networks, loaded into dinof_lite's networks."""

from dinof_lite.hub.score_sde import load_score_sde_checkpoint

__all__ = ["load_score_sde_checkpoint"]
