"""Figures 3-5: learning curves per env and the table of final returns, from run dirs."""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.figures import curves as curves_lib
from onpolicy_flows.experiments.figures.plotting import draw_learning_curves
from onpolicy_flows.experiments.figures.summary import claims_list, final_returns_table
from onpolicy_flows.experiments.reference import (
    ReferenceResult,
    load_reference_results,
    references_for,
)
from onpolicy_flows.experiments.runs import find_run_dirs, load_run


def compare_runs(paths: Sequence[str], out_prefix: str, budget: Optional[float] = None,
                 with_reference: bool = False,
                 num_points: int = curves_lib.GRID_POINTS) -> str:
    """Draws `out_prefix`.png/.svg (one panel per env) from the runs under `paths` and returns
    the markdown report: the table of final returns at `budget` env steps (None: the end of
    each group's common grid) and, with `with_reference`, the published numbers and claims."""
    runs = [load_run(path) for path in find_run_dirs(paths)]
    groups = curves_lib.group_runs(runs)
    if not groups:
        raise UserError(f"no run with a logged episode under {', '.join(paths)}")
    curves_by_env = panels_by_env(curves_lib.mean_curves(groups, num_points))
    references = matching_references(groups, load_reference_results()) if with_reference \
        else {}
    draw_learning_curves(curves_by_env, out_prefix,
                         {env: [ref for ref in refs if ref.is_number]
                          for env, refs in references.items()})
    finals = [curves_lib.final_return(key, group, budget) for key, group in groups.items()]
    all_references = list(dict.fromkeys(ref for refs in references.values() for ref in refs))
    report = final_returns_table(finals, all_references)
    claims = claims_list(all_references)
    return f"{report}\n\nClaims of the paper for these tasks:\n{claims}" if claims else report


def panels_by_env(curves: List[curves_lib.Curve]) -> Dict[str, List[curves_lib.Curve]]:
    panels = defaultdict(list)
    for curve in curves:
        panels[curve.key.env].append(curve)
    return dict(panels)


def matching_references(groups, references: List[ReferenceResult]
                        ) -> Dict[str, List[ReferenceResult]]:
    """env -> the references for that env and any algorithm among the groups' keys."""
    by_env = defaultdict(list)
    for key in groups:
        for reference in references_for(key.env, key.algorithm, references):
            if reference not in by_env[key.env]:
                by_env[key.env].append(reference)
    return dict(by_env)
