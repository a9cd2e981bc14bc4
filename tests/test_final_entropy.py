"""How random each policy ends: the entropy of a run's last iterations, and the counts of
tasks where the more random of two policies ends lower, against hand-computed values."""
import numpy as np
import pytest

from onpolicy_flows.experiments.results import page_final_entropy
from onpolicy_flows.experiments.results.page_final_entropy import (
    DEFAULTS_GRID,
    FIXED_STD_GRID,
    final_entropy,
    inference,
    more_random_ends_lower,
)

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
