"""Replaying a saved run: rebuild its learner from config.json, load a checkpoint, act, and
record the episodes for `common.video` to render."""
import os
import subprocess
import tempfile
from typing import Iterator, List, Optional, Tuple

import tensorflow as tf
from tqdm import tqdm

from onpolicy_flows.algorithms import CONFIG_CLASSES, LEARNER_CLASSES
from onpolicy_flows.common.checkpoints import RunCheckpoints, _read_checkpoint, find_checkpoint
from onpolicy_flows.common.envs import make_env
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.common.recording import Recording, RenderRequest, render_command
from onpolicy_flows.common.rendering import INSTALL_HINT
from onpolicy_flows.common.run_dir import load_config

ACTING_STATE = ("policy", "obs_normalizer", "obs_filter")  # what acting reads from a checkpoint


def load_learner(run_dir: str, checkpoint: Optional[str] = None, render_mode=None,
                 acting_only: bool = False):
    """The learner of `run_dir` with its state loaded from a checkpoint, acting in a fresh
    env (rendering as `render_mode` says). With `acting_only`, only the policy and the
    observation statistics are read (the value function, optimiser state and counters keep
    their initial values)."""
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
    """Reads the `ACTING_STATE` objects of `learner` from `path`, all of which must be there;
    the rest of the checkpoint is left unread on purpose (no warnings about it)."""
    objects = {name: value for name, value in learner.checkpoint_objects().items()
               if name in ACTING_STATE}
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
    (return, length) of each. With a `request`, the simulator state after each reset and
    after each step becomes one frame, rendered by `common.video` in a child process (see
    there why) once the episodes are over: in a window, to an MP4 and/or to a GIF. Envs
    that are not MuJoCo's show their own window while they run, and cannot be recorded."""
    learner = load_learner(run_dir, checkpoint, acting_only=True)
    records_states = hasattr(learner.env.unwrapped, "set_state")
    if not records_states and (request.video_path or request.gif_path):
        learner.close()
        raise UserError(f"--video and --gif need a MuJoCo environment; {learner.config.env} "
                        "is not one")
    if not records_states and request.window:
        learner.close()
        learner = load_learner(run_dir, checkpoint, "human", acting_only=True)
    recording = Recording() if records_states and request else None
    act = learner.evaluation_actor(deterministic)
    try:
        results = [_play_and_record(learner.env, act, seed + episode, episode + 1, recording)
                   for episode in range(episodes)]
    finally:
        learner.close()
    if recording is not None:
        render_in_child(learner.config.env, learner.config.env_kwargs, recording, request)
    return results


def _play_and_record(env, act, seed: int, episode: int,
                     recording: Optional[Recording]) -> Tuple[float, int]:
    """(return, length) of one episode (number `episode` in captions); its states are
    added to `recording` if given."""
    episode_return, length = 0.0, 0
    for reward in play_episode(env, act, seed):
        if reward is not None:
            episode_return, length = episode_return + reward, length + 1
        if recording is not None:
            data = env.unwrapped.data
            recording.add(data.qpos, data.qvel, episode, length, episode_return)
    return episode_return, length


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
