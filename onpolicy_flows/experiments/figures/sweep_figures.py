"""Figures of a finished (or partly finished) sweep: quantile plots of final returns
(Figure 6) and mean +- std curves per setting (Figure 7). Unfinished members are left out."""
from collections import defaultdict
from typing import Dict, List

import numpy as np

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.figures import curves as curves_lib
from onpolicy_flows.experiments.figures.plotting import draw_learning_curves, draw_quantile_plots
from onpolicy_flows.experiments.grids.sweep import load_members, member_run_dir
from onpolicy_flows.experiments.runs import Run, is_finished, load_run


def finished_runs_by_setting(sweep_dir: str) -> Dict[str, List[Run]]:
    runs = defaultdict(list)
    for member in load_members(sweep_dir):
        run_dir = member_run_dir(sweep_dir, member)
        if run_dir is not None and is_finished(run_dir):
            runs[member.setting].append(load_run(run_dir))
    if not runs:
        raise UserError(f"no finished run in the sweep {sweep_dir}")
    return dict(runs)


def final_returns(runs: List[Run]) -> np.ndarray:
    """[runs] the last logged EpRewMean of each run."""
    return np.array([run.returns[-1] for run in runs if len(run.returns)])


def draw_quantiles(sweep_dir: str, out_prefix: str) -> Dict[str, np.ndarray]:
    """Figure 6 for the sweep's env; returns the final returns per setting (policy)."""
    runs = finished_runs_by_setting(sweep_dir)
    finals = {setting: final_returns(group) for setting, group in runs.items()}
    env = next(iter(runs.values()))[0].env
    draw_quantile_plots({env: finals}, out_prefix)
    return finals


def draw_setting_curves(sweep_dir: str, out_prefix: str) -> List[curves_lib.Curve]:
    """Figure 7: one curve per setting (mean +- std over its seeds, labelled by the setting
    in the legend), one panel per env."""
    runs = finished_runs_by_setting(sweep_dir)
    curves = [curves_lib.mean_curve(
        curves_lib.GroupKey(group[0].algorithm, group[0].env, setting), group)
        for setting, group in runs.items()]
    by_env = defaultdict(list)
    for curve in curves:
        by_env[curve.key.env].append(curve)
    draw_learning_curves(dict(by_env), out_prefix)
    return curves
