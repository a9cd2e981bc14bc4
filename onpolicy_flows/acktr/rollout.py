"""Whole-episode rollouts as the original ACKTR collects them (`acktr_cont.rollout`).

The policy sees [filter(o_t), filter(o_{t-1})] (zeros before the first step), where the
filter standardises with running statistics it updates at every observation. Its actions
live in [-1, 1]: they are mapped affinely to the action box and clipped before the step.
"""
from dataclasses import dataclass
from typing import List

import gymnasium as gym
import numpy as np

from onpolicy_flows.acktr.zfilter import ZFilter
from onpolicy_flows.common import mpi
from onpolicy_flows.envs.finite import require_finite_actions, require_finite_from_env
from onpolicy_flows.policies.base import CompiledActor


@dataclass
class Episode:
    """One finished episode of n steps. observations [n, 2 * obs_dim] (filtered pairs the
    policy saw), actions [n, act_dim] (the policy's, before scaling), rewards [n];
    final_observation [2 * obs_dim]: the pair after the last step (for bootstrapping when
    the episode was truncated); terminated: a terminal state ended it (no bootstrap)."""
    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    final_observation: np.ndarray
    terminated: bool

    def __len__(self) -> int:
        return len(self.rewards)


def scale_actions(actions: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Maps [-1, 1] to [low, high] affinely and clips to the box."""
    return np.clip(low + (actions + 1.0) * 0.5 * (high - low), low, high)


class EpisodeCollector:
    """Runs `actor` (pairs [1, 2 * obs_dim] float32 -> actions [1, act_dim]) in `env`;
    `actor.sync()` at the start of each collection picks up the latest policy weights."""

    def __init__(self, env: gym.Env, actor: CompiledActor, obs_filter: ZFilter):
        self.env = env
        self.actor = actor
        self.obs_filter = obs_filter
        self.low = env.action_space.low.astype(np.float64)
        self.high = env.action_space.high.astype(np.float64)
        self.env_steps = 0  # in this process

    def collect(self, min_steps: int) -> List[Episode]:
        """Whole episodes until their total length exceeds `min_steps`. Collective (the
        filter merges all ranks' observations): a non-finite observation, reward or action
        on any rank stops every rank before the filter sees it (envs.finite)."""
        self.actor.sync()
        self.obs_filter.load()
        episodes = mpi.call_stopping_together(lambda: self._episodes(min_steps))
        self.obs_filter.store()
        return episodes

    def _episodes(self, min_steps: int) -> List[Episode]:
        episodes, steps = [], 0
        while steps <= min_steps:
            episodes.append(self._episode())
            steps += len(episodes[-1])
        return episodes

    def _episode(self) -> Episode:
        raw, _ = self.env.reset()
        require_finite_from_env(raw, "observation", self.env, self.env_steps, 0)
        current = self.obs_filter(raw)
        previous = np.zeros_like(current)
        observations, actions, rewards = [], [], []
        while True:
            pair = np.concatenate([current, previous])[None]  # [1, 2 * obs_dim]
            action = self.actor(pair)[0]
            require_finite_actions(action)
            observations.append(pair[0])
            actions.append(action)
            raw, reward, terminated, truncated, _ = self.env.step(
                scale_actions(action, self.low, self.high))
            self.env_steps += 1
            require_finite_from_env(raw, "observation", self.env, self.env_steps, 0)
            require_finite_from_env(reward, "reward", self.env, self.env_steps, 0)
            rewards.append(reward)
            previous, current = current, self.obs_filter(raw)
            if terminated or truncated:
                break
        return Episode(np.asarray(observations, np.float32), np.asarray(actions, np.float32),
                       np.asarray(rewards, np.float64), np.concatenate([current, previous]),
                       bool(terminated))


class EvaluationActor:
    """Acts in a replay as the collector does, without updating the filter's statistics:
    raw observation [obs_dim] -> env action [act_dim]. Call `reset()` at each episode start."""

    def __init__(self, actor: CompiledActor, obs_filter: ZFilter, action_space: gym.Space):
        self.actor = actor
        self.obs_filter = obs_filter
        self.low = action_space.low.astype(np.float64)
        self.high = action_space.high.astype(np.float64)
        self.previous = None

    def reset(self) -> None:
        self.previous = None

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        current = self.obs_filter(observation, update=False)
        previous = np.zeros_like(current) if self.previous is None else self.previous
        self.previous = current
        action = self.actor(np.concatenate([current, previous])[None])[0]
        return scale_actions(action, self.low, self.high)
