"""Fixed-length rollout segments from N environments stepped in lock-step (the original's
segment generator, with one batched acting call per step for all N).

Each environment contributes `steps_per_env` consecutive steps that cross episode
boundaries; environments keep their state between segments.
"""
from dataclasses import dataclass, field
from typing import List, Sequence

import gymnasium as gym
import numpy as np

from onpolicy_flows.policies.base import CompiledActor


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

    def __init__(self, envs: Sequence[gym.Env], actor: CompiledActor, steps_per_env: int):
        self.envs = list(envs)
        self.actor = actor
        self.steps_per_env = steps_per_env
        self.observations = np.stack([env.reset()[0] for env in self.envs]).astype(np.float32)

    def collect(self) -> Segment:
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
        observations = self.observations
        for t in range(steps):
            segment.observations[:, t] = observations
            actions = self.actor(observations)
            segment.actions[:, t] = actions
            for index, (env, action) in enumerate(zip(self.envs, actions)):
                observation, reward, terminated, truncated, info = env.step(action)
                segment.rewards[index, t] = reward
                segment.next_observations[index, t] = observation
                segment.terminated[index, t] = terminated
                segment.truncated[index, t] = truncated
                if terminated or truncated:
                    segment.episode_returns.append(info["episode"]["r"])
                    segment.episode_lengths.append(info["episode"]["l"])
                    observation, _ = env.reset()
                observations[index] = observation
        self.observations = observations
        return segment
