"""`import gym` for the original code: the gym 0.9 API (early 2018) over gymnasium.

  gym.make(id)      a gymnasium env behind the old API. The paper's MuJoCo ids that
                    gymnasium no longer has (Hopper-v1, ...) map to their -v4 successor,
                    the version this project uses (docs/tasks.md).
  env.reset()       -> obs. A seed given to env.seed() is passed to this reset (gymnasium
                    seeds at reset); later resets continue that random stream.
  env.step(a)       -> (obs, reward, done, info), done = terminated or truncated (old gym's
                    TimeLimit also ended an episode at max_episode_steps with done=True).
  env.seed(s)       -> [s]; also seeds the action space (the TRPO runners sample one action
                    from it to size their buffers).
  env.spec          .id (the gymnasium id that runs) and .timestep_limit (= max_episode_steps;
                    ACKTR's rollouts read it).
  gym.core.Wrapper  old-style: step/reset call the subclass's _step/_reset (baselines'
                    bench.Monitor overrides those).
  gym.spaces        gymnasium.spaces (the original only checks isinstance(..., Box)).
  gym.logger        a logging.Logger (the runners call gym.logger.setLevel).
`env_steps_taken()` counts every step of every env made here, for the harness's logs.
"""
import logging
import sys
import types
import warnings
from dataclasses import dataclass

import gymnasium

_steps_taken = 0


def env_steps_taken() -> int:
    """Env steps taken in this process, by every env made with this gym.make."""
    return _steps_taken


class UnknownEnvironment(Exception):
    """gym.make got an id that neither gymnasium nor the -v4 mapping knows."""


def gymnasium_id(env_id: str) -> str:
    """The gymnasium id that runs for `env_id`: itself if registered, else its -v4
    successor (the paper's retired MuJoCo ids); UnknownEnvironment if neither exists."""
    if env_id in gymnasium.registry:
        return env_id
    name, separator, _ = env_id.rpartition("-v")
    successor = f"{name}-v4"
    if separator and successor in gymnasium.registry:
        return successor
    raise UnknownEnvironment(f"unknown environment {env_id!r} (gymnasium has neither it "
                             f"nor {successor!r})")


@dataclass(frozen=True)
class EnvSpec:
    id: str
    timestep_limit: int


class Env:
    """Old gym's Env: the public methods call the underscored ones."""
    metadata = {}
    reward_range = (-float("inf"), float("inf"))
    spec = None

    def step(self, action):
        return self._step(action)

    def reset(self, **kwargs):
        return self._reset(**kwargs)

    def seed(self, seed=None):
        return self._seed(seed)

    def close(self):
        pass

    def render(self, mode="human"):
        raise NotImplementedError("rendering is not supported by the parity gym shim")

    @property
    def unwrapped(self):
        return self


class Wrapper(Env):
    """Old gym's Wrapper (no attribute forwarding beyond the spaces and spec)."""

    def __init__(self, env):
        self.env = env
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        self.reward_range = env.reward_range
        self.metadata = env.metadata

    @property
    def spec(self):
        return self.env.spec

    @property
    def unwrapped(self):
        return self.env.unwrapped

    def _step(self, action):
        return self.env.step(action)

    def _reset(self, **kwargs):
        return self.env.reset(**kwargs)

    def _seed(self, seed=None):
        return self.env.seed(seed)

    def close(self):
        return self.env.close()


class GymnasiumEnv(Env):
    """A gymnasium env behind the old API (see the module docstring)."""

    def __init__(self, env: gymnasium.Env):
        self._env = env
        self.action_space = env.action_space
        self.observation_space = env.observation_space
        self.metadata = env.metadata
        self.spec = EnvSpec(env.spec.id, env.spec.max_episode_steps)
        self._next_reset_seed = None

    def _reset(self, **kwargs):
        seed, self._next_reset_seed = self._next_reset_seed, None
        observation, _ = self._env.reset(seed=seed)
        return observation

    def _step(self, action):
        global _steps_taken
        observation, reward, terminated, truncated, info = self._env.step(action)
        _steps_taken += 1
        return observation, float(reward), bool(terminated or truncated), info

    def _seed(self, seed=None):
        self._next_reset_seed = seed
        self.action_space.seed(seed)
        return [seed]

    def close(self):
        self._env.close()


def make(env_id: str) -> GymnasiumEnv:
    running_id = gymnasium_id(env_id)
    if running_id != env_id:
        warnings.warn(f"{env_id} no longer exists; using its successor {running_id}")
    env = gymnasium.make(running_id)
    if env.spec.max_episode_steps is None:
        raise UnknownEnvironment(f"{running_id} has no time limit; the original's ACKTR "
                                 "needs one (spec.timestep_limit)")
    return GymnasiumEnv(env)


def install() -> None:
    warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading")
    gym = types.ModuleType("gym", __doc__)
    core = types.ModuleType("gym.core")
    core.Env, core.Wrapper = Env, Wrapper
    gym.core = core
    gym.Env, gym.Wrapper = Env, Wrapper
    gym.spaces = gymnasium.spaces
    gym.make = make
    gym.logger = logging.getLogger("gym")
    gym.__version__ = f"gymnasium-{gymnasium.__version__} (parity old-API shim)"
    sys.modules["gym"] = gym
    sys.modules["gym.core"] = core
    sys.modules["gym.spaces"] = gymnasium.spaces
