"""Fixed-length rollout segments from one environment (the original's segment generator).

A segment is `horizon` consecutive steps that cross episode boundaries; the environment keeps
its state between segments.
"""
from dataclasses import dataclass, field
from typing import List

import gymnasium as gym
import numpy as np

from onpolicy_flows.policies.base import CompiledActor


@dataclass
class Segment:
    """T consecutive transitions. Shapes: observations, next_observations [T, obs_dim]
    float32; actions [T, act_dim] float32; rewards, terminated, episode_ends [T]."""
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_observations: np.ndarray  # s_{t+1}; at an episode end, its final observation
    terminated: np.ndarray  # bool: terminal state reached (no bootstrap)
    episode_ends: np.ndarray  # bool: terminated or truncated at t
    episode_returns: List[float] = field(default_factory=list)  # episodes finished in it
    episode_lengths: List[int] = field(default_factory=list)


class SegmentCollector:
    """Steps `env` with `actor` (observations [1, obs_dim] float32 -> actions [1, act_dim]),
    calling `actor.sync()` at the start of each segment to pick up the latest weights."""

    def __init__(self, env: gym.Env, actor: CompiledActor, horizon: int):
        self.env = env
        self.actor = actor
        self.horizon = horizon
        self.observation, _ = env.reset()

    def collect(self) -> Segment:
        self.actor.sync()
        obs_dim = self.env.observation_space.shape[0]
        act_dim = self.env.action_space.shape[0]
        segment = Segment(
            observations=np.zeros((self.horizon, obs_dim), np.float32),
            actions=np.zeros((self.horizon, act_dim), np.float32),
            rewards=np.zeros(self.horizon, np.float64),
            next_observations=np.zeros((self.horizon, obs_dim), np.float32),
            terminated=np.zeros(self.horizon, bool),
            episode_ends=np.zeros(self.horizon, bool))
        observation = self.observation
        for t in range(self.horizon):
            segment.observations[t] = observation
            action = self.actor(segment.observations[t:t + 1])[0]
            segment.actions[t] = action
            observation, reward, terminated, truncated, info = self.env.step(action)
            segment.rewards[t] = reward
            segment.next_observations[t] = observation
            segment.terminated[t] = terminated
            segment.episode_ends[t] = terminated or truncated
            if terminated or truncated:
                segment.episode_returns.append(info["episode"]["r"])
                segment.episode_lengths.append(info["episode"]["l"])
                observation, _ = self.env.reset()
        self.observation = observation
        return segment
