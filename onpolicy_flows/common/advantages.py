"""Generalised advantage estimation and the explained-variance diagnostic."""
import numpy as np


def gae(rewards: np.ndarray, values: np.ndarray, next_values: np.ndarray,
        terminated: np.ndarray, episode_ends: np.ndarray, gamma: float,
        lam: float) -> np.ndarray:
    """GAE(gamma, lambda) advantages for segments of T consecutive steps.

    Args (all shape [..., T]: one segment, or one per environment along leading axes):
      rewards: r_t.
      values: V(s_t).
      next_values: V(s_{t+1}) of the observation that followed step t; at an episode end this
        is the value of the episode's final observation (before the reset), and after the last
        step of the segment the value of the observation the next segment starts from.
      terminated: true where the episode reached a terminal state at step t: no bootstrap.
      episode_ends: true where the episode ended at step t, by termination or by truncation
        (time limit): the advantage recursion does not cross this step. A truncated step still
        bootstraps from next_values.
    Returns: advantages [..., T], float64.
    """
    continuing = 1.0 - np.asarray(terminated, dtype=np.float64)
    not_ended = 1.0 - np.asarray(episode_ends, dtype=np.float64)
    deltas = rewards + gamma * continuing * next_values - values
    advantages = np.zeros(deltas.shape, dtype=np.float64)
    running = np.zeros(deltas.shape[:-1])
    for t in reversed(range(deltas.shape[-1])):
        running = deltas[..., t] + gamma * lam * not_ended[..., t] * running
        advantages[..., t] = running
    return advantages


def explained_variance(predictions: np.ndarray, targets: np.ndarray) -> float:
    """1 - Var[targets - predictions] / Var[targets]: 1 is perfect, 0 no better than a constant,
    negative worse; NaN when the targets do not vary."""
    target_variance = np.var(targets)
    if target_variance == 0:
        return float("nan")
    return float(1.0 - np.var(targets - predictions) / target_variance)


def segment_gae(segment, rewards: np.ndarray, predict_values, gamma: float, lam: float,
                bootstrap_truncation: bool = True):
    """GAE along each environment's steps of a rollout segment (`envs.rollout.Segment`,
    N environments x S steps).

    rewards: [N, S], the segment's own or rescaled ones. predict_values: raw observations
    [n, obs_dim] float32 -> values [n]. With bootstrap_truncation=False, a time-limit
    truncation is treated as termination (the original's rule).
    Returns flat (environment-major) values V(s_t) [N * S], TD(lambda) returns [N * S]
    (advantages + values) and advantages [N * S], float64.
    """
    both = np.concatenate([segment.observations, segment.next_observations])  # [2N, S, d]
    all_values = np.asarray(predict_values(both.reshape(-1, both.shape[-1])), np.float64)
    values, next_values = all_values.reshape(2, *rewards.shape)  # [N, S] each
    terminated = segment.terminated if bootstrap_truncation else segment.episode_ends
    advantages = gae(rewards, values, next_values, terminated, segment.episode_ends, gamma, lam)
    return values.reshape(-1), (advantages + values).reshape(-1), advantages.reshape(-1)
