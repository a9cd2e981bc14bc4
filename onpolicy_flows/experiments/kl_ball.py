"""Figure 1: a Gaussian and a flow on the boundary of a KL ball, and at equal entropy.

(a, b) Reference samples x_i ~ N(0, 0.1^2 I) form the empirical distribution pi_o. Starting
from randomly perturbed weights, each distribution is fitted until KL[pi_o || pi] = epsilon
(0.01), minimising (KL - epsilon)^2 with KL estimated as mean_i log N(x_i; 0, 0.1^2 I) -
log pi(x_i). (c) Each distribution is fitted to an entropy H (-1 and -4 nats) by minimising
(H_estimate - H)^2. The paper's statistic: how far the samples spread (total variance and
95% radius around the origin or their mean).
"""
from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np
import tensorflow as tf

from onpolicy_flows.experiments import toy_fitting
from onpolicy_flows.experiments.figures import panel_grid, save_figure
from onpolicy_flows.experiments.spread import radius, total_variance

REFERENCE_STD = 0.1
KL_RADIUS = 0.01
ENTROPY_LEVELS = (-1.0, -4.0)
NUM_REFERENCE_SAMPLES = 500
NUM_PLOT_SAMPLES = 2000
FIT_STEPS = 1000
INIT_NOISE = 0.1
KL_FIT_LEARNING_RATE = 2e-2
COMPARED = ("gaussian", "flow")


@dataclass(frozen=True)
class FittedSamples:
    """Samples [n, 2] of each fitted distribution, with the fitted quantity's final value."""
    samples: Dict[str, np.ndarray]
    achieved: Dict[str, float]


def reference_samples(seed: int) -> np.ndarray:
    """[NUM_REFERENCE_SAMPLES, 2] draws of N(0, 0.1^2 I)."""
    return REFERENCE_STD * np.random.default_rng(seed).standard_normal(
        (NUM_REFERENCE_SAMPLES, 2)).astype(np.float32)


def reference_gaussian_log_density(points: tf.Tensor) -> tf.Tensor:
    """log N(points; 0, 0.1^2 I) for points [n, 2] -> [n]."""
    variance = REFERENCE_STD ** 2
    return (-tf.reduce_sum(tf.square(points), axis=-1) / (2 * variance)
            - np.log(2 * np.pi * variance))


def kl_from_reference(policy, points: tf.Tensor, reference_log_density: tf.Tensor):
    """KL[pi_o || pi] estimate at reference points [n, 2] (scalar)."""
    return tf.reduce_mean(reference_log_density - toy_fitting.log_density(policy, points))


def fit_to_kl_boundary(kind: str, points: np.ndarray, seed: int):
    policy = toy_fitting.make_toy_policy(kind, seed, INIT_NOISE)
    points = tf.constant(points)
    reference_log_density = reference_gaussian_log_density(points)
    kl = lambda: kl_from_reference(policy, points, reference_log_density)  # noqa: E731
    toy_fitting.minimise(policy, lambda: tf.square(kl() - KL_RADIUS), FIT_STEPS,
                         learning_rate=KL_FIT_LEARNING_RATE)
    return policy, float(kl())


def fit_to_entropy(kind: str, entropy: float, seed: int):
    policy = toy_fitting.make_toy_policy(kind, seed, INIT_NOISE)
    estimate = lambda: toy_fitting.entropy_estimate(policy, 256)  # noqa: E731
    toy_fitting.minimise(policy, lambda: tf.square(estimate() - entropy), FIT_STEPS)
    return policy, float(toy_fitting.entropy_estimate(policy, 20000))


def kl_ball(seed: int = 0) -> Tuple[np.ndarray, FittedSamples, dict]:
    """Figure 1 (a, b): (reference samples, fitted samples, policies by class)."""
    points = reference_samples(seed)
    fitted = {kind: fit_to_kl_boundary(kind, points, seed) for kind in COMPARED}
    result = FittedSamples({kind: toy_fitting.samples(policy, NUM_PLOT_SAMPLES)
                            for kind, (policy, _) in fitted.items()},
                           {kind: kl for kind, (_, kl) in fitted.items()})
    return points, result, {kind: policy for kind, (policy, _) in fitted.items()}


def equal_entropy(seed: int = 0) -> Dict[float, FittedSamples]:
    """Figure 1 (c): for each entropy level, samples of the Gaussian and the flow."""
    results = {}
    for entropy in ENTROPY_LEVELS:
        fitted = {kind: fit_to_entropy(kind, entropy, seed) for kind in COMPARED}
        results[entropy] = FittedSamples(
            {kind: toy_fitting.samples(policy, NUM_PLOT_SAMPLES)
             for kind, (policy, _) in fitted.items()},
            {kind: value for kind, (_, value) in fitted.items()})
    return results


def spread_lines(result: FittedSamples, quantity: str) -> str:
    return "\n".join(
        f"  {kind:8s} {quantity} {result.achieved[kind]:+.4f}  total variance "
        f"{total_variance(samples):.4f}  95% radius {radius(samples, samples.mean(0)):.3f}"
        for kind, samples in result.samples.items())


def draw_kl_ball(points: np.ndarray, result: FittedSamples, policies: dict, out_prefix: str):
    """2 x 2 panels: log-density contours (top) and samples (bottom), Gaussian left, flow
    right; reference samples in red."""
    figure, axes = panel_grid(4)
    limit = 1.2 * max(np.abs(samples).max() for samples in result.samples.values())
    limit = min(limit, 3.0)
    grid = np.linspace(-limit, limit, 120, dtype=np.float32)
    mesh = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    for column, kind in enumerate(COMPARED):
        log_density = toy_fitting.log_density(policies[kind], tf.constant(mesh)).numpy()
        contour_axis, sample_axis = axes[column], axes[2 + column]
        contour_axis.contourf(grid, grid, log_density.reshape(len(grid), len(grid)),
                              levels=np.linspace(-10, log_density.max(), 15), extend="min")
        contour_axis.set_title(f"(a) log density, {kind}, KL = {result.achieved[kind]:.4f}")
        sample_axis.scatter(*result.samples[kind].T, s=2, color="tab:blue", label=kind)
        sample_axis.scatter(*points.T, s=2, color="tab:red", label="reference samples")
        sample_axis.set_title(f"(b) samples, {kind}")
        sample_axis.legend(fontsize=7, markerscale=4)
        for axis in (contour_axis, sample_axis):
            axis.set_xlim(-limit, limit)
            axis.set_ylim(-limit, limit)
            axis.set_aspect("equal")
    return save_figure(figure, out_prefix, ("png",))


def draw_equal_entropy(results: Dict[float, FittedSamples], out_prefix: str):
    """One panel per entropy level: Gaussian samples red, flow samples blue."""
    figure, axes = panel_grid(len(results))
    for axis, (entropy, result) in zip(axes, results.items()):
        for kind, colour in zip(COMPARED, ("tab:red", "tab:blue")):
            axis.scatter(*result.samples[kind].T, s=2, color=colour, alpha=0.5, label=kind)
        axis.set_title(f"(c) samples at entropy H = {entropy}")
        axis.set_aspect("equal")
        axis.legend(fontsize=7, markerscale=4)
    return save_figure(figure, out_prefix, ("png",))
