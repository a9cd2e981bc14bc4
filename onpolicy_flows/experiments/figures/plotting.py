"""Drawing the paper's comparison figures with matplotlib (Agg backend, PNG and SVG).

Colours follow Figure 3: flow red, GMM K=5 green, GMM K=2 yellow, Gaussian blue. TRPO curves
are solid, ACKTR curves dashed, PPO dotted. Every figure has one legend, below its panels
(`legend_below`), so that it never covers a curve or an axis label.
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402

from onpolicy_flows.experiments.figures.curves import Curve  # noqa: E402
from onpolicy_flows.experiments.reference import ReferenceResult  # noqa: E402

POLICY_COLOURS = {"flow": "tab:red", "gmm-K5": "tab:green", "gmm-K2": "gold",
                  "gaussian": "tab:blue"}
ALGORITHM_LINESTYLES = {"trpo": "-", "acktr": "--", "ppo": ":"}
FIGURE_FORMATS = ("png", "svg")
PANEL_SIZE = (4.5, 3.5)  # inches
LEGEND_FONT_SIZE = 8
LONG_LABEL = 40  # characters; a legend with a longer label gets one column
REFERENCE_GID = "reference"  # marks published numbers, listed last in a legend


@dataclass(frozen=True)
class Band:
    """A curve with its confidence band: `mean`, `low`, `high` [points] at env steps
    `steps` [points], over `runs` runs."""
    label: str
    colour: str
    linestyle: str
    steps: np.ndarray
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    runs: int


def policy_colour(label: str, index: int) -> str:
    """The paper's colour for a policy class; other labels take matplotlib's cycle."""
    return POLICY_COLOURS.get(label, f"C{index % 10}")


def save_figure(figure, out_prefix: str, formats: Sequence[str] = FIGURE_FORMATS) -> List[str]:
    """Writes `out_prefix.<format>` for each format, closes the figure, returns the paths."""
    os.makedirs(os.path.dirname(os.path.abspath(out_prefix)), exist_ok=True)
    paths = [f"{out_prefix}.{extension}" for extension in formats]
    for path in paths:
        figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    return paths


def panel_grid(num_panels: int, max_columns: int = 3):
    """A figure with `num_panels` axes in rows of at most `max_columns`; returns (figure,
    axes list)."""
    columns = min(max_columns, num_panels)
    rows = -(-num_panels // columns)
    figure, axes = plt.subplots(rows, columns, squeeze=False,
                                figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows))
    for unused in axes.flat[num_panels:]:
        unused.set_visible(False)
    return figure, list(axes.flat[:num_panels])


def draw_learning_curves(curves_by_panel: Dict[str, List[Curve]], out_prefix: str,
                         references: Dict[str, List[ReferenceResult]] = None) -> List[str]:
    """One panel per key of `curves_by_panel` (an env): mean +- std of EpRewMean against env
    steps for each curve, labelled by its key's `policy` (and `algorithm` if several are
    drawn). `references[panel]` numbers are drawn as labelled error bars at their budget."""
    figure, axes = panel_grid(len(curves_by_panel))
    algorithms = {curve.key.algorithm for curves in curves_by_panel.values() for curve in curves}
    for axis, (panel, curves) in zip(axes, curves_by_panel.items()):
        for index, curve in enumerate(curves):
            label = curve.key.policy if len(algorithms) == 1 else \
                f"{curve.key.algorithm} {curve.key.policy}"
            draw_mean_std(axis, curve, label, policy_colour(curve.key.policy, index),
                          ALGORITHM_LINESTYLES.get(curve.key.algorithm, ":"))
        for index, reference in enumerate((references or {}).get(panel, [])):
            axis.errorbar([reference.timesteps], [reference.value], yerr=[reference.std or 0],
                          fmt="*", color="black", markersize=10, capsize=4, alpha=0.8,
                          label=f"{reference.env} {reference.algorithm} {reference.policy} "
                                f"({reference.short_source})")
        style_axis(axis, panel)
    legend_below(figure, axes)
    return save_figure(figure, out_prefix)


def draw_bands(bands_by_panel: Dict[str, List[Band]], out_prefix: str,
               lines_by_panel: Optional[Dict[str, List[Tuple[str, float]]]] = None,
               y_label: str = "episode return", max_steps: Optional[float] = None,
               formats: Sequence[str] = ("png",), x_label: str = "env steps") -> List[str]:
    """One panel per key: each band's mean with its shaded interval against its `steps` (env
    steps, or what `x_label` names; from 0 to `max_steps` when given), and each (label,
    value) of `lines_by_panel[panel]` as a horizontal line."""
    figure, axes = panel_grid(len(bands_by_panel))
    for axis, (panel, bands) in zip(axes, bands_by_panel.items()):
        for band in bands:
            axis.plot(band.steps, band.mean, color=band.colour, linestyle=band.linestyle,
                      label=f"{band.label} ({band.runs} run{'s' if band.runs != 1 else ''})")
            axis.fill_between(band.steps, band.low, band.high, color=band.colour, alpha=0.2,
                              linewidth=0)
        for index, (label, value) in enumerate((lines_by_panel or {}).get(panel, [])):
            axis.axhline(value, color="black", linestyle=("--", "-.", ":")[index % 3],
                         linewidth=1, label=label, gid=REFERENCE_GID)
        style_axis(axis, panel, y_label, x_label)
        if max_steps:
            axis.set_xlim(0, max_steps)
    legend_below(figure, axes)
    return save_figure(figure, out_prefix, formats)


def draw_mean_std(axis, curve: Curve, label: str, colour: str, linestyle: str = "-") -> None:
    seeds = len(curve.runs)
    axis.plot(curve.timesteps, curve.mean, color=colour, linestyle=linestyle,
              label=f"{label} ({seeds} seed{'s' if seeds > 1 else ''})")
    axis.fill_between(curve.timesteps, curve.mean - curve.std, curve.mean + curve.std,
                      color=colour, alpha=0.2, linewidth=0)


def style_axis(axis, title: str, y_label: str = "cumulative reward (EpRewMean)",
               x_label: str = "env steps") -> None:
    axis.set_title(title)
    axis.set_xlabel(x_label)
    axis.set_ylabel(y_label)
    axis.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    axis.grid(alpha=0.3)


def legend_below(figure, axes) -> None:
    """One legend for the whole figure, centred below its panels, with each label once
    (published numbers, REFERENCE_GID, last); one column when a label is long, else up to 4."""
    entries = {}
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    entries = dict(sorted(entries.items(), key=lambda entry: is_reference(entry[1])))
    if not entries:
        return
    columns = 1 if max(map(len, entries)) > LONG_LABEL else min(4, len(entries))
    figure.tight_layout()
    figure.legend(list(entries.values()), list(entries), loc="upper center",
                  bbox_to_anchor=(0.5, 0.0), ncol=columns, fontsize=LEGEND_FONT_SIZE,
                  frameon=False)


def is_reference(handle) -> bool:
    """True for a legend handle of a published number (error bars are containers, no gid)."""
    return isinstance(handle, Artist) and handle.get_gid() == REFERENCE_GID


def draw_quantile_plots(finals_by_panel: Dict[str, Dict[str, np.ndarray]], out_prefix: str,
                        y_label: str = "final cumulative reward",
                        formats: Sequence[str] = FIGURE_FORMATS) -> List[str]:
    """Figure 6: per panel (an env), each policy's final returns sorted ascending against
    their quantile level in [0, 1]."""
    figure, axes = panel_grid(len(finals_by_panel))
    for axis, (panel, finals_by_policy) in zip(axes, finals_by_panel.items()):
        for index, (policy, finals) in enumerate(finals_by_policy.items()):
            if len(finals) == 0:  # no finished run of this policy yet
                continue
            axis.plot(quantile_levels(len(finals)), np.sort(finals), marker="o", markersize=3,
                      color=policy_colour(policy, index), label=f"{policy} ({len(finals)} runs)")
        axis.set_title(panel)
        axis.set_xlabel("quantile")
        axis.set_ylabel(y_label)
        axis.grid(alpha=0.3)
    legend_below(figure, axes)
    return save_figure(figure, out_prefix, formats)


def quantile_levels(count: int) -> np.ndarray:
    """[count] levels i / (count - 1) of the sorted values (0.5 for a single value)."""
    return np.linspace(0.0, 1.0, count) if count > 1 else np.array([0.5])
