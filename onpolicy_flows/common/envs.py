"""Environment factory: gymnasium ids (with the paper's retired ids mapped) and a monitor that
writes one episode CSV per rank."""
import difflib
import json
import time
import warnings
from typing import Optional

import gymnasium as gym
import numpy as np

from onpolicy_flows.common.errors import UserError

# The paper's gym ids (mujoco_py era) and their gymnasium successors.
RETIRED_IDS = {
    f"{task}-v{version}": f"{task}-v4"
    for task in ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid", "HumanoidStandup",
                 "Reacher", "Swimmer", "InvertedPendulum", "InvertedDoublePendulum")
    for version in (1, 2, 3)
}
# Tasks of the paper that gymnasium does not have; the closest substitute is named.
UNAVAILABLE_IDS = {
    "RoboschoolHumanoid-v1": "Humanoid-v4",
    "RoboschoolHumanoidFlagrun-v1": "Humanoid-v4",
    "RoboschoolHumanoidFlagrunHarder-v1": "Humanoid-v4",
    "SimpleHumanoid": "Humanoid-v4",
    "FullHumanoid": "Humanoid-v4",
}


def resolve_env_id(env_id: str) -> str:
    """Returns a registered gymnasium id for `env_id`, or raises UserError naming the fix."""
    if env_id in RETIRED_IDS:
        successor = RETIRED_IDS[env_id]
        warnings.warn(f"{env_id} no longer exists; using its gymnasium successor {successor}",
                      stacklevel=2)
        return successor
    if env_id in UNAVAILABLE_IDS:
        raise UserError(f"{env_id} (Roboschool/rllab) is not available in gymnasium; the closest "
                        f"substitute is {UNAVAILABLE_IDS[env_id]}")
    registered = list(gym.registry.keys())
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, registered, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(f"unknown environment {env_id!r}{hint}")
    return env_id


def make_env(env_id: str, seed: int, monitor_path: Optional[str] = None,
             render_mode: Optional[str] = None) -> gym.Env:
    """A gymnasium env with a continuous (Box) action space and a flat Box observation.

    The env's first reset uses `seed`; the action space is seeded from it too. With
    `monitor_path`, every finished episode is appended to that CSV.
    """
    env_id = resolve_env_id(env_id)
    try:
        env = gym.make(env_id, render_mode=render_mode)
    except Exception as error:  # missing simulator, bad install: say what and stop
        raise UserError(f"cannot create {env_id}: {error}") from error
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise UserError(f"{env_id} has a {type(env.action_space).__name__} action space; "
                        "these policies need continuous (Box) actions")
    if not isinstance(env.observation_space, gym.spaces.Box) or \
            len(env.observation_space.shape) != 1:
        env.close()
        raise UserError(f"{env_id} needs flat vector observations (a 1-D Box)")
    env.action_space.seed(seed)
    return Monitor(env, seed, monitor_path)


class Monitor(gym.Wrapper):
    """Counts episode return and length; puts them in `info["episode"]` at the end of each
    episode and appends them (r, l, t seconds since start) to a CSV, like baselines' Monitor."""

    def __init__(self, env: gym.Env, seed: int, path: Optional[str] = None):
        super().__init__(env)
        self._first_seed = seed
        self._start = time.time()
        self._return = 0.0
        self._length = 0
        self._file = None
        if path is not None:
            self._file = open(path, "a", buffering=1)
            if self._file.tell() == 0:
                header = dict(t_start=self._start, env_id=env.spec.id if env.spec else None)
                self._file.write("#" + json.dumps(header) + "\nr,l,t\n")

    def reset(self, **kwargs):
        if self._first_seed is not None:
            kwargs.setdefault("seed", self._first_seed)
            self._first_seed = None
        self._return, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            episode = dict(r=self._return, l=self._length, t=time.time() - self._start)
            info = dict(info, episode=episode)
            if self._file is not None:
                self._file.write(f"{episode['r']:.6g},{episode['l']},{episode['t']:.3f}\n")
        return observation, reward, terminated, truncated, info

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def space_dims(env: gym.Env) -> tuple:
    """(obs_dim, act_dim) of a flat-Box env."""
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))
