"""Plotting helpers for 2D diffusion models (matplotlib; no function here calls ``plt.show()``).

- :mod:`~dinof_lite.viz.plots` — samples, densities, score fields, forward marginals,
  reverse-time trajectories, sample grids and the SDE coefficients ``a(t)``, ``s(t)``.
"""

from dinof_lite.viz.plots import (
    LIM,
    grid_points,
    plot_density,
    plot_marginals_over_time,
    plot_samples,
    plot_score_field,
    plot_sde_coefficients,
    plot_trajectories,
    sample_grid_figure,
    style_axes,
)

__all__ = [
    "LIM",
    "style_axes",
    "grid_points",
    "plot_samples",
    "plot_density",
    "plot_score_field",
    "plot_marginals_over_time",
    "plot_trajectories",
    "sample_grid_figure",
    "plot_sde_coefficients",
]

# --------------------------------------------------------------------------- diagnostics
# Training-specific plots (dinof_lite/viz/diagnostics.py, another owner): add the import
# line here and extend __all__, e.g.
#   from dinof_lite.viz.diagnostics import plot_loss_curve  # noqa: E402
#   __all__ += ["plot_loss_curve"]
from dinof_lite.viz.diagnostics import (  # noqa: E402
    format_table,
    pc_grid_figure,
    plot_loss_curve,
    plot_score_error,
    plot_sweep,
    score_error,
    score_error_by_time,
    score_field_comparison,
)

__all__ += [
    "score_error",
    "score_error_by_time",
    "plot_loss_curve",
    "plot_score_error",
    "score_field_comparison",
    "pc_grid_figure",
    "plot_sweep",
    "format_table",
]

# --------------------------------------------------------------------------- flows
# A flow's layer-by-layer trajectory (dinof_lite/viz/flows.py): 2D stages and paths, image strips.
from dinof_lite.viz.flows import (  # noqa: E402
    angle_colors,
    default_stages,
    flow_image_strip,
    plot_flow_paths,
    plot_flow_stages,
)

__all__ += [
    "default_stages",
    "angle_colors",
    "plot_flow_stages",
    "plot_flow_paths",
    "flow_image_strip",
]

# --------------------------------------------------------------------------- journey
# DiNof's journey across T_m: what is drawn (journey_frame.py), the matplotlib views (journey.py),
# their kernel-free plotly twin (journey_plotly.py), digits (digits_journey.py), sliders (widgets.py).
from dinof_lite.viz.digits_journey import DigitsFrame, digits_dashboard, digits_frame  # noqa: E402
from dinof_lite.viz.journey import (  # noqa: E402
    FLOW_COLOR,
    PATH_COLORS,
    SDE_COLOR,
    journey_dashboard,
    path_colors,
    plot_flow_job,
    plot_marginal_map,
    plot_plane,
    plot_time_axis,
    plot_time_paths,
    plot_tradeoff,
)
from dinof_lite.viz.journey_frame import (  # noqa: E402
    JourneyFrame,
    MarginalMap,
    journey_frame,
    marginal_map,
    project,
)
from dinof_lite.viz.journey_plotly import journey_plotly  # noqa: E402
from dinof_lite.viz.widgets import DigitsTmExplorer, TmExplorer, enable_colab_widgets  # noqa: E402

__all__ += [
    "FLOW_COLOR",
    "SDE_COLOR",
    "PATH_COLORS",
    "path_colors",
    "JourneyFrame",
    "MarginalMap",
    "journey_frame",
    "marginal_map",
    "project",
    "plot_marginal_map",
    "plot_time_paths",
    "plot_time_axis",
    "plot_plane",
    "plot_flow_job",
    "plot_tradeoff",
    "journey_dashboard",
    "journey_plotly",
    "DigitsFrame",
    "digits_frame",
    "digits_dashboard",
    "TmExplorer",
    "DigitsTmExplorer",
    "enable_colab_widgets",
]

# --------------------------------------------------------------------------- schematics
# Boxes-and-arrows diagrams of DiNof, Glow and PC sampling (dinof_lite/viz/schematics.py);
# also usable as `from dinof_lite.viz import schematics`.
from dinof_lite.viz.schematics import (  # noqa: E402
    any_tm_conditioning_diagram,
    dinof_timeline,
    glow_step_diagram,
    multiscale_diagram,
    pc_loop_diagram,
)

__all__ += [
    "dinof_timeline",
    "glow_step_diagram",
    "multiscale_diagram",
    "pc_loop_diagram",
    "any_tm_conditioning_diagram",
]

# --------------------------------------------------------------------------- image slider
# A slider over PNGs drawn beforehand, with a kernel and without (dinof_lite/viz/image_slider.py).
from dinof_lite.viz.image_slider import figure_png, image_slider, image_slider_plotly  # noqa: E402

__all__ += ["figure_png", "image_slider", "image_slider_plotly"]
