"""The figures of the results page, drawn from harvested results (results.py): learning curves
per task with bootstrap bands and the published numbers as lines, and Figure 6's quantiles."""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from onpolicy_flows.experiments import episodes
from onpolicy_flows.experiments.figures.plotting import (
    ALGORITHM_LINESTYLES,
    Band,
    draw_bands,
    draw_quantile_plots,
    policy_colour,
)
from onpolicy_flows.experiments.grids.grid import Grid
from onpolicy_flows.experiments.reference import ReferenceResult, references_for, task_name
from onpolicy_flows.experiments.results.harvested import (
    MemberResult,
    by_task_and_policy,
    finals_by_task_and_policy,
    group_results,
)
from onpolicy_flows.experiments.results.statistics import mean_band

Y_LABEL = "episode return (training episodes)"
VARIANT_LINESTYLE = "--"


def band(results: Sequence[MemberResult], label: str, colour: str, linestyle: str) -> Band:
    """The mean curve of `results` (one grid, one budget) with its 95% bootstrap band."""
    curves = np.stack([result.curve for result in results])  # [runs, bins]
    mean, low, high = mean_band(curves)
    steps = episodes.bin_centres(results[0].member.num_timesteps, curves.shape[1])
    return Band(label, colour, linestyle, steps, mean, low, high, len(results))


def published_lines(env: str, algorithm: str, references: List[ReferenceResult]
                    ) -> List[Tuple[str, float]]:
    """(label, value) of the published training-return numbers for `algorithm` on `env`."""
    return [(f"published {reference.algorithm} {reference.policy}, "
             f"{task_version(reference.env)} task ({reference.short_source})", reference.value)
            for reference in references_for(env, algorithm, references)
            if reference.is_training_return]


def task_version(env_id: str) -> str:
    """'Hopper-v2' -> 'v2'; the id itself when it has no version."""
    return env_id[len(task_name(env_id)) + 1:] or env_id


def draw_grid_curves(grid: Grid, results: Sequence[MemberResult], out_prefix: str,
                     references: List[ReferenceResult],
                     baseline: Optional[Sequence[MemberResult]] = None) -> List[str]:
    """One panel per task of `grid`: a band per policy; for a variant grid, the same policy
    of the grid it varies (`baseline`, solid) beside the variant (dashed)."""
    if baseline is None:
        sources = [("", ALGORITHM_LINESTYLES.get(grid.algorithm, "-"), results)]
    else:
        sources = [("", "-", baseline), (f"{grid.variant}: ", VARIANT_LINESTYLE, results)]
    bands_by_panel = {env: [] for env in grid.envs}
    for prefix, linestyle, source in sources:
        groups = group_results(source, by_task_and_policy)
        for index, policy in enumerate(grid.policies):
            for env in grid.envs:
                if (env, policy) in groups:
                    bands_by_panel[env].append(band(groups[env, policy], prefix + policy,
                                                    policy_colour(policy, index), linestyle))
    lines = {env: published_lines(env, grid.algorithm, references) for env in grid.envs}
    return draw_bands(bands_by_panel, out_prefix, lines, Y_LABEL, grid.num_timesteps)


def draw_per_iteration(series_by_panel: Dict[str, List[Tuple[str, np.ndarray]]],
                       out_prefix: str, y_label: str) -> List[str]:
    """One panel per key: for each (label, values [runs, iterations]) the mean over runs per
    iteration with its 95% bootstrap band (runs cut to the shortest)."""
    bands_by_panel = {}
    for panel, series in series_by_panel.items():
        bands_by_panel[panel] = []
        for index, (label, values) in enumerate(series):
            mean, low, high = mean_band(values)
            bands_by_panel[panel].append(Band(label, f"C{index % 10}", "-",
                                              np.arange(values.shape[1]), mean, low, high,
                                              len(values)))
    return draw_bands(bands_by_panel, out_prefix, y_label=y_label, x_label="iteration")


def draw_max_kl_quantiles(grid: Grid, results: Sequence[MemberResult], out_prefix: str
                          ) -> List[str]:
    """Figure 6: per task, each policy's final returns over the max_kl draws, sorted, against
    their quantile level."""
    return draw_quantile_plots(finals_by_task_and_policy(grid, results), out_prefix,
                               "final return (last 5% of steps)", ("png",))
