"""Fixed-length rollout segments from N environments stepped in lock-step (the original's
segment generator, with one batched acting call per step for all N).

Each environment contributes `steps_per_env` consecutive steps that cross episode
boundaries; environments keep their state between segments.
"""
from dataclasses import dataclass, field
from typing import List, Protocol, Sequence

import gymnasium as gym
import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.envs.finite import require_finite_actions, require_finite_from_env


class Actor(Protocol):
    """What a collector acts with (a policy's `CompiledActor`): observations [N, obs_dim]
    float32 -> actions [N, act_dim], and `sync()` to pick up the policy's latest weights."""

    def __call__(self, observations: np.ndarray) -> np.ndarray: ...

    def sync(self) -> None: ...


@dataclass
class Segment:
    """S consecutive transitions of each of N environments. Shapes: observations,
    next_observations [N, S, obs_dim] float32; actions [N, S, act_dim] float32; rewards,
    terminated, truncated [N, S]. Flat views [N * S, ...] (environment-major) come from
    `flat`."""
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray  # s_{t+1}; at an episode end, its final observation
    terminated: np.ndarray  # bool: terminal state reached (no bootstrap)
    truncated: np.ndarray  # bool: the episode was cut (time limit) at t
    episode_returns: List[float] = field(default_factory=list)  # episodes finished in it
    episode_lengths: List[int] = field(default_factory=list)

    @property
    def episode_ends(self) -> np.ndarray:
        """[N, S] bool: terminated or truncated at t."""
        return self.terminated | self.truncated

    @property
    def num_steps(self) -> int:
        """N * S."""
        return self.rewards.size

    @staticmethod
    def flat(array: np.ndarray) -> np.ndarray:
        """[N, S, ...] -> [N * S, ...]."""
        return array.reshape((-1,) + array.shape[2:])


class SegmentCollector:
    """Steps `envs` in lock-step with `actor` (observations [N, obs_dim] float32 -> actions
    [N, act_dim]), calling `actor.sync()` at the start of each segment to pick up the latest
    weights. A finished episode's environment is reset at once; its final observation is
    kept as `next_observations`."""

    def __init__(self, envs: Sequence[gym.Env], actor: Actor, steps_per_env: int):
        self.envs = list(envs)
        self.actor = actor
        self.steps_per_env = steps_per_env
        self.env_steps = [0] * len(self.envs)  # per env, in this process
        self.observations = mpi.call_stopping_together(lambda: np.stack(
            [self._reset(index) for index in range(len(self.envs))]))

    def collect(self) -> Segment:
        """The next S steps of every env. Collective: a non-finite observation, reward or
        action (or another UserError) on any rank stops every rank (envs.finite)."""
        self.actor.sync()
        num_envs, steps = len(self.envs), self.steps_per_env
        obs_dim = self.observations.shape[1]
        act_dim = self.envs[0].action_space.shape[0]
        segment = Segment(
            observations=np.zeros((num_envs, steps, obs_dim), np.float32),
            actions=np.zeros((num_envs, steps, act_dim), np.float32),
            rewards=np.zeros((num_envs, steps), np.float64),
            next_observations=np.zeros((num_envs, steps, obs_dim), np.float32),
            terminated=np.zeros((num_envs, steps), bool),
            truncated=np.zeros((num_envs, steps), bool))
        mpi.call_stopping_together(lambda: self._fill(segment))
        return segment

    def _fill(self, segment: Segment) -> None:
        observations = self.observations
        for t in range(self.steps_per_env):
            segment.observations[:, t] = observations
            actions = self.actor(observations)
            require_finite_actions(actions)
            segment.actions[:, t] = actions
            for index, (env, action) in enumerate(zip(self.envs, actions)):
                observation, reward, terminated, truncated, info = env.step(action)
                self.env_steps[index] += 1
                require_finite_from_env(observation, "observation", env,
                                        self.env_steps[index], index)
                require_finite_from_env(reward, "reward", env, self.env_steps[index], index)
                segment.rewards[index, t] = reward
                segment.next_observations[index, t] = observation
                segment.terminated[index, t] = terminated
                segment.truncated[index, t] = truncated
                if terminated or truncated:
                    segment.episode_returns.append(info["episode"]["r"])
                    segment.episode_lengths.append(info["episode"]["l"])
                    observation = self._reset(index)
                observations[index] = observation
        self.observations = observations

    def _reset(self, index: int) -> np.ndarray:
        observation, _ = self.envs[index].reset()
        require_finite_from_env(observation, "observation", self.envs[index],
                                self.env_steps[index], index)
        return observation.astype(np.float32)
