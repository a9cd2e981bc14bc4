"""What a claim that no grid runs would cost on this machine: the paper's number of runs of
its budget on the nearest task here (reference_results.json's `runs` and `substitute`), at
the wall-clock per env step measured on the finished runs (the original code's own runs
left out: they time other code)."""
from typing import Dict, Sequence, Tuple

import numpy as np

from onpolicy_flows.common.durations import format_duration
from onpolicy_flows.experiments.grids.estimates import median_rates
from onpolicy_flows.experiments.reference import ReferenceResult
from onpolicy_flows.experiments.results.harvested import GridResults
from onpolicy_flows.experiments.results.page_text import counted


def measured_rates(algorithm: str, grid_results: GridResults
                   ) -> Dict[Tuple[str, str], Tuple[float, int]]:
    """(env, policy label) -> (median wall-clock seconds per env step, runs measured) over the
    finished runs of `algorithm` (estimates.median_rates)."""
    return median_rates(((result.member.env, result.member.policy), result.wall_clock,
                         result.member.num_timesteps)
                        for grid, results in grid_results.values()
                        if grid.algorithm == algorithm and not grid.original_code
                        for result in results if np.isfinite(result.wall_clock))


def slowdown(policy: str, measured: str, rates) -> Tuple[float, int]:
    """(median ratio of `policy`'s seconds per step to `measured`'s, tasks behind it) over
    the tasks where both ran; (1.0, 0) where none."""
    ratios = [rates[(env, policy)][0] / rate for (env, label), (rate, _) in rates.items()
              if label == measured and (env, policy) in rates]
    return (float(np.median(ratios)), len(ratios)) if ratios else (1.0, 0)


def cost_on_substitute(reference: ReferenceResult, policies: Sequence[str],
                       grid_results: GridResults) -> str:
    """'; the paper's 60 runs of 5e6 steps would take about 96h00m of one core here on
    Humanoid-v4, ...': the reference's `runs`, split evenly over `policies`, at each policy's
    measured rate on the `substitute` task; a policy not run there at a measured one's rate
    times their median ratio on the other tasks. "" without `runs`, `substitute` or any
    finished run on that task."""
    rates = measured_rates(reference.algorithm, grid_results)
    measured = [policy for policy in policies if (reference.substitute, policy) in rates]
    if not (reference.runs and reference.timesteps and measured):
        return ""
    basis = measured[0]
    parts, seconds = [], 0.0
    for policy in policies:
        if policy in measured:
            rate, runs = rates[(reference.substitute, policy)]
            parts.append(f"the {policy}'s median over its {counted(runs, 'run')} there")
        else:
            ratio, tasks = slowdown(policy, basis, rates)
            rate = rates[(reference.substitute, basis)][0] * ratio
            parts.append(f"the {policy}, not run there, at the {basis}'s rate x {ratio:.2f}, "
                         f"their median ratio over {counted(tasks, 'other task')}")
        seconds += reference.runs / len(policies) * reference.timesteps * rate
    return (f"; the paper's {reference.runs} runs of {reference.timesteps:.0e} steps would take "
            f"about {format_duration(seconds)} of one core here on {reference.substitute}, the "
            f"nearest task (wall-clock per step: {'; '.join(parts)})").replace("e+0", "e")
