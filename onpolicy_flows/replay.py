"""Replaying a saved run: rebuild its learner from config.json, load a checkpoint, act."""
import os
import subprocess
import sys
import tempfile
from typing import Iterator, List, Optional, Tuple

import numpy as np

from onpolicy_flows.algorithms import CONFIG_CLASSES, LEARNER_CLASSES
from onpolicy_flows.common.checkpoints import RunCheckpoints, find_checkpoint
from onpolicy_flows.common.envs import make_env
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.common.rendering import INSTALL_HINT
from onpolicy_flows.common.run_dir import load_config


def load_learner(run_dir: str, checkpoint: Optional[str] = None, render_mode=None):
    """The learner of `run_dir` with its policy and observation statistics loaded from a
    checkpoint, acting in a fresh env (rendering as `render_mode` says)."""
    config = load_config(run_dir, CONFIG_CLASSES)
    path = find_checkpoint(run_dir, checkpoint)
    env = make_env(config.env, seed=0, render_mode=render_mode, env_kwargs=config.env_kwargs)
    learner = LEARNER_CLASSES[config.ALGORITHM](config, run_dir=None, env=env)
    RunCheckpoints(run_dir, learner.checkpoint_objects()).restore(path)
    return learner


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
           deterministic: bool, video_path: Optional[str] = None,
           render_mode: Optional[str] = None) -> List[Tuple[float, int]]:
    """Runs `episodes` episodes; returns (return, length) of each. With `video_path`, the
    simulator state after each reset and after each step becomes one frame of an MP4
    (rendered by `common.video` in a child process: see there why)."""
    learner = load_learner(run_dir, checkpoint, render_mode)
    act = learner.evaluation_actor(deterministic)
    env = learner.env
    if video_path and not hasattr(env.unwrapped, "set_state"):
        raise UserError(f"--video needs a MuJoCo environment; {env.spec.id} is not one")
    states, results = [], []
    try:
        for episode in range(episodes):
            rewards = []
            for reward in play_episode(env, act, seed + episode):
                states.append(_simulator_state(env))
                if reward is not None:
                    rewards.append(reward)
            results.append((sum(rewards), len(rewards)))
    finally:
        learner.close()
    if video_path:
        write_video(env.spec.id, states, video_path)
    return results


def write_video(env_id: str, states: List[Tuple[np.ndarray, np.ndarray]],
                video_path: str) -> None:
    """Renders (qpos, qvel) states to an MP4 in a child process without TensorFlow."""
    with tempfile.TemporaryDirectory() as scratch:
        states_path = os.path.join(scratch, "states.npz")
        np.savez(states_path, qpos=np.stack([q for q, _ in states]),
                 qvel=np.stack([v for _, v in states]))
        child = subprocess.run(
            [sys.executable, "-m", "onpolicy_flows.common.video", env_id, states_path,
             video_path], capture_output=True, text=True)
    if child.returncode != 0:
        last_line = (child.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"rendering the video failed ({last_line}); {INSTALL_HINT}")


def _simulator_state(env) -> Tuple[np.ndarray, np.ndarray]:
    data = env.unwrapped.data
    return data.qpos.copy(), data.qvel.copy()
