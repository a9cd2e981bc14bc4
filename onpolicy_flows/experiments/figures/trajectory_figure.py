"""Figure 2(c): centre-of-mass paths, one panel per run, on shared axes."""
import os
from typing import Dict, List

import numpy as np

from onpolicy_flows.experiments.figures.plotting import panel_grid, save_figure


def draw_paths(paths: Dict[str, List[np.ndarray]], out_path: str) -> List[str]:
    """`paths`: run directory -> [steps, 2] (x, y) arrays; writes PNG and SVG beside
    `out_path` (its extension is replaced); returns the files written."""
    figure, axes = panel_grid(len(paths))
    everything = np.concatenate([path for run_paths in paths.values() for path in run_paths])
    reach = float(np.abs(everything).max()) * 1.05 + 1e-6
    for axis, (run_dir, run_paths) in zip(axes, paths.items()):
        for path in run_paths:
            (line,) = axis.plot(path[:, 0], path[:, 1], linewidth=1)
            axis.plot(path[-1, 0], path[-1, 1], "o", markersize=3, color=line.get_color())
        axis.plot(0, 0, "k+", markersize=10)
        axis.set_xlim(-reach, reach)
        axis.set_ylim(-reach, reach)
        axis.set_aspect("equal")
        axis.set_title(os.path.basename(os.path.normpath(run_dir)), fontsize=7)
        axis.set_xlabel("x (m)")
        axis.set_ylabel("y (m)")
    return save_figure(figure, os.path.splitext(out_path)[0])
