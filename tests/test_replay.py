"""Replays: run.enjoy's table, videos and GIFs, the camera that follows the agent, bad input."""
import json
import os
import shutil
import subprocess
import sys

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from conftest import REPO_ROOT

from onpolicy_flows.acktr import ACKTRConfig
from onpolicy_flows.acktr import learn as acktr_learn
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.replay.camera import agent_view, follows_agent, root_body
from onpolicy_flows.replay.player import load_learner
from onpolicy_flows.trpo_mpi import TRPOConfig, learn
from run.enjoy import parse_args

ENV = "InvertedPendulum-v4"
LOCOMOTION = ("Hopper-v4", "Walker2d-v4", "HalfCheetah-v4", "Ant-v4", "Humanoid-v4",
              "Swimmer-v4")
FIXED_BASE = ("Reacher-v4", "InvertedPendulum-v4", "InvertedDoublePendulum-v4")


def _train(tmp_path, policy, iterations=2, batch=256):
    config = TRPOConfig(env=ENV, timesteps_per_batch=batch, num_timesteps=batch * iterations,
                        policy=PolicyConfig(policy=policy), logdir=str(tmp_path))
    learn(config)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    return run_dir


def _command(*args, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=timeout, **kwargs)


def _offscreen_backend() -> str:
    """MUJOCO_GL for rendering here; skips the test where none works, except in CI."""
    from onpolicy_flows.replay.rendering import select_offscreen_backend
    try:
        return select_offscreen_backend()
    except UserError as error:
        if os.environ.get("CI"):
            raise  # .ci/run installs a backend: in CI these tests must run
        pytest.skip(f"no offscreen OpenGL backend on this machine: {error}")


def _table(stdout: str) -> dict:
    """run.enjoy's table: row name ('1', '2', ..., 'mean', ...) -> (return, length)."""
    rows = [line.split() for line in stdout.splitlines()]
    start = next(index for index, row in enumerate(rows) if row[:1] == ["episode"])
    return {row[0]: (float(row[1]), float(row[2])) for row in rows[start + 1:]
            if len(row) == 3}


def test_enjoy_prints_a_table_and_records_captioned_video_and_gif(tmp_path):
    run_dir = _train(tmp_path, "gaussian")
    backend = _offscreen_backend()
    video, gif = str(tmp_path / "replay.mp4"), str(tmp_path / "replay.gif")
    replay = _command("run.enjoy", run_dir, "--episodes", "2", "--video", video, "--gif", gif,
                      "--resolution", "160x120", env=dict(os.environ, MUJOCO_GL=backend))
    assert replay.returncode == 0, replay.stderr[-2000:]
    assert "WARNING" not in replay.stderr  # TensorFlow's "unrestored values" among them
    table = _table(replay.stdout)
    lengths = [table[row][1] for row in ("1", "2")]
    returns = [table[row][0] for row in ("1", "2")]
    assert min(lengths) > 0
    assert table["mean"][0] == pytest.approx(np.mean(returns), abs=0.06)
    assert table["std"][1] == pytest.approx(np.std(lengths), abs=0.06)
    assert (table["min"][1], table["max"][1]) == (min(lengths), max(lengths))
    import imageio
    from PIL import Image
    reader = imageio.get_reader(video)
    frames = int(sum(lengths)) + 2  # a frame after each reset and each step
    assert reader.count_frames() == frames
    frame = reader.get_data(0)
    assert frame.shape == (120, 160, 3) and frame.std() > 1  # an image, not a blank frame
    with Image.open(gif) as animation:  # InvertedPendulum plays at 25 frames/s: all kept
        assert animation.n_frames == frames and animation.size == (160, 120)


def test_enjoy_records_a_pybullet_env_from_its_own_frames(tmp_path):
    pytest.importorskip("pybullet_envs_gymnasium")  # the 'bullet' extra, which CI installs
    learn(TRPOConfig(env="HopperBulletEnv-v0", timesteps_per_batch=256, num_timesteps=256,
                     logdir=str(tmp_path)))
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    video, gif = str(tmp_path / "replay.mp4"), str(tmp_path / "replay.gif")
    replay = _command("run.enjoy", run_dir, "--episodes", "1", "--video", video, "--gif", gif,
                      "--resolution", "96x64")
    assert replay.returncode == 0, replay.stderr[-2000:]
    length = int(_table(replay.stdout)["1"][1])
    import imageio
    reader = imageio.get_reader(video)
    assert reader.count_frames() == length + 1
    assert reader.get_data(0).shape == (64, 96, 3)
    full = _command("run.enjoy", run_dir, "--video", video, "--quality", "full")
    assert full.returncode == 2 and "MuJoCo environments only" in full.stderr


@pytest.mark.skipif(not shutil.which("xvfb-run"), reason="needs xvfb-run (a virtual display)")
def test_enjoy_shows_the_episodes_in_a_window_on_a_software_display(tmp_path):
    """Mesa's software OpenGL, which crashed a window opened next to TensorFlow."""
    run_dir = _train(tmp_path, "gaussian", iterations=1)
    result = subprocess.run(["xvfb-run", "-a", sys.executable, "-m", "run.enjoy", run_dir,
                             "--episodes", "1", "--render"], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mean" in result.stdout


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


@pytest.mark.parametrize("flags, message", [
    (["--resolution", "481x480", "--video", "a.mp4"], "even numbers"),
    (["--resolution", "480", "--video", "a.mp4"], "WIDTHxHEIGHT"),
    (["--quality", "full"], "apply to --video and --gif"),
    (["--video", "a.avi"], "writes a .mp4 file"),
    (["--gif", "a.gif", "--render"], "not both"),
])
def test_enjoy_rejects_bad_recording_flags(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_status:
        parse_args(["RUN_DIR", *flags])
    assert exit_status.value.code == 2
    assert message in capsys.readouterr().err


def test_enjoy_rejects_a_video_in_a_missing_directory_before_replaying():
    with pytest.raises(UserError, match="does not exist"):
        parse_args(["RUN_DIR", "--gif", "no/such/dir/a.gif"])


def test_acktr_replay_standardises_with_the_saved_filter_statistics(tmp_path):
    """The observation filter's working copy is reloaded after the restore (a replay used
    to act on the filter's initial, empty statistics)."""
    acktr_learn(ACKTRConfig(env=ENV, timesteps_per_batch=500, num_timesteps=500,
                            logdir=str(tmp_path)))
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    learner = load_learner(run_dir, acting_only=True)
    obs_filter = learner.obs_filter
    count = int(obs_filter.count.numpy())
    assert count > 500
    np.testing.assert_allclose(obs_filter.std,
                               np.sqrt(obs_filter.sum_sq_dev.numpy() / (count - 1)))
    learner.close()


def _model(env_id: str) -> tuple:
    env = gym.make(env_id)
    unwrapped = env.unwrapped
    env.close()
    return unwrapped.model, unwrapped.mujoco_renderer.default_cam_config


@pytest.mark.parametrize("env_id", LOCOMOTION + FIXED_BASE)
def test_the_camera_tracks_the_root_body_only_where_it_can_walk_away(env_id, tmp_path,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)  # MuJoCo writes MUJOCO_LOG.TXT for some models' warnings
    model, camera_config = _model(env_id)
    camera = agent_view(model, camera_config)
    assert follows_agent(model) == (env_id in LOCOMOTION)
    if env_id in LOCOMOTION:
        assert camera.type == mujoco.mjtCamera.mjCAMERA_TRACKING
        assert camera.trackbodyid == root_body(model) == 1  # the torso
    else:
        assert camera.type == mujoco.mjtCamera.mjCAMERA_FREE
    assert camera.distance == pytest.approx((camera_config or {}).get("distance",
                                                                      camera.distance))


# Run in a child without TensorFlow (Mesa's renderer and TensorFlow cannot share a process):
# moves the agent far from its start, renders the first and last states through MuJoCo's
# segmentation with the replay camera and with the env's old fixed view (the replay's floors),
# and prints how many pixels of each frame show the agent (geoms of any body but the world)
# and the floor.
AGENT_PIXELS = """
import json, sys
import mujoco, numpy as np
from onpolicy_flows.replay.camera import agent_view, default_view
from onpolicy_flows.envs.factory import make_env
from onpolicy_flows.replay.video import extend_floors

def walked_away(env, env_id):
    '''HalfCheetah: 300 steps of an open-loop gait (~14 m backwards); free-joint envs (Ant):
    x, y moved 75 m, beyond the end of the floor the model describes (40 m).'''
    simulation = env.unwrapped
    env.reset(seed=0)
    if env_id.startswith('HalfCheetah'):
        for step in range(300):
            phase = 2 * np.pi * step / 10 + np.arange(3)
            env.step(np.concatenate([np.sin(phase), -np.sin(phase + np.pi)]))
    else:
        qpos = simulation.data.qpos.copy()
        qpos[:2] += (60.0, -45.0)  # Ant's free joint: x, y
        simulation.set_state(qpos, simulation.data.qvel)
    return simulation.data.qpos.copy(), simulation.data.qvel.copy()

counts = {}
for env_id in sys.argv[1:]:
    env = make_env(env_id, seed=0)
    simulation = env.unwrapped
    model, camera_config = simulation.model, simulation.mujoco_renderer.default_cam_config
    extend_floors(model)  # as the replay's renderer does
    renderer = mujoco.Renderer(model, 160, 160)
    renderer.enable_segmentation_rendering()
    start = (simulation.init_qpos, simulation.init_qvel)
    end = walked_away(env, env_id)
    views = {'replay': agent_view(model, camera_config), 'old': default_view(model, camera_config)}
    for view, camera in views.items():
        for moment, state in (('start', start), ('end', end)):
            simulation.set_state(*state)
            renderer.update_scene(simulation.data, camera)
            labels = renderer.render()  # [H, W, 2]: object id, object type
            geom = labels[..., 1] == mujoco.mjtObj.mjOBJ_GEOM
            agent = geom & (model.geom_bodyid[labels[..., 0]] != 0)
            counts[f'{env_id} {view} {moment}'] = int(agent.sum())
            counts[f'{env_id} {view} {moment} floor'] = int((geom & ~agent).sum())
    counts[f'{env_id} distance'] = float(np.linalg.norm(end[0][:2] - start[0][:2]))
    renderer.close()
    env.close()
print(json.dumps(counts))
"""


def test_the_agent_is_still_in_the_frame_after_walking_far_away(tmp_path):
    backend = _offscreen_backend()
    envs = ("HalfCheetah-v4", "Ant-v4")
    child = subprocess.run([sys.executable, "-c", AGENT_PIXELS, *envs], capture_output=True,
                           text=True, timeout=300, cwd=tmp_path,
                           env=dict(os.environ, MUJOCO_GL=backend, PYTHONPATH=REPO_ROOT))
    assert child.returncode == 0, child.stderr[-2000:]
    pixels = json.loads(child.stdout.strip().splitlines()[-1])
    for env_id in envs:
        assert pixels[f"{env_id} distance"] > 10  # metres
        assert pixels[f"{env_id} old start"] > 200 and pixels[f"{env_id} replay start"] > 200
        assert pixels[f"{env_id} replay end"] > 200  # >= 0.8% of the 160x160 frame
        assert pixels[f"{env_id} old end"] == 0  # the check fails for the old fixed view
        assert pixels[f"{env_id} replay end floor"] > 0.3 * 160 * 160  # walking on a floor
