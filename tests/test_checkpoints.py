"""Checkpoints: save/load round trips, kill-and-resume (replays: tests/test_replay.py)."""
import csv
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO_ROOT

from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.replay.player import load_learner
from onpolicy_flows.runs.checkpoints import RunCheckpoints, find_checkpoint
from onpolicy_flows.runs.run_dir import create_run_dir
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner

ENV = "InvertedPendulum-v4"


def _command(*args, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=timeout, **kwargs)


@pytest.mark.parametrize("policy", ["gaussian", "gmm", "flow"])
def test_saved_then_loaded_policy_acts_identically(tmp_path, policy):
    """Every saved piece of state, moved away from its initial value, comes back equal."""
    config = TRPOConfig(env=ENV, policy=PolicyConfig(policy=policy), logdir=str(tmp_path))
    run_dir = create_run_dir(config.logdir, config.run_name, config)
    original = TRPOLearner(config, run_dir)
    rng = np.random.default_rng(0)
    for variable in original.policy.trainable_variables:
        variable.assign(variable + 0.1 * rng.standard_normal(variable.shape))
    observations = rng.standard_normal((256, original.policy.obs_dim)).astype(np.float32)
    original.obs_normalizer.update(3.0 + observations)
    original.value_function.fit(original.vf_optimizer, observations,
                                rng.standard_normal(256), 1, 64, 1e-3, rng)
    original.progress.finish_iteration(256)
    RunCheckpoints(run_dir, original.checkpoint_objects()).save(1)
    loaded = load_learner(run_dir)
    for learner in (original, loaded):
        learner.policy.noise.reset_from_seed(123)
    np.testing.assert_array_equal(original.policy.sample(observations)[0].numpy(),
                                  loaded.policy.sample(observations)[0].numpy())
    for name in ("mean", "std"):
        np.testing.assert_array_equal(getattr(original.obs_normalizer, name).numpy(),
                                      getattr(loaded.obs_normalizer, name).numpy())
    assert float(loaded.obs_normalizer.count.numpy()) == pytest.approx(256.01)
    np.testing.assert_array_equal(original.vf_optimizer.first_moment.numpy(),
                                  loaded.vf_optimizer.first_moment.numpy())
    assert np.abs(loaded.vf_optimizer.first_moment.numpy()).max() > 0
    assert int(loaded.progress.timesteps) == 256
    original.close()
    loaded.close()


def _progress_rows(run_dir):
    path = os.path.join(run_dir, "progress.csv")
    if not os.path.exists(path):
        return []
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _wait_for_rows(logdir, rows: int, timeout: float = 240) -> str:
    """Waits until the single run directory under `logdir` has logged `rows` iterations;
    returns its path."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        run_dirs = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
        if run_dirs and len(_progress_rows(run_dirs[0])) >= rows:
            (run_dir,) = run_dirs
            return run_dir
        time.sleep(0.2)
    raise AssertionError(f"no run under {logdir} logged {rows} iterations in {timeout} s")


def test_run_killed_midway_resumes_to_the_same_timesteps_without_gaps(tmp_path):
    flags = ["run.trpo", "--env", ENV, "--timesteps-per-batch", "256",
             "--num-timesteps", "5120", "--save-every", "3", "--logdir", str(tmp_path)]
    process = subprocess.Popen([sys.executable, "-m", *flags], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run_dir = _wait_for_rows(tmp_path, 8)
    process.send_signal(signal.SIGKILL)  # no chance to save: the last periodic one counts
    process.wait()
    rows_at_kill = len(_progress_rows(run_dir))
    assert 8 <= rows_at_kill < 20
    resumed = _command("run.trpo", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    rows = _progress_rows(run_dir)
    assert [int(float(row["Iteration"])) for row in rows] == list(range(1, 21))
    assert [int(float(row["TimestepsSoFar"])) for row in rows] == list(range(256, 5121, 256))
    assert find_checkpoint(run_dir).endswith("ckpt-20")


def test_sigterm_stops_after_the_iteration_with_a_checkpoint(tmp_path):
    flags = ["run.trpo", "--env", ENV, "--timesteps-per-batch", "256",
             "--num-timesteps", "100000", "--save-every", "1000", "--logdir", str(tmp_path)]
    process = subprocess.Popen([sys.executable, "-m", *flags], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    run_dir = _wait_for_rows(tmp_path, 2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0
    assert "continue with --resume" in output
    iterations = len(_progress_rows(run_dir))
    assert find_checkpoint(run_dir).endswith(f"ckpt-{iterations}")
