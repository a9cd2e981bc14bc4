"""Figure 2(c) tooling: centre-of-mass paths of replayed Ant policies."""
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
from conftest import REPO_ROOT

from onpolicy_flows.experiments.figures.trajectories import _centre_of_mass, centre_of_mass_paths
from onpolicy_flows.trpo_mpi import TRPOConfig, learn


def test_centre_of_mass_is_the_mass_weighted_mean_of_the_bodies():
    env = gym.make("Ant-v4")
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())
    model, data = env.unwrapped.model, env.unwrapped.data
    expected = (model.body_mass[:, None] * data.xipos).sum(0) / model.body_mass.sum()
    np.testing.assert_allclose(_centre_of_mass(env), expected[:2], atol=1e-9)
    env.close()


def test_trajectories_of_saved_ant_runs(tmp_path):
    config = TRPOConfig(env="Ant-v4", timesteps_per_batch=128, num_timesteps=128,
                        logdir=str(tmp_path / "runs"))
    learn(config)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path / "runs")]
    paths = centre_of_mass_paths(run_dir, episodes=2, seed=0, max_steps=30)
    assert len(paths) == 2
    for path in paths:
        assert path.shape[1] == 2 and 2 <= len(path) <= 31
        assert np.abs(path[0]).max() < 0.5  # episodes start near the origin
        assert np.abs(np.diff(path, axis=0)).max() > 0  # and the body moves
    out = tmp_path / "com.png"
    completed = subprocess.run(
        [sys.executable, "-m", "run.trajectories", run_dir, run_dir, "--episodes", "1",
         "--max-steps", "20", "--out", str(out)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "mean final distance" in completed.stdout
    assert out.exists() and (tmp_path / "com.svg").exists()
