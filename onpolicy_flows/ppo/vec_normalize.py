"""Observation and reward normalisation as baselines' `VecNormalize` does it for ppo2, with the
statistics shared by all MPI ranks and updated once per batch, or (`StepNormalization`, one
env of one process) at every step, as the original's VecNormalize did.

Observations are standardised with their running mean and variance and clipped to
[-obs_clip, obs_clip]. Rewards are divided by the running standard deviation of the
discounted return accumulated along each environment's episodes (not centred), then clipped
to [-reward_clip, reward_clip]. Both statistics start from a prior of mean 0 and variance 1
weighted as 1e-4 samples, and standard deviations are sqrt(variance + 1e-8), as there.
"""
import gymnasium as gym
import numpy as np
import tensorflow as tf

from onpolicy_flows.common.running_mean_std import RunningMeanStd

PRIOR_COUNT = 1e-4  # VecNormalize's RunningMeanStd(epsilon=1e-4)
EPSILON = 1e-8  # added to the variance before the square root


def observation_normalizer(obs_dim: int, clip: float) -> RunningMeanStd:
    """Running observation statistics [obs_dim] with VecNormalize's prior, epsilon and clip;
    policies and value functions normalise their inputs with it."""
    return RunningMeanStd(obs_dim, clip=clip, prior_count=PRIOR_COUNT, min_variance=0.0,
                          epsilon=EPSILON, name="obs_rms")


class ReturnNormalizer(tf.Module):
    """Scales the rewards of segments from `num_envs` environments by the running std of the
    discounted return R_t = gamma R_{t-1} + r_t (R restarts at 0 after each episode end, or
    with `reset_at_episode_end` False runs on across episodes, as the VecNormalize of the
    original's time did).

    The statistics (`returns_rms`) are variables, so checkpoints carry them. The running
    returns of the environments are not: a resumed run starts new episodes.
    """

    def __init__(self, num_envs: int, gamma: float, clip: float,
                 reset_at_episode_end: bool = True, name: str = "ret_rms"):
        super().__init__(name=name)
        self.gamma = gamma
        self.clip = clip
        self.reset_at_episode_end = reset_at_episode_end
        self.returns_rms = RunningMeanStd(1, clip=np.inf, prior_count=PRIOR_COUNT,
                                          min_variance=0.0, epsilon=EPSILON, name="returns_rms")
        self.running_returns = np.zeros(num_envs)  # R of each environment's current episode

    def scale(self, rewards: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:
        """Scaled rewards [N, S] float64 of a segment's rewards [N, S] (N environments, S
        consecutive steps each) and its episode ends [N, S] bool. Adds the segment's running
        returns to the statistics first (all ranks; collective), so that every reward is
        divided by a std that includes its own return, as in VecNormalize."""
        running = self.running_returns.copy()
        returns = np.zeros(rewards.shape)  # [N, S]
        for t in range(rewards.shape[1]):
            running = self.gamma * running + rewards[:, t]
            returns[:, t] = running
            if self.reset_at_episode_end:
                running = np.where(episode_ends[:, t], 0.0, running)
        self.running_returns = running
        self.returns_rms.update(returns.reshape(-1, 1))
        std = float(self.returns_rms.std.numpy()[0])
        return np.clip(rewards / std, -self.clip, self.clip)


NORMALIZER_UPDATES = ("per-batch", "per-step")


class StepNormalization(gym.Wrapper):
    """The original's VecNormalize around one env: every observation (a reset's included)
    first updates `observations`, then is standardised and clipped with it, except an
    episode's last one, which the original's auto-resetting env never showed its
    VecNormalize (it is standardised without joining the statistics); every reward
    first extends the running return, whose statistics (`returns`) it updates, then is
    divided by their std and clipped (`ReturnNormalizer.scale` on one step). The episode
    statistics in `info` stay those of the Monitor inside, in raw rewards. Statistics are
    this process's own (one env, one rank)."""

    def __init__(self, env: gym.Env, observations: RunningMeanStd, returns: ReturnNormalizer):
        super().__init__(env)
        self.observations = observations
        self.returns = returns

    def reset(self, **kwargs):
        observation, info = self.env.reset(**kwargs)
        return self._normalized(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        scaled = self.returns.scale(np.array([[reward]], np.float64),
                                    np.array([[terminated or truncated]]))
        normalized = self._normalized(observation, update=not (terminated or truncated))
        return normalized, float(scaled[0, 0]), terminated, truncated, info

    def _normalized(self, observation: np.ndarray, update: bool = True) -> np.ndarray:
        """[obs_dim] float32, after adding `observation` to the statistics if `update`."""
        if update:
            self.observations.update(observation[None])
        return self.observations.normalize(np.asarray(observation, np.float32)[None]).numpy()[0]
