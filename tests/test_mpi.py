"""MPI behaviour under `mpirun -np 2`: reductions equal single-process numbers on the pooled
data, and TRPO workers hold identical parameters after training."""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
from conftest import REPO_ROOT, mpirun_command
from mpi_scripts.check_reductions import rank_data

SCRIPTS = os.path.join(REPO_ROOT, "tests", "mpi_scripts")


def _run_ranks(num_ranks, script, *args, timeout=300):
    """Runs a script under mpirun; returns each rank's JSON result, ordered by rank."""
    with tempfile.TemporaryDirectory() as out_dir:
        completed = subprocess.run(
            mpirun_command(num_ranks, os.path.join(SCRIPTS, script), *args),
            capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
            env=dict(os.environ, MPI_TEST_OUT=out_dir))
        assert completed.returncode == 0, completed.stderr[-3000:]
        results = []
        for rank in range(num_ranks):
            with open(os.path.join(out_dir, f"rank{rank}.json")) as file:
                results.append(json.load(file))
    return results


def test_running_mean_std_and_allreduce_agree_with_single_process_numbers():
    ranks = _run_ranks(2, "check_reductions.py")
    pooled = np.concatenate([rank_data(0), rank_data(1)])
    prior = 1e-2  # the pseudo-count of the running statistics
    count = len(pooled) + prior
    mean = pooled.sum(axis=0) / count
    variance = (np.square(pooled).sum(axis=0) + prior) / count - mean ** 2
    for result in ranks:
        assert result["size"] == 2
        np.testing.assert_allclose(result["mean"], mean, rtol=1e-12)
        np.testing.assert_allclose(result["std"], np.sqrt(variance), rtol=1e-12)
        np.testing.assert_allclose(result["allreduce_mean"], np.arange(4.0) * 1.5)
        np.testing.assert_allclose(result["broadcast"], [0.0, 0.0])
    np.testing.assert_allclose(mean, pooled.mean(axis=0), rtol=1e-3)


def test_ranks_share_out_tracing_and_load_what_the_others_traced(tmp_path, monkeypatch):
    monkeypatch.setenv("ONPOLICY_FLOWS_TRACE_CACHE", str(tmp_path))
    first, second = _run_ranks(2, "check_shared_tracing.py")
    assert first["traced"] == ["first", "fourth"]  # dealt out in snake order
    assert second["traced"] == ["second", "third"]
    expected = [[factor + 1.0, 2.0 - factor] for factor in (1.0, 2.0, 3.0, 4.0)]
    assert first["values"] == second["values"] == expected


def test_a_rank_whose_share_of_tracing_fails_ends_the_job_instead_of_hanging(tmp_path):
    completed = subprocess.run(
        mpirun_command(2, os.path.join(SCRIPTS, "check_shared_tracing.py"), "failing"),
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT,
        env=dict(os.environ, MPI_TEST_OUT=str(tmp_path),
                 ONPOLICY_FLOWS_TRACE_CACHE=str(tmp_path / "cache")))
    assert completed.returncode != 0
    assert "must return None, a tensor or a tuple of tensors" in completed.stderr


@pytest.mark.parametrize("policy", ["gaussian", "flow"])
def test_trpo_ranks_hold_identical_parameters(policy):
    first, second = _run_ranks(2, "check_trpo_sync.py", policy)
    assert first["first_actions"] != second["first_actions"]  # each rank its own data
    assert first["timesteps"] == second["timesteps"] == 2 * 2 * 256  # iterations x ranks x batch
    assert first["policy_params"] == second["policy_params"]
    assert first["vf_params"] == second["vf_params"]
    assert first["meankls"] == second["meankls"]
    assert max(first["meankls"]) > 0  # a step was taken (the flow skips one when its
    # sample-KL Hessian gives a non-positive quadratic form; at this seed it takes both)


@pytest.mark.parametrize("policy", ["gaussian", "flow"])
def test_acktr_ranks_collect_different_data_yet_take_identical_steps(policy):
    """Each rank collects its own episodes (more than 400 / 2 steps each), yet policies,
    value functions and observation filters agree, and the counts cover both ranks."""
    first, second = _run_ranks(2, "check_acktr_sync.py", policy)
    assert first["first_actions"] != second["first_actions"]
    assert first["parameters"] == second["parameters"]
    assert first["filter_mean"] == second["filter_mean"]
    # every episode's reset observation and every step's next observation, on both ranks
    assert first["filter_count"] == second["filter_count"] \
        == first["timesteps"] + first["episodes"]
    assert first["timesteps"] == second["timesteps"] > 3 * 400
    assert first["episodes"] == second["episodes"] and first["kl"] == second["kl"] > 0


@pytest.mark.parametrize("policy", ["gaussian", "flow"])
def test_ppo_ranks_collect_different_data_yet_hold_identical_parameters(policy):
    """Two ranks of two environments each: their own actions, yet the same parameters, Adam
    moments and normaliser statistics (over all 4 environments' steps), and counts that
    cover both ranks."""
    first, second = _run_ranks(2, "check_ppo_sync.py", policy)
    assert first["first_actions"] != second["first_actions"]
    assert first["parameters"] == second["parameters"]
    assert first["adam_moment"] == second["adam_moment"]
    assert first["obs_mean"] == second["obs_mean"]
    assert first["returns_std"] == second["returns_std"]
    for result in (first, second):
        assert result["obs_count"] == result["returns_count"] == pytest.approx(
            1e-4 + 3 * 2 * 256)  # iterations x ranks x steps per rank
        assert result["timesteps"] == 3 * 2 * 256
    assert first["approxkl"] == second["approxkl"] > 0


@pytest.mark.parametrize("algorithm", ["trpo", "acktr"])
def test_a_single_process_run_resumes_under_two_ranks(tmp_path, algorithm):
    batch = {"trpo": 256, "acktr": 300}[algorithm]
    flags = ["--env", "InvertedPendulum-v4", "--timesteps-per-batch", str(batch),
             "--save-every", "1", "--logdir", str(tmp_path)]
    if algorithm == "acktr":
        flags += ["--hidden-sizes", "16", "16"]
    first = subprocess.run([sys.executable, "-m", f"run.{algorithm}", *flags,
                            "--num-timesteps", str(2 * batch)], cwd=REPO_ROOT,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-2000:]
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    resumed = subprocess.run(
        mpirun_command(2, "-m", f"run.{algorithm}", "--resume", run_dir, "--num-timesteps",
                       str(6 * batch)), cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    steps = [float(row["TimestepsSoFar"]) for row in rows]
    assert [int(float(row["Iteration"])) for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) >= 3 and steps[-1] >= 6 * batch
    assert os.path.exists(os.path.join(run_dir, "monitor.1.csv"))  # rank 1 ran its episodes
    if algorithm == "trpo":  # steps per rank: one rank's batches, then two ranks'
        assert np.diff(steps)[0] == batch and np.diff(steps)[-1] == 2 * batch


def test_per_step_ppo_under_two_ranks_is_refused_in_one_line_before_a_run_dir(tmp_path):
    """`--original` sets PPO's per-step normalisation, which is single-process."""
    refused = subprocess.run(
        mpirun_command(2, "-m", "run.ppo", "--env", "InvertedPendulum-v4", "--original",
                       "--logdir", str(tmp_path)),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    lines = [line for line in refused.stderr.splitlines() if "single-process" in line]
    assert len(lines) == 1, refused.stderr[-2000:]  # rank 0 alone prints it
    assert "Traceback" not in refused.stderr
    assert not os.listdir(tmp_path)
