"""Run discovery, grouping, step alignment and the final-return table on synthetic runs."""
import json
import os

import numpy as np
import pytest

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.figures import curves
from onpolicy_flows.experiments.figures.comparison import compare_runs
from onpolicy_flows.experiments.runs import find_run_dirs, load_run


def write_run(parent, name, timesteps, returns, policy="gaussian", env="Hopper-v4",
              seed=0, extra_config=None, num_components=2):
    path = os.path.join(parent, name)
    os.makedirs(path)
    config = dict(env=env, seed=seed, num_timesteps=int(max(timesteps)), format_version=1,
                  policy=dict(policy=policy, num_components=num_components),
                  **(extra_config or {}))
    with open(os.path.join(path, "config.json"), "w") as file:
        json.dump(config, file)
    with open(os.path.join(path, "progress.csv"), "w") as file:
        file.write("EpLenMean,EpRewMean,TimestepsSoFar\n")
        for step, value in zip(timesteps, returns):
            file.write(f"10,{'' if value is None else value},{step}\n")
    return path


@pytest.fixture
def logs(tmp_path):
    """Two Gaussian seeds logged at different steps (return = t/10 and t/10 + 100), a GMM
    K=5 run, an ACKTR run, and a Hopper-v1 run that must join Hopper-v4."""
    write_run(tmp_path, "trpo-a", [1000, 2000, 3000, 4000], [None, 200, 300, 400], seed=0)
    write_run(tmp_path, "nested/trpo-b", [1500, 2500, 3500], [250, 350, 450], seed=1)
    write_run(tmp_path, "trpo-gmm", [1000, 2000], [5, 7], policy="gmm", num_components=5)
    write_run(tmp_path, "acktr-x", [1000, 2000], [1, 2], extra_config=dict(desired_kl=0.002))
    write_run(tmp_path, "old-id", [1000, 2000], [3, 4], env="Hopper-v1", policy="flow")
    return tmp_path


def test_find_run_dirs_accepts_parents_globs_and_dirs(logs):
    assert len(find_run_dirs([str(logs)])) == 5
    assert [os.path.basename(p) for p in find_run_dirs([str(logs / "trpo-*")])] == \
        ["trpo-a", "trpo-gmm"]
    with pytest.raises(UserError):
        find_run_dirs([str(logs / "missing")])


def test_grouping_by_algorithm_env_and_policy(logs):
    groups = curves.group_runs([load_run(p) for p in find_run_dirs([str(logs)])])
    assert {key: len(runs) for key, runs in groups.items()} == {
        curves.GroupKey("trpo", "Hopper-v4", "gaussian"): 2,
        curves.GroupKey("trpo", "Hopper-v4", "gmm-K5"): 1,
        curves.GroupKey("acktr", "Hopper-v4", "gaussian"): 1,
        curves.GroupKey("trpo", "Hopper-v4", "flow"): 1,
    }


def test_alignment_on_the_common_grid(logs):
    runs = [load_run(str(logs / "trpo-a")), load_run(str(logs / "nested/trpo-b"))]
    assert runs[0].timesteps.tolist() == [2000, 3000, 4000]  # the NaN row is dropped
    curve = curves.mean_curve("gaussian", runs, num_points=5)
    np.testing.assert_allclose(curve.timesteps, [2000, 2375, 2750, 3125, 3500])
    np.testing.assert_allclose(curve.mean, curve.timesteps / 10 + 50)
    np.testing.assert_allclose(curve.std, 50.0)


def test_final_return_at_a_budget_uses_the_runs_that_reached_it(logs):
    runs = [load_run(str(logs / "trpo-a")), load_run(str(logs / "nested/trpo-b"))]
    at_3000 = curves.final_return("g", runs, budget=3000)
    assert (at_3000.mean, at_3000.std, at_3000.num_runs) == (350.0, 50.0, 2)
    at_4000 = curves.final_return("g", runs, budget=4000)
    assert (at_4000.mean, at_4000.num_runs) == (400.0, 1)
    assert curves.final_return("g", runs).timesteps == 3500


def test_compare_runs_writes_figures_and_table(logs, tmp_path):
    out = str(tmp_path / "figs" / "curves")
    report = compare_runs([str(logs)], out, budget=3000, with_reference=True)
    assert os.path.getsize(out + ".png") > 0 and os.path.getsize(out + ".svg") > 0
    assert "| trpo | Hopper-v4 | gaussian | 3000 | 350.0 +- 50.0 | 2 | ours |" in report
    assert "| trpo | Hopper-v3 | gaussian | 1000000 | 3618.4 +- 356.8 | 1 | SB3 RL Zoo" in report
    assert "flow > gmm-K2, gmm-K5, gaussian" in report
