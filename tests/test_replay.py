"""Replays: run.enjoy's episodes and videos, bad input."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.trpo_mpi import TRPOConfig, learn

ENV = "InvertedPendulum-v4"


def _train(tmp_path, policy, iterations=2, batch=256):
    config = TRPOConfig(env=ENV, timesteps_per_batch=batch, num_timesteps=batch * iterations,
                        policy=PolicyConfig(policy=policy), logdir=str(tmp_path))
    learn(config)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    return run_dir


def _command(*args, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=timeout, **kwargs)


def test_enjoy_prints_episodes_and_records_a_playable_video(tmp_path):
    run_dir = _train(tmp_path, "gaussian")
    from onpolicy_flows.common.rendering import select_offscreen_backend
    try:
        backend = select_offscreen_backend()
    except UserError as error:
        if os.environ.get("CI"):
            raise  # .ci/run installs a backend: in CI this test must run
        pytest.skip(f"no offscreen OpenGL backend on this machine: {error}")
    video = str(tmp_path / "replay.mp4")
    replay = _command("run.enjoy", run_dir, "--episodes", "2", "--video", video,
                      env=dict(os.environ, MUJOCO_GL=backend))
    assert replay.returncode == 0, replay.stderr[-2000:]
    lengths = [int(line.split("length ")[1]) for line in replay.stdout.splitlines()
               if line.startswith("episode ")]
    assert len(lengths) == 2 and min(lengths) > 0
    import imageio
    reader = imageio.get_reader(video)
    assert reader.count_frames() == sum(lengths) + 2  # a frame after each reset and step
    frame = reader.get_data(0)
    assert frame.shape[2] == 3 and frame.std() > 1  # an image, not a blank frame


def test_enjoy_rejects_bad_run_directories_with_one_line(tmp_path):
    run_dir = _train(tmp_path, "gaussian", iterations=1)
    missing = _command("run.enjoy", str(tmp_path / "nope"))
    no_config = _command("run.enjoy", str(tmp_path))
    assert missing.returncode == no_config.returncode == 2
    assert missing.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "no config.json" in no_config.stderr

    unknown = _command("run.enjoy", run_dir, "--checkpoint", "77")
    assert unknown.returncode == 2 and "no checkpoint '77'" in unknown.stderr

    data_file = [entry.path for entry in os.scandir(os.path.join(run_dir, "checkpoints"))
                 if ".data-" in entry.name][0]
    with open(data_file, "r+b") as file:
        file.truncate(os.path.getsize(data_file) // 2)
    corrupt = _command("run.enjoy", run_dir)
    assert corrupt.returncode == 2 and "truncated or corrupt" in corrupt.stderr
    assert "Traceback" not in corrupt.stderr

    config_path = os.path.join(run_dir, "config.json")
    with open(config_path) as file:
        config = json.load(file)
    with open(config_path, "w") as file:
        json.dump(dict(config, format_version=99), file)
    newer = _command("run.enjoy", run_dir)
    assert newer.returncode == 2 and "newer" in newer.stderr

    for entry in os.scandir(os.path.join(run_dir, "checkpoints")):
        os.remove(entry.path)
    with open(config_path, "w") as file:
        json.dump(config, file)
    empty = _command("run.enjoy", run_dir)
    assert empty.returncode == 2 and "holds no checkpoint" in empty.stderr
