"""Sweeps: settings, sweep.json, and resuming without redoing finished runs."""
import json
import os

import numpy as np
import pytest

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids import sweep


def test_kl_settings_are_in_range_shared_by_policies_and_reproducible():
    members = sweep.kl_sensitivity_members("Hopper-v4", ["gaussian", "flow"], 10, [0, 1, 2],
                                           1000)
    max_kls = np.array([member.flags["max_kl"] for member in members])
    assert len(members) == 20 and np.all((max_kls >= 1e-3) & (max_kls <= 1e-2))
    assert max_kls[0::2].tolist() == max_kls[1::2].tolist()  # same settings per policy
    assert members == sweep.kl_sensitivity_members("Hopper-v4", ["gaussian", "flow"], 10,
                                                   [0, 1, 2], 1000)


def test_ablation_grid():
    settings = {member.setting for member in sweep.flow_ablation_members("Reacher-v4", [0], 10)}
    assert settings == {"K=2 l1=3", "K=4 l1=3", "K=6 l1=3", "K=4 l1=5", "K=4 l1=7"}


def fake_finished_run(sweep_dir, member):
    run_dir = os.path.join(sweep_dir, member.name, "trpo-fake")
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "config.json"), "w") as file:
        json.dump(dict(member.flags, policy=dict(policy="gaussian")), file)
    with open(os.path.join(run_dir, "progress.csv"), "w") as file:
        file.write(f"EpRewMean,TimestepsSoFar\n-1.0,{member.flags['num_timesteps']}\n")


def test_resume_skips_finished_runs_and_reruns_unfinished(tmp_path):
    flags = dict(env="Pendulum-v1", policy="gaussian", num_timesteps=256,
                 timesteps_per_batch=128, vf_batch_size=32)
    done, todo = (sweep.SweepMember(f"m{seed}", "gaussian", dict(flags, seed=seed))
                  for seed in (0, 1))
    sweep_dir = str(tmp_path)
    fake_finished_run(sweep_dir, done)
    os.makedirs(os.path.join(sweep_dir, todo.name, "trpo-interrupted"))  # not a run dir yet
    assert sweep.run_sweep(sweep_dir, [done, todo]) == ["m1"]
    assert os.path.isdir(os.path.join(sweep_dir, "m0", "trpo-fake"))
    assert sweep.is_member_finished(sweep_dir, todo)
    assert sweep.run_sweep(sweep_dir, [done, todo]) == []
    with pytest.raises(UserError):
        sweep.run_sweep(sweep_dir, [done])  # other members than sweep.json lists
