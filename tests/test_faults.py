"""Faults never cost a user their run: a broken environment, a poisoned update, a full disk
and a kill mid-write each end with one line, the last good checkpoint and a run directory
that resumes."""
import csv
import errno
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import REPO_ROOT

from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.runs.checkpoints import RunCheckpoints, find_checkpoint
from onpolicy_flows.runs.logger import Logger
from onpolicy_flows.runs.rollback import Rollback
from onpolicy_flows.trpo_mpi import TRPOConfig, learn

TESTS = os.path.dirname(os.path.abspath(__file__))


def _command(*args):
    """`python -m ARGS` from the repository with tests/ importable (the user's env module)."""
    environment = dict(os.environ, PYTHONPATH=TESTS)
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600, env=environment)


def _rows(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        return list(csv.DictReader(file))


def _only_run_dir(logdir):
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    return run_dir


def _error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("algorithm, env_id, quantity, batch", [
    ("trpo", "Pendulum-v1", "observation", 512),
    ("acktr", "InvertedPendulum-v4", "reward", 300),
    ("ppo", "Pendulum-v1", "reward", 512)])
def test_nan_from_the_environment_stops_the_run_at_once_and_it_resumes(
        tmp_path, algorithm, env_id, quantity, batch):
    kwargs = dict(env_id=env_id, after=1500, quantity=quantity)
    flags = [f"run.{algorithm}", "--env", "faulty_envs:NanAfter-v0", "--env-kwargs",
             json.dumps(kwargs), "--timesteps-per-batch", str(batch), "--save-every", "1",
             "--num-timesteps", "4000", "--logdir", str(tmp_path)]
    if algorithm == "acktr":
        flags += ["--hidden-sizes", "16", "16"]
    stopped = _command(*flags)
    assert stopped.returncode == 2, stopped.stderr[-2000:]
    (line,) = _error_lines(stopped.stderr)
    assert line.startswith(f"error: {env_id}") or line.startswith("error: NanAfter-v0")
    assert f"non-finite {quantity} at its step 1500 on rank 0 (env 0)" in line
    run_dir = _only_run_dir(tmp_path)
    rows = _rows(run_dir)
    assert all(np.isfinite(float(row["EpRewMean"])) for row in rows if row["EpRewMean"])
    assert find_checkpoint(run_dir).endswith(f"ckpt-{len(rows)}")  # the last good iteration
    # the user fixes the env (here: the NaN comes much later) and continues the run
    config_path = os.path.join(run_dir, "config.json")
    with open(config_path) as file:
        config = json.load(file)
    config["env_kwargs"]["after"] = 10 ** 9
    with open(config_path, "w") as file:
        json.dump(config, file)
    resumed = _command(f"run.{algorithm}", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    iterations = [int(float(row["Iteration"])) for row in _rows(run_dir)]
    assert iterations == list(range(1, len(iterations) + 1)) and len(iterations) > len(rows)


def _trpo_config(tmp_path, **changes):
    values = dict(env="Pendulum-v1", timesteps_per_batch=256, num_timesteps=768,
                  save_every=1, policy=PolicyConfig(policy="gaussian"), logdir=str(tmp_path))
    values.update(changes)
    return TRPOConfig(**values)


def test_a_non_finite_parameter_is_never_saved(tmp_path):
    from onpolicy_flows.runs.run_dir import create_run_dir
    from onpolicy_flows.trpo_mpi.trpo import TRPOLearner
    config = _trpo_config(tmp_path)
    run_dir = create_run_dir(config.logdir, config.run_name, config)
    learner = TRPOLearner(config, run_dir)
    checkpoints = RunCheckpoints(run_dir, learner.checkpoint_objects())
    checkpoints.save(1)
    learner.value_function.net.output.bias.assign([np.nan])
    with pytest.raises(UserError, match=r"iteration 2: value_function holds non-finite values "
                                         r".*nothing was saved, so the previous checkpoint "
                                         r"ckpt-1 stays the latest"):
        checkpoints.save(2)
    assert find_checkpoint(run_dir).endswith("ckpt-1")
    assert not [name for name in os.listdir(f"{run_dir}/checkpoints") if "ckpt-2" in name]
    learner.close()


def test_an_update_that_goes_non_finite_is_undone():
    """Every variable goes back, float32 (read in one compiled call) and others (a step
    counter) alike; only floating ones are checked."""
    variables = [tf.Variable([1.0, 2.0]), tf.Variable(3.0), tf.Variable(7, dtype=tf.int64),
                 tf.Variable(0.25, dtype=tf.float64)]
    messages = []
    rollback = Rollback(variables, messages.append)

    def poisoned_update():
        variables[0].assign([0.5, np.inf])
        variables[1].assign(0.0)
        variables[2].assign(8)
        variables[3].assign(0.5)
        return "ran"

    result, kept = rollback.keep_if_finite(poisoned_update, "the fit")
    assert (result, kept) == ("ran", False)
    np.testing.assert_array_equal(variables[0].numpy(), [1.0, 2.0])
    assert [float(v.numpy()) for v in variables[1:]] == [3.0, 7, 0.25]
    assert messages == ["the fit produced non-finite values: undone, the previous values are "
                        "kept"]
    _, kept = rollback.keep_if_finite(lambda: variables[1].assign(4.0), "x")
    assert kept and float(variables[1].numpy()) == 4.0
    _, kept = rollback.keep_if_finite(lambda: variables[3].assign(np.nan), "x")
    assert not kept and float(variables[3].numpy()) == 0.25 and len(messages) == 2


def test_an_update_whose_outputs_go_non_finite_is_undone():
    """Weights that grew to 1e30 are finite; the values they compute are not."""
    weight = tf.Variable(2.0)
    messages = []
    rollback = Rollback([weight], messages.append)
    _, kept = rollback.keep_if_finite(
        lambda: weight.assign(1e30), "the fit",
        outputs=lambda: np.float32(weight.numpy()) * np.float32([1e10]))
    assert not kept and float(weight.numpy()) == 2.0 and len(messages) == 1
    _, kept = rollback.keep_if_finite(lambda: weight.assign(3.0), "the fit",
                                      outputs=lambda: weight.numpy() * np.float32([1e10]))
    assert kept and float(weight.numpy()) == 3.0


def test_a_poisoned_kfac_step_is_undone_with_all_of_the_optimizers_state():
    """ACKTR's flow step runs for real and then leaves a NaN: the policy, the step counters,
    velocities and K-FAC statistics all go back, and the step size shrinks."""
    policy = PolicyConfig(policy="flow", hidden_sizes=(16,), num_layers=1)
    learner = ACKTRLearner(ACKTRConfig(env="InvertedPendulum-v4", timesteps_per_batch=300,
                                       policy=policy), run_dir=None)
    learner.logger.stdout = io.StringIO()
    learner.iterate()  # past the cold start: statistics and velocities are non-zero
    state = learner.policy.trainable_variables + learner.policy_optimizer.variables
    before = [v.numpy().copy() for v in state]
    rate = float(learner.policy_optimizer.learning_rate.numpy())
    real_step = learner.policy_update.step

    def poisoned_step(*batch):
        stats = real_step(*batch)
        learner.policy.trainable_variables[0].assign(
            learner.policy.trainable_variables[0] * np.nan)
        return stats

    learner.policy_update.step = poisoned_step
    learner.iterate()
    changed = [v.name for v, value in zip(state, before) if not np.array_equal(v.numpy(), value)]
    assert changed == [learner.policy_optimizer.learning_rate.name]
    assert float(learner.policy_optimizer.learning_rate.numpy()) == pytest.approx(rate / 1.5)
    assert "the policy's K-FAC step produced non-finite values" in learner.logger.stdout.getvalue()
    learner.close()


def test_a_full_disk_while_checkpointing_leaves_no_temporary_files_and_the_run_resumes(
        tmp_path, monkeypatch):
    real_save = tf.train.CheckpointManager.save

    def disk_full_on_the_second(manager, checkpoint_number=None, **kwargs):
        if checkpoint_number == 2:
            os.makedirs(os.path.join(manager.directory, "ckpt-2_temp"))
            with open(os.path.join(manager.directory, "ckpt-2_temp", "part-0"), "w") as file:
                file.write("half a checkpoint")
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")
        return real_save(manager, checkpoint_number=checkpoint_number, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", disk_full_on_the_second)
    with pytest.raises(UserError, match=r"writing checkpoint ckpt-2 to .*checkpoints failed "
                                         r"\(No space left on device\); the previous "
                                         r"checkpoint ckpt-1 is intact"):
        learn(_trpo_config(tmp_path))
    run_dir = _only_run_dir(tmp_path)
    assert sorted(os.listdir(f"{run_dir}/checkpoints")) == [
        "checkpoint", "ckpt-1.data-00000-of-00001", "ckpt-1.index"]
    monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)  # space freed
    learn(_trpo_config(tmp_path), run_dir=run_dir, resume=True)
    assert [int(float(row["Iteration"])) for row in _rows(run_dir)] == [1, 2, 3]
    assert find_checkpoint(run_dir).endswith("ckpt-3")


class _FullDiskFile:
    """A text file whose writes fail once `room` of them have been made."""

    def __init__(self, file, room):
        self.file, self.room = file, room

    def write(self, text):
        if self.room <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= 1
        return self.file.write(text)

    def __getattr__(self, name):
        return getattr(self.file, name)


def _fail_after(calls, function):
    """`function` for the first `calls` calls, then an OSError (a full disk)."""
    count = [0]

    def failing(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise OSError(errno.ENOSPC, "No space left on device")
        return function(*args, **kwargs)
    return failing


@pytest.mark.parametrize("writer, what", [
    ("progress", "progress.csv"), ("tensorboard", "TensorBoard events"),
    ("monitor", "the episode monitor")])
def test_a_failed_write_of_the_logs_is_one_line_and_the_run_resumes(
        tmp_path, monkeypatch, writer, what):
    """Each writer fails after the first iteration was logged and checkpointed."""
    if writer == "progress":
        monkeypatch.setattr(Logger, "_append_csv", _fail_after(1, Logger._append_csv))
    elif writer == "tensorboard":
        monkeypatch.setattr(tf.summary, "scalar", _fail_after(20, tf.summary.scalar))
    else:
        from onpolicy_flows.envs import factory as envs
        monkeypatch.setattr(envs, "open", lambda *args, **kwargs: _FullDiskFile(
            open(*args, **kwargs), room=2), raising=False)  # the header and one episode
    with pytest.raises(UserError, match=f"writing {what} to .* failed \\(No space left on "
                                        "device\\); the run's latest checkpoint is intact"):
        learn(_trpo_config(tmp_path))
    monkeypatch.undo()  # space freed
    run_dir = _only_run_dir(tmp_path)
    assert find_checkpoint(run_dir).endswith("ckpt-1")
    learn(_trpo_config(tmp_path), run_dir=run_dir, resume=True)
    assert [int(float(row["Iteration"])) for row in _rows(run_dir)] == [1, 2, 3]


def test_a_progress_csv_row_cut_off_by_a_kill_is_repaired_on_resume(tmp_path):
    learn(_trpo_config(tmp_path, num_timesteps=512))
    run_dir = _only_run_dir(tmp_path)
    with open(os.path.join(run_dir, "progress.csv"), "a") as file:
        file.write("0.01,0.009,0,0.01,1.4,1,0.2,200,-1200")  # a kill in the middle of row 3
    learn(_trpo_config(tmp_path, num_timesteps=1024), run_dir=run_dir, resume=True)
    rows = _rows(run_dir)
    assert [int(float(row["Iteration"])) for row in rows] == [1, 2, 3, 4]
    assert all(None not in row.values() and "" not in (row["Iteration"], row["EpRewMean"])
               for row in rows)
