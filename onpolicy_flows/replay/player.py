"""Replaying a saved run: rebuild its learner from config.json, load a checkpoint, act, and
record the episodes for `replay.video` to render."""
import os
import subprocess
import tempfile
from typing import Iterator, List, Optional, Tuple

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.envs.factory import make_env
from onpolicy_flows.replay.algorithms import CONFIG_CLASSES, LEARNER_CLASSES
from onpolicy_flows.replay.frame_writer import FrameWriter, caption_text, fit
from onpolicy_flows.replay.recording import (
    Recording,
    RenderRequest,
    RenderSettings,
    render_command,
)
from onpolicy_flows.replay.rendering import INSTALL_HINT
from onpolicy_flows.runs.checkpoints import RunCheckpoints, _read_checkpoint, find_checkpoint
from onpolicy_flows.runs.run_dir import load_config

# Checkpoint entries that only training reads; a replay reads every other one (the policy and
# the observation statistics), so that what a new learner adds is read rather than missed.
TRAINING_STATE = ("value_function", "vf_optimizer", "policy_optimizer", "optimizer",
                  "return_normalizer", "progress")


def load_learner(run_dir: str, checkpoint: Optional[str] = None, render_mode=None,
                 acting_only: bool = False):
    """The learner of `run_dir` with its state loaded from a checkpoint, acting in a fresh
    env (rendering as `render_mode` says). With `acting_only`, the `TRAINING_STATE` entries
    are not read (the value function, optimiser state and counters keep their initial
    values)."""
    config = load_config(run_dir, CONFIG_CLASSES)
    path = find_checkpoint(run_dir, checkpoint)
    env = make_env(config.env, seed=0, render_mode=render_mode, env_kwargs=config.env_kwargs)
    learner = LEARNER_CLASSES[config.ALGORITHM](config, run_dir=None, env=env)
    if acting_only:
        _restore_acting_state(learner, path)
    else:
        RunCheckpoints(run_dir, learner.checkpoint_objects()).restore(path)
    learner.after_restore()
    return learner


def _restore_acting_state(learner, path: str) -> None:
    """Reads the objects of `learner` but its `TRAINING_STATE` from `path`, all of which must
    be there; the rest of the checkpoint is left unread on purpose (no warnings about it)."""
    objects = {name: value for name, value in learner.checkpoint_objects().items()
               if name not in TRAINING_STATE}
    status = _read_checkpoint(tf.train.Checkpoint(**objects), path).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as error:
        raise UserError(f"checkpoint {path!r} does not match this run's configuration") \
            from error


def play_episode(env, act, seed: int,
                 max_steps: Optional[int] = None) -> Iterator[Optional[float]]:
    """Resets `env` with `seed` and steps it with `act` (raw observation -> env action; its
    `reset()`, if it has one, is called first) until the episode ends or `max_steps` steps.
    Yields None after the reset, then each step's reward, so that the caller can read the
    env's state at every point of the episode."""
    observation, _ = env.reset(seed=seed)
    getattr(act, "reset", lambda: None)()
    yield None
    steps = 0
    while max_steps is None or steps < max_steps:
        observation, reward, terminated, truncated, _ = env.step(act(observation))
        steps += 1
        yield float(reward)
        if terminated or truncated:
            return


def replay(run_dir: str, checkpoint: Optional[str], episodes: int, seed: int,
           deterministic: bool,
           request: RenderRequest = RenderRequest()) -> List[Tuple[float, int]]:
    """Runs `episodes` episodes (the first reset with `seed`, then seed + 1, ...); returns
    (return, length) of each. With a `request`, each episode's frames (one after the reset
    and one after each step) go to a window, an MP4 and/or a GIF: MuJoCo envs record their
    simulator states, rendered once the episodes are over by `replay.video` in a child
    process (see there why); other envs (pybullet's) render themselves while they run."""
    learner = load_learner(run_dir, checkpoint, acting_only=True)
    if request and not hasattr(learner.env.unwrapped, "set_state"):
        learner.close()
        return _replay_rendering_itself(run_dir, checkpoint, episodes, seed, deterministic,
                                        request)
    recording = Recording() if request else None
    record = _state_recorder(recording) if recording is not None else None
    act = learner.evaluation_actor(deterministic)
    try:
        results = [_play(learner.env, act, seed + episode, episode + 1, record)
                   for episode in range(episodes)]
    finally:
        learner.close()
    if recording is not None:
        render_in_child(learner.config.env, learner.config.env_kwargs, recording, request)
    return results


def _replay_rendering_itself(run_dir: str, checkpoint: Optional[str], episodes: int,
                             seed: int, deterministic: bool,
                             request: RenderRequest) -> List[Tuple[float, int]]:
    """`replay` of an env that renders its own frames in this process: a window while it
    runs, or frames (render_mode="rgb_array") into the files, without a scene quality to
    choose. pybullet's walkers aim both at the robot themselves."""
    if request.settings.quality != RenderSettings.quality:
        raise UserError("--quality applies to MuJoCo environments only")
    learner = load_learner(run_dir, checkpoint, "human" if request.window else "rgb_array",
                           acting_only=True)
    env, settings = learner.env, request.settings
    if hasattr(env.unwrapped, "_render_width"):  # pybullet's envs: their frame size
        env.unwrapped._render_width, env.unwrapped._render_height = \
            settings.width, settings.height
    act = learner.evaluation_actor(deterministic)
    try:
        if request.window:
            return [_play(env, act, seed + episode, episode + 1, None)
                    for episode in range(episodes)]
        with FrameWriter(env.metadata.get("render_fps", 30), request.video_path,
                         request.gif_path) as writer, \
                tqdm(unit="frame", desc="rendering", disable=None) as bar:
            capture = _FrameCapture(writer, episodes, settings, bar)
            return [_play(env, act, seed + episode, episode + 1, capture)
                    for episode in range(episodes)]
    finally:
        learner.close()


def _play(env, act, seed: int, episode: int, record=None) -> Tuple[float, int]:
    """(return, length) of one episode; calls `record(env, episode, step, return so far)`
    after the reset and after each step, if given."""
    episode_return, length = 0.0, 0
    for reward in play_episode(env, act, seed):
        if reward is not None:
            episode_return, length = episode_return + reward, length + 1
        if record is not None:
            record(env, episode, length, episode_return)
    return episode_return, length


def _state_recorder(recording: Recording):
    """A `record` for `_play` that adds the MuJoCo simulator state to `recording`."""
    def record(env, episode: int, step: int, episode_return: float) -> None:
        data = env.unwrapped.data
        recording.add(data.qpos, data.qvel, episode, step, episode_return)
    return record


class _FrameCapture:
    """A `record` for `_play` that passes the env's own frames, captioned and fitted to the
    requested size, to a `FrameWriter` (only those it keeps are rendered)."""

    def __init__(self, writer: FrameWriter, episodes: int, settings: RenderSettings, bar):
        self.writer, self.episodes, self.settings, self.bar = writer, episodes, settings, bar
        self.index = 0

    def __call__(self, env, episode: int, step: int, episode_return: float) -> None:
        if self.writer.wants(self.index):
            frame = fit(np.asarray(env.render()), self.settings.width, self.settings.height)
            self.writer.add(self.index, frame,
                            caption_text(episode, self.episodes, step, episode_return))
            self.bar.update()
        self.index += 1


def render_in_child(env_id: str, env_kwargs: Optional[dict], recording: Recording,
                    request: RenderRequest) -> None:
    """Renders `recording` as `request` says in a child process without TensorFlow, with a
    progress bar on a terminal while files are written; a failure becomes a UserError."""
    with tempfile.TemporaryDirectory() as scratch:
        recording_path = os.path.join(scratch, "recording.npz")
        recording.save(recording_path)
        with open(os.path.join(scratch, "stderr"), "w+") as child_stderr:
            child = subprocess.Popen(render_command(env_id, env_kwargs, recording_path, request),
                                     stdout=subprocess.PIPE, stderr=child_stderr, text=True)
            with tqdm(total=len(recording), unit="frame", desc="rendering",
                      disable=True if request.window else None) as bar:
                for line in child.stdout:  # "<frames done> <frames in all>"
                    numbers = line.split()
                    if len(numbers) == 2 and all(number.isdigit() for number in numbers):
                        bar.total = int(numbers[1])
                        bar.update(int(numbers[0]) - bar.n)
            child.wait()
            child_stderr.seek(0)
            last_line = (child_stderr.read().strip().splitlines() or ["no message"])[-1]
    if child.returncode != 0:
        hint = "is the display working?" if request.window else INSTALL_HINT
        raise UserError(f"rendering failed ({last_line}); {hint}")
