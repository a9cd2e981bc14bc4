"""Parked runs (experiments/grids/parking.py): a stopped run packed with its latest checkpoint
alone resumes, once unpacked elsewhere, exactly as the run it was packed from; run.reproduce
parks stopped members, unpacks and resumes a parked member that has no live run, leaves the
archive alone where a live run exists, and deletes it once the member is harvested."""
import os
import shutil
import tarfile

import numpy as np
import pytest
from fake_runs import member_config, write_fake_run

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids import launching, parking, reproduce
from onpolicy_flows.experiments.grids.grid import load_grid
from onpolicy_flows.experiments.runs import read_progress
from onpolicy_flows.runs.cli import train_from_command_line
from onpolicy_flows.trpo_mpi import TRPOConfig, learn

Action = reproduce.Action
BATCH = 256


def _stopped_run(logdir):
    """A TRPO run on Pendulum-v1 that checkpointed after each of its 3 iterations."""
    learn(TRPOConfig(env="Pendulum-v1", timesteps_per_batch=BATCH, num_timesteps=3 * BATCH,
                     save_every=1, logdir=str(logdir)))
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    return run_dir


def _resumed_progress(run_dir):
    """Resumes `run_dir` for one more iteration; its progress.csv without the clock columns."""
    train_from_command_line(TRPOConfig, learn, "",
                            ["--resume", run_dir, "--num-timesteps", str(4 * BATCH)])
    progress = read_progress(run_dir)
    return {key: values for key, values in progress.items()
            if key not in ("TimeElapsed", "TimeLeft")}


def test_a_parked_run_resumes_exactly_as_the_run_it_was_packed_from(tmp_path):
    run_dir = _stopped_run(tmp_path / "logs")
    archive = str(tmp_path / "parked" / "run.tar.xz")
    parking.park(run_dir, archive)
    with tarfile.open(archive) as packed:
        names = sorted(os.path.relpath(name, os.path.basename(run_dir))
                       for name in packed.getnames())
        index = packed.extractfile(os.path.join(os.path.basename(run_dir),
                                                "checkpoints/checkpoint")).read().decode()
    assert names == ["checkpoints/checkpoint", "checkpoints/ckpt-3.data-00000-of-00001",
                     "checkpoints/ckpt-3.index", "config.json", "monitor.0.csv",
                     "progress.csv"]
    assert 'model_checkpoint_path: "ckpt-3"' in index and "ckpt-2" not in index
    assert parking.parked_run(archive) == (os.path.basename(run_dir), 3 * BATCH)

    unpacked = parking.unpark(archive, str(tmp_path / "elsewhere"))
    assert os.path.basename(unpacked) == os.path.basename(run_dir)
    from_parked, from_original = _resumed_progress(unpacked), _resumed_progress(run_dir)
    assert from_parked["TimestepsSoFar"].tolist() == [BATCH, 2 * BATCH, 3 * BATCH, 4 * BATCH]
    assert from_parked.keys() == from_original.keys()
    for key in from_parked:
        np.testing.assert_array_equal(from_parked[key], from_original[key], err_msg=key)


def test_a_run_without_a_checkpoint_cannot_be_parked(tmp_path):
    run_dir = write_fake_run(str(tmp_path / "run"), {}, [10])
    with pytest.raises(UserError, match="no checkpoint to park"):
        parking.park(run_dir, str(tmp_path / "run.tar.xz"))


@pytest.fixture
def setting(tmp_path):
    grid = load_grid("fisher_score")
    paths = reproduce.GridPaths(grid.name, str(tmp_path / "logs"), str(tmp_path / "results"),
                                str(tmp_path / "parked"))
    return grid.members()[0], paths


def _stopped_member_run(paths, member, steps):
    """A stopped run of `member` an hour old, with a checkpoint index naming ckpt-2."""
    run_dir = os.path.join(paths.member_dir(member), f"{member.name}-20260101-000000")
    write_fake_run(run_dir, member_config(member.flags), steps)
    os.makedirs(os.path.join(run_dir, "checkpoints"))
    for name, text in (("checkpoint", 'model_checkpoint_path: "ckpt-2"\n'),
                       ("ckpt-2.index", "i"), ("ckpt-2.data-00000-of-00001", "d"),
                       ("ckpt-1.index", "old")):
        with open(os.path.join(run_dir, "checkpoints", name), "w") as file:
            file.write(text)
    return _aged(run_dir)


def _aged(run_dir):
    """`run_dir` with every file last written long ago (a stopped run)."""
    for root, _, files in os.walk(run_dir):
        for name in files:
            os.utime(os.path.join(root, name), (1e9, 1e9))
    return run_dir


def test_the_runner_parks_unpacks_resumes_and_then_deletes_the_archive(setting,
                                                                        monkeypatch):
    member, paths = setting
    run_dir = _stopped_member_run(paths, member, [1000, 2000])
    lines = []
    reproduce.park_stopped(paths, reproduce.plan_grid(paths, [member]), lines.append)
    assert os.path.isfile(paths.parked(member)) and lines[0].startswith(
        f"parked {member.name} at 2,000 steps")

    shutil.rmtree(paths.logs_root)  # a new machine: only the committed archive is left
    (plan,) = reproduce.plan_grid(paths, [member])
    assert (plan.action, plan.run_dir, plan.steps_left) == \
        (Action.PARKED, run_dir, member.num_timesteps - 2000)
    command = reproduce.member_command(paths, plan)
    assert command[-4:-2] == ["--resume", os.path.abspath(run_dir)]

    def fake_trainer(command, log_path):
        """Checks what it resumes from, then finishes the run."""
        assert read_progress(run_dir)["TimestepsSoFar"].tolist() == [1000, 2000]
        assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == \
            ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
        write_fake_run(run_dir, member_config(member.flags), [1000, member.num_timesteps])
        return 0

    monkeypatch.setattr(launching.Trainers, "run_logged",
                        lambda self, command, log_path: fake_trainer(command, log_path))
    assert reproduce.GridRunner(paths, report=lines.append).run([plan]) == []
    assert reproduce.plan_member(paths, member).action == Action.DONE
    assert not os.path.exists(paths.parked(member))


def test_a_live_run_wins_over_a_parked_one(setting):
    member, paths = setting
    run_dir = _stopped_member_run(paths, member, [1000])
    parking.park(run_dir, paths.parked(member))
    _aged(write_fake_run(run_dir, member_config(member.flags), [1000, 3000]))  # trained on
    plan = reproduce.plan_member(paths, member)
    assert (plan.action, plan.timesteps_done) == (Action.RESUME, 3000)


def test_members_in_training_are_not_parked_and_done_ones_lose_their_archive(setting):
    member, paths = setting
    run_dir = _stopped_member_run(paths, member, [1000])
    parking.park(run_dir, paths.parked(member))
    os.utime(os.path.join(run_dir, "progress.csv"))  # written just now: in training
    lines = []
    reproduce.park_stopped(paths, reproduce.plan_grid(paths, [member]), lines.append)
    assert lines == [f"not parked {member.name}: it is in training; stop it first"]

    write_fake_run(os.path.join(paths.results_root, paths.grid, member.name),
                   member_config(member.flags), [member.num_timesteps])
    lines.clear()
    reproduce.park_stopped(paths, reproduce.plan_grid(paths, [member]), lines.append)
    assert lines == [f"deleted the parked run of {member.name}: it is done"]
    assert not os.path.exists(paths.parked(member))
