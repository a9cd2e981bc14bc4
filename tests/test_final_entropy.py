"""How random each policy ends: the entropy of a run's last iterations, and the counts of
tasks where the more random of two policies ends lower, against hand-computed values."""
import numpy as np
import pytest

from onpolicy_flows.experiments.grids.grid import load_grid
from onpolicy_flows.experiments.results import page_final_entropy
from onpolicy_flows.experiments.results.harvested import MemberResult
from onpolicy_flows.experiments.results.page_final_entropy import (
    DEFAULTS_GRID,
    FIXED_STD_GRID,
    FLOW_SIZES_GRID,
    final_entropy,
    inference,
    more_random_ends_lower,
    size_ranking_line,
)
from onpolicy_flows.experiments.results.parity import logged

FLOW, GAUSSIAN, STD_1 = ((DEFAULTS_GRID, "flow"), (DEFAULTS_GRID, "gaussian"),
                         (FIXED_STD_GRID, "gaussian"))


def test_final_entropy_averages_the_last_five_percent_of_iterations(monkeypatch):
    logged = {"entropy": np.arange(40.0)}
    monkeypatch.setattr(page_final_entropy, "logged",
                        lambda root, grid, result, key: logged.get(key, np.zeros(0)))
    assert final_entropy("results", None, None) == pytest.approx(38.5)  # rows 38 and 39
    logged["entropy"] = np.array([5.0, np.nan, 3.0])
    assert final_entropy("results", None, None) == pytest.approx(3.0)  # at least one row
    logged["entropy"] = np.zeros(0)
    assert np.isnan(final_entropy("results", None, None))


def table(*cells_per_task):
    """task -> {column: (entropy, final return)} from (flow, gaussian, std-1) triples."""
    return {f"task{index}": dict(zip((FLOW, GAUSSIAN, STD_1), cells))
            for index, cells in enumerate(cells_per_task)}


def test_the_more_random_policy_ending_lower_is_counted_per_task():
    tasks = table(((2.0, 10.0), (1.0, 20.0), (9.0, 5.0)),   # flow more random, lower
                  ((2.0, 30.0), (1.0, 20.0), (9.0, 50.0)),  # flow more random, higher
                  ((0.0, 10.0), (1.0, 20.0), (9.0, 5.0)))   # flow less random, lower
    assert more_random_ends_lower(tasks, FLOW, GAUSSIAN) == (3, 2, 1)
    assert more_random_ends_lower(tasks, GAUSSIAN, FLOW) == (3, 1, 0)
    assert more_random_ends_lower(tasks, STD_1, FLOW) == (3, 3, 2)


def test_the_inference_is_printed_only_where_the_runs_bear_it_out():
    columns = [GAUSSIAN, FLOW, STD_1]
    bears_out = table(((2.0, 10.0), (1.0, 20.0), (9.0, 5.0)),
                      ((2.0, 10.0), (1.0, 20.0), (9.0, 5.0)))
    assert inference(bears_out, columns) == page_final_entropy.INFERENCE
    against = table(((2.0, 30.0), (1.0, 20.0), (9.0, 50.0)),
                    ((2.0, 30.0), (1.0, 20.0), (9.0, 50.0)))
    assert inference(against, columns).startswith("The runs do not bear out")


def test_the_flow_sizes_are_ranked_by_entropy_against_return():
    """Three sizes whose entropies rise as their returns fall: rank correlation -1; with the
    returns reordered (ranks 0, 2, 1 against 0, 1, 2) it is +0.5; tied entropies share
    their mean rank; a constant side leaves it undefined."""
    sizes = [(FLOW_SIZES_GRID, policy) for policy in ("flow", "flow-K2", "flow-K6")]
    label = {column: column[1] for column in sizes}
    falling = dict(zip(sizes, [(1.0, 30.0), (2.0, 20.0), (3.0, 10.0)]))
    assert size_ranking_line("Reacher-v4", falling, label).endswith(
        "rank correlation of final entropy and final return is -1.00.")
    mixed = dict(zip(sizes, [(1.0, 10.0), (2.0, 30.0), (3.0, 20.0)]))
    assert size_ranking_line("Hopper-v4", mixed, label) == (
        "- Hopper-v4: the least random size, flow, ends with entropy 1.00; the size with the "
        "highest final return, flow-K2, ends with 30.0; over the 3 sizes the rank correlation "
        "of final entropy and final return is +0.50.")
    tied = dict(zip(sizes, [(1.0, 10.0), (1.0, 20.0), (3.0, 30.0)]))  # ranks .5 .5 2; 0 1 2
    assert size_ranking_line("Hopper-v4", tied, label).endswith("is +0.87.")
    flat = dict(zip(sizes, [(1.0, 10.0), (1.0, 20.0), (1.0, 30.0)]))
    assert size_ranking_line("Hopper-v4", flat, label).endswith("is undefined.")


def test_the_flow_sizes_section_waits_for_runs_and_labels_the_default(monkeypatch):
    """No section before fig7 has runs; then a column per size, the default's labelled with
    its K and l1, and a ranking line only for the tasks with at least 3 sizes."""
    fig7 = load_grid(FLOW_SIZES_GRID)
    assert page_final_entropy.flow_sizes_section({FLOW_SIZES_GRID: (fig7, [])}, "r") is None

    def cells(root, grid_results, columns, env):
        kept = columns if env == "Reacher-v4" else columns[:2]
        return {column: (float(index), 10.0 - index) for index, column in enumerate(kept)}
    monkeypatch.setattr(page_final_entropy, "entropy_and_return", cells)
    section = page_final_entropy.flow_sizes_section({FLOW_SIZES_GRID: (fig7, [])}, "r")
    assert "| task | flow (K = 4, l1 = 3) | flow-K2 | flow-K6 | flow-l5 | flow-l7 |" in section
    assert "| Hopper-v4 | 0.00 / 10.0 | 1.00 / 9.0 | - | - | - |" in section
    assert "- Reacher-v4:" in section and "- Hopper-v4:" not in section
    assert section.endswith("is -1.00.")


def test_a_reused_members_log_is_read_from_the_grid_that_trains_it(tmp_path):
    """fig7's default flow is fig3_trpo's run: its entropy column comes from there."""
    fig7 = load_grid(FLOW_SIZES_GRID)
    member = next(member for member in fig7.members() if member.policy == "flow")
    run_dir = tmp_path / DEFAULTS_GRID / member.name
    run_dir.mkdir(parents=True)
    (run_dir / "progress.csv").write_text("TimestepsSoFar,entropy\n1024,1.5\n2048,0.5\n")
    result = MemberResult(member, np.zeros(100), 0.0, 60.0, "abc")
    assert logged(str(tmp_path), fig7, result, "entropy").tolist() == [1.5, 0.5]
