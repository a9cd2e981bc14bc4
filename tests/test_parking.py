"""Parked runs (experiments/grids/parking.py): a stopped run packed with its latest checkpoint
alone resumes, once unpacked elsewhere, exactly as the run it was packed from; run.reproduce
parks stopped members, unpacks and resumes a parked member that has no live run, leaves the
archive alone where a live run exists, and deletes it once the member is harvested."""
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import pytest
from conftest import REPO_ROOT
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


def _resumed(run_dir):
    """Resumes `run_dir` for three more iterations; its progress.csv without the clock
    columns, and the checkpoints it keeps."""
    train_from_command_line(TRPOConfig, learn, "",
                            ["--resume", run_dir, "--num-timesteps", str(6 * BATCH)])
    progress = read_progress(run_dir)
    return ({key: values for key, values in progress.items()
             if key not in ("TimeElapsed", "TimeLeft")},
            sorted(os.listdir(os.path.join(run_dir, "checkpoints"))))


def test_a_parked_run_resumes_exactly_as_the_run_it_was_packed_from(tmp_path):
    run_dir = _stopped_run(tmp_path / "logs")
    archive = str(tmp_path / "parked" / "run.tar.xz")
    parking.park(run_dir, archive)
    top = os.path.basename(run_dir)
    with tarfile.open(archive) as packed:
        names = [os.path.relpath(name, top) for name in packed.getnames()]
        index = packed.extractfile(f"{top}/checkpoints/checkpoint").read().decode()
    assert names[0] == "progress.csv" and names[-1] == "config.json"
    assert sorted(names) == ["checkpoints/checkpoint",
                             "checkpoints/ckpt-3.data-00000-of-00001",
                             "checkpoints/ckpt-3.index", "config.json", "monitor.0.csv",
                             "progress.csv"]
    assert 'model_checkpoint_path: "ckpt-3"' in index and "ckpt-2" not in index
    assert parking.parked_run(archive) == (top, 3 * BATCH)

    unpacked = parking.unpark(archive, str(tmp_path / "elsewhere"))
    assert os.listdir(tmp_path / "elsewhere") == [top]  # no staging folder left
    (from_parked, parked_kept), (from_original, original_kept) = \
        _resumed(unpacked), _resumed(run_dir)
    assert from_parked["TimestepsSoFar"].tolist() == [BATCH * i for i in range(1, 7)]
    assert from_parked.keys() == from_original.keys()
    for key in from_parked:
        np.testing.assert_array_equal(from_parked[key], from_original[key], err_msg=key)
    # the unpacked ckpt-3 is rotated out like any other
    assert parked_kept == original_kept and not any("ckpt-3." in name for name in parked_kept)


def test_a_run_without_a_complete_checkpoint_is_not_parked(tmp_path):
    run_dir = write_fake_run(str(tmp_path / "run"), {}, [10], checkpoint=True)
    with pytest.raises(UserError, match="no complete checkpoint to park"):
        parking.park(run_dir, str(tmp_path / "parked" / "run.tar.xz"))
    assert not os.path.exists(tmp_path / "parked") or os.listdir(tmp_path / "parked") == []


def _archive(path, entries):
    """An archive with `entries` [(name, text)]."""
    with tarfile.open(path, "w:xz") as archive:
        for name, text in entries:
            parking._add_text(archive, name, text)
    return str(path)


def test_archives_that_are_not_one_run_directory_are_refused(tmp_path):
    for entries, message in (
            ([("a/progress.csv", "x"), ("b/config.json", "{}")], "2 folders"),
            ([("a/../../escape", "x")], "is not a parked run's file"),
            ([("/abs/progress.csv", "x")], "is not a parked run's file")):
        archive = _archive(tmp_path / "bad.tar.xz", entries)
        with pytest.raises(UserError, match=message):
            parking.unpark(archive, str(tmp_path / "member"))
        assert os.listdir(tmp_path / "member") == []
    assert not os.path.exists(tmp_path / "escape")


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
    os.utime(os.path.join(run_dir, "progress.csv"))  # it stopped a moment ago
    lines = []
    assert reproduce.park_stopped(paths, [member], lines.append) == []
    assert os.path.isfile(paths.parked(member)) and lines == [
        f"parked {member.name} at 2,000 steps -> {paths.parked(member)} "
        f"({os.path.getsize(paths.parked(member)) / 1e6:.2f} MB)"]

    shutil.rmtree(paths.logs_root)  # a new machine: only the committed archive is left
    (plan,) = reproduce.plan_grid(paths, [member])
    assert (plan.action, plan.run_dir, plan.steps_left) == \
        (Action.PARKED, run_dir, member.num_timesteps - 2000)
    assert reproduce.member_command(paths, plan)[-4:-2] == ["--resume",
                                                            os.path.abspath(run_dir)]
    _train_with(monkeypatch, paths, member, run_dir, [1000, 2000])
    assert reproduce.GridRunner(paths, report=lines.append).run([plan]) == []
    assert reproduce.plan_member(paths, member).action == Action.DONE
    assert not os.path.exists(paths.parked(member))


def _train_with(monkeypatch, paths, member, run_dir, expected_steps):
    """Every trainer checks that it resumes `run_dir` as unpacked, with `expected_steps`
    logged, then finishes it."""
    def fake_trainer(command, log_path):
        assert command[-4:-2] == ["--resume", os.path.abspath(run_dir)]
        assert read_progress(run_dir)["TimestepsSoFar"].tolist() == expected_steps
        assert sorted(os.listdir(os.path.join(run_dir, "checkpoints"))) == \
            ["checkpoint", "ckpt-2.data-00000-of-00001", "ckpt-2.index"]
        write_fake_run(run_dir, member_config(member.flags), [1000, member.num_timesteps])
        return 0

    monkeypatch.setattr(launching.Trainers, "run_logged",
                        lambda self, command, log_path: fake_trainer(command, log_path))


def test_a_parked_run_with_more_steps_replaces_the_live_one(setting, monkeypatch):
    """Parked at 3,000 steps elsewhere; this machine's own run stopped at 1,000."""
    member, paths = setting
    run_dir = _stopped_member_run(paths, member, [1000, 3000])
    parking.park(run_dir, paths.parked(member))
    shutil.rmtree(run_dir)
    _stopped_member_run(paths, member, [1000])
    (plan,) = reproduce.plan_grid(paths, [member])
    assert (plan.action, plan.timesteps_done) == (Action.PARKED, 3000)

    lines = []  # nor does --park overwrite it with the older live run
    assert reproduce.park_stopped(paths, [member], lines.append) == [] and lines == []
    assert parking.parked_run(paths.parked(member))[1] == 3000

    _train_with(monkeypatch, paths, member, run_dir, [1000, 3000])
    assert reproduce.GridRunner(paths, report=lines.append).run([plan]) == []
    assert any("live run moved to" in line for line in lines)
    (abandoned,) = os.listdir(paths.abandoned_dir(member))
    assert reproduce.timesteps_done(os.path.join(paths.abandoned_dir(member), abandoned)) == 1000


def test_a_live_run_with_as_many_steps_or_more_wins_over_a_parked_one(setting):
    member, paths = setting
    run_dir = _stopped_member_run(paths, member, [1000])
    parking.park(run_dir, paths.parked(member))
    assert reproduce.plan_member(paths, member).action == Action.RESUME
    _aged(write_fake_run(run_dir, member_config(member.flags), [1000, 3000]))  # trained on
    plan = reproduce.plan_member(paths, member)
    assert (plan.action, plan.timesteps_done) == (Action.RESUME, 3000)


def test_runs_in_training_or_without_a_checkpoint_are_named_not_parked(setting):
    member, other = load_grid("fisher_score").members()[:2]
    _, paths = setting
    _stopped_member_run(paths, member, [1000])
    write_fake_run(os.path.join(paths.member_dir(other), "run"), member_config(other.flags),
                   [500])
    lines = []
    with reproduce.claim(paths.member_dir(member)):  # another run.reproduce trains it
        assert reproduce.park_stopped(paths, [member, other], lines.append) == \
            [member.name, other.name]
    assert lines == [f"not parked {member.name}: another run.reproduce trains it; stop it "
                     "first", f"not parked {other.name}: its run has no checkpoint yet"]
    assert not os.path.exists(paths.parked_root)


def test_harvesting_a_done_member_deletes_its_archive(setting):
    member, paths = setting
    parking.park(_stopped_member_run(paths, member, [1000]), paths.parked(member))
    write_fake_run(os.path.join(paths.results_root, paths.grid, member.name),
                   member_config(member.flags), [member.num_timesteps])
    lines = []
    reproduce.harvest_finished(paths, reproduce.plan_grid(paths, [member]), lines.append)
    assert lines == [f"deleted the parked run of {member.name}: it is done"]
    assert not os.path.exists(paths.parked(member))


def test_run_reproduce_park_exits_1_naming_the_runs_it_could_not_park(setting, tmp_path):
    member, paths = setting
    write_fake_run(os.path.join(paths.member_dir(member), "run"), member_config(member.flags),
                   [500])
    done = subprocess.run(
        [sys.executable, "-m", "run.reproduce", paths.grid, "--park", "--logs-root",
         paths.logs_root, "--results-root", paths.results_root, "--parked-root",
         paths.parked_root], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    assert done.returncode == 1, done.stderr[-2000:]
    assert f"not parked {member.name}: its run has no checkpoint yet" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == \
        f"1 unfinished run(s) not parked: {member.name}"
