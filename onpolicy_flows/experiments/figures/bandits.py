"""Figure 2 (a, b): two-dimensional bandits solved with the maximum-entropy objective.

Each policy maximises E[r(a)] + c H[pi] = E_a[r(a) - c log pi(a)], estimated with pathwise
samples (toy_fitting.pathwise_samples: stratified over components for the GMM). The optimum
is pi* proportional to exp(r(a) / c).
(a) r(a) = -a^T Sigma^-1 a with correlated Sigma, c = 0.1: pi* = N(0, c Sigma / 2); the
    statistic is the correlation coefficient of the learned actions (0 for a factorized Gaussian).
(b) r(a) = max_i -(a - mu_i)^T Lambda^-1 (a - mu_i), two modes mu_i, c = 0.5 (at c = 0.1
    pi* is so sharply bimodal that the reverse-KL fit of every class here but the GMM
    collapses onto one mode): the statistic is the share of samples within MODE_RADIUS of
    each mode.
"""
from dataclasses import dataclass
from typing import Callable, Dict

import numpy as np
import tensorflow as tf

from onpolicy_flows.experiments.figures import toy_fitting
from onpolicy_flows.experiments.figures.plotting import panel_grid, save_figure
from onpolicy_flows.experiments.figures.spread import correlation, shares_near

CORRELATED_COVARIANCE = np.array([[1.0, 0.9], [0.9, 1.0]], np.float32)
MODES = np.array([[-0.5, -0.5], [0.5, 0.5]], np.float32)
MODE_PRECISION = 2.0  # Lambda^-1 = 2 I
MODE_RADIUS = 0.5
BATCH_SAMPLES = 256
FIT_STEPS = 1000
NUM_PLOT_SAMPLES = 2000
POLICY_COLOURS = {"gaussian": "tab:green", "gmm": "tab:orange", "flow": "tab:blue"}
PLOT_LIMIT = 1.2


def correlated_reward(actions: tf.Tensor) -> tf.Tensor:
    """-a^T Sigma^-1 a for actions [..., 2] -> [...]."""
    precision = tf.constant(np.linalg.inv(CORRELATED_COVARIANCE))
    return -tf.einsum("...i,ij,...j->...", actions, precision, actions)


def two_mode_reward(actions: tf.Tensor) -> tf.Tensor:
    """max_i -(a - mu_i)^T Lambda^-1 (a - mu_i) for actions [..., 2] -> [...]."""
    offsets = actions[..., None, :] - tf.constant(MODES)  # [..., modes, 2]
    return tf.reduce_max(-MODE_PRECISION * tf.reduce_sum(tf.square(offsets), -1), axis=-1)


# name -> (reward, entropy coefficient c)
BANDITS = {"bandit_correlated": (correlated_reward, 0.1),
           "bandit_multimodal": (two_mode_reward, 0.5)}


@dataclass(frozen=True)
class BanditResult:
    reward: Callable
    samples: Dict[str, np.ndarray]  # policy class -> [NUM_PLOT_SAMPLES, 2]


def max_entropy_loss(policy, reward: Callable, entropy_coefficient: float) -> tf.Tensor:
    """-(E[r(a)] + c H[pi]) over pathwise samples (scalar)."""
    actions = toy_fitting.pathwise_samples(policy, BATCH_SAMPLES)  # [n, 1, 2]
    log_density = toy_fitting.distribution(policy).log_prob(actions)  # [n, 1]
    return -tf.reduce_mean(reward(actions) - entropy_coefficient * log_density)


def solve_bandit(name: str, seed: int = 0, kinds=tuple(toy_fitting.TOY_POLICIES),
                 steps: int = FIT_STEPS) -> BanditResult:
    """Trains each policy class of `kinds` on bandit `name` for `steps` Adam steps and
    samples it."""
    reward, entropy_coefficient = BANDITS[name]
    samples = {}
    for kind in kinds:
        policy = toy_fitting.make_toy_policy(kind, seed)
        toy_fitting.minimise(
            policy, lambda: max_entropy_loss(policy, reward, entropy_coefficient), steps)
        samples[kind] = toy_fitting.samples(policy, NUM_PLOT_SAMPLES)
    return BanditResult(reward, samples)


def correlation_lines(result: BanditResult) -> str:
    target = CORRELATED_COVARIANCE[0, 1] / CORRELATED_COVARIANCE[0, 0]
    lines = [f"  {kind:8s} correlation {correlation(samples):+.3f}"
             for kind, samples in result.samples.items()]
    return "\n".join(lines + [f"  optimum  correlation {target:+.3f}"])


def mode_share_lines(result: BanditResult) -> str:
    return "\n".join(
        f"  {kind:8s} share within {MODE_RADIUS} of mode {MODES[0]}: {shares[0]:.3f}, "
        f"of mode {MODES[1]}: {shares[1]:.3f}"
        for kind, shares in ((kind, shares_near(samples, MODES, MODE_RADIUS))
                             for kind, samples in result.samples.items()))


def draw_bandit(result: BanditResult, title: str, out_prefix: str):
    """One panel per policy class: its samples over red contours of the reward."""
    figure, axes = panel_grid(len(result.samples))
    grid = np.linspace(-PLOT_LIMIT, PLOT_LIMIT, 100, dtype=np.float32)
    mesh = np.stack(np.meshgrid(grid, grid), axis=-1)  # [100, 100, 2]
    reward = result.reward(tf.constant(mesh)).numpy()
    for axis, (kind, samples) in zip(axes, result.samples.items()):
        axis.contour(grid, grid, reward, levels=8, colors="tab:red", linewidths=0.8)
        axis.scatter(*samples.T, s=2, alpha=0.4, color=POLICY_COLOURS[kind])
        axis.set_title(f"{title}: {kind}")
        axis.set_xlim(-PLOT_LIMIT, PLOT_LIMIT)
        axis.set_ylim(-PLOT_LIMIT, PLOT_LIMIT)
        axis.set_aspect("equal")
    return save_figure(figure, out_prefix, ("png",))
