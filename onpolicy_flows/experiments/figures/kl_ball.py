"""Figure 1: a Gaussian and a flow on the boundary of a KL ball, and at equal entropy.

(a, b) Reference samples x_i ~ N(0, 0.1^2 I) in R^2 (NUM_REFERENCE_SAMPLES of them) form the
empirical distribution pi_o. KL[pi_o || pi] is estimated at those samples as
mean_i [log N(x_i; 0, 0.1^2 I) - log pi(x_i)]. Only the second term depends on pi; we use
the sample mean of the first rather than the analytic -H[N(0, 0.1^2 I)] (they differ by a
constant, 0.044 nats for seed 0) because then the maximum-likelihood factorized Gaussian of
the samples always has an estimate <= 0, so the boundary KL = epsilon is reachable for every
seed; with the analytic entropy it can fail to be when the samples' variance exceeds 0.1^2
by chance.
As in the paper, each distribution starts from random weights (every weight perturbed by
N(0, INIT_NOISE^2), so both start with a spread of about 1 rather than 0.1) and takes
gradient steps on the KL until it reaches epsilon = 0.01; a bisection along the last step
puts it on the boundary (toy_fitting.descend_to_level), so both end within 1e-6 of epsilon.

What we find (seed 0): on the boundary the factorized Gaussian is N(~0, ~0.103^2 I), as the
KL allows a factorized Gaussian little else. The flow's bulk is about as wide as the
Gaussian's (95% radius and total variance within a few %), NOT much wider as the paper
reports; only its far tail is heavier (99% radius and largest samples larger). How heavy
that tail is depends on the random initialisation: the KL from the reference samples does
not constrain mass far from them, and with a larger INIT_NOISE (0.5) the flow keeps tails
reaching thousands of units (seed 0: total variance ~2900 after 2760 steps) while its 95%
radius stays at the Gaussian's. `spread_ratios_over_inits` repeats the fit from many random
initialisations (`python -m run.toy kl_ball --inits 20`, shown on docs/results.md).

(c) Each distribution is fitted to an entropy H (-1 and -4 nats) by minimising
(H_estimate - H)^2. Seed 0: at H = -4 the flow spreads more than the Gaussian (total
variance ~3.5x, by stretching along one axis); at H = -1 the two are alike. The statistics:
total variance, and the radii within which 95% and 99% of the samples lie (around the origin
for (a, b), around the samples' mean for (c)).
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from onpolicy_flows.experiments.figures import toy_fitting
from onpolicy_flows.experiments.figures.plotting import panel_grid, save_figure
from onpolicy_flows.experiments.figures.spread import radius, total_variance

REFERENCE_STD = 0.1
KL_RADIUS = 0.01
ENTROPY_LEVELS = (-1.0, -4.0)
NUM_REFERENCE_SAMPLES = 500
NUM_PLOT_SAMPLES = 2000
NUM_STATISTIC_SAMPLES = 20000
FIT_STEPS = 1000
INIT_NOISE = 0.1
KL_FIT_LEARNING_RATE = 2e-2
KL_FIT_MAX_STEPS = 3000
COMPARED = ("gaussian", "flow")
SPREAD_STATISTICS = ("total_variance", "radius_95", "radius_99")
WIDER_RATIO = 1.1
RATIO_QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)
SPREAD_RATIOS_FILE = "fig1_kl_ball/spread_ratios.json"  # under the results folder


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


def fit_to_kl_boundary(kind: str, points: np.ndarray, seed: int,
                       init_noise: float = INIT_NOISE):
    """A randomly initialised distribution of class `kind` moved by gradient steps on the KL
    from the reference `points` [n, 2] until KL = KL_RADIUS; returns (policy, final KL)."""
    policy = toy_fitting.make_toy_policy(kind, seed, init_noise)
    points = tf.constant(points)
    reference_log_density = reference_gaussian_log_density(points)
    kl = lambda: kl_from_reference(policy, points, reference_log_density)  # noqa: E731
    toy_fitting.descend_to_level(policy, kl, KL_RADIUS, KL_FIT_LEARNING_RATE,
                                 KL_FIT_MAX_STEPS)
    return policy, float(kl())


def fit_to_entropy(kind: str, entropy: float, seed: int):
    policy = toy_fitting.make_toy_policy(kind, seed, INIT_NOISE)
    estimate = lambda: toy_fitting.entropy_estimate(policy, 256)  # noqa: E731
    toy_fitting.minimise(policy, lambda: tf.square(estimate() - entropy), FIT_STEPS)
    return policy, float(toy_fitting.entropy_estimate(policy, 20000))


def kl_ball(seed: int = 0, init_noise: float = INIT_NOISE
            ) -> Tuple[np.ndarray, FittedSamples, dict]:
    """Figure 1 (a, b): (reference samples, NUM_STATISTIC_SAMPLES samples of each fitted
    distribution, policies by class)."""
    points = reference_samples(seed)
    result, policies = fit_both_on_boundary(points, seed, init_noise)
    return points, result, policies


def fit_both_on_boundary(points: np.ndarray, init_seed: int, init_noise: float = INIT_NOISE
                         ) -> Tuple[FittedSamples, dict]:
    """Each compared class, initialised from `init_seed`, fitted onto the boundary of the KL
    ball around `points` [n, 2]: (NUM_STATISTIC_SAMPLES samples of each, policies by class)."""
    fitted = {kind: fit_to_kl_boundary(kind, points, init_seed, init_noise)
              for kind in COMPARED}
    result = FittedSamples({kind: toy_fitting.samples(policy, NUM_STATISTIC_SAMPLES)
                            for kind, (policy, _) in fitted.items()},
                           {kind: kl for kind, (_, kl) in fitted.items()})
    return result, {kind: policy for kind, (policy, _) in fitted.items()}


def spread_ratios_over_inits(reference_seed: int, init_seeds: Sequence[int],
                             init_noise: float = INIT_NOISE) -> List[dict]:
    """Figure 1 (a, b) repeated from several random initialisations around ONE set of
    reference samples (drawn with `reference_seed`): per init seed, the final KL of each
    class and the flow/Gaussian spread ratios around the origin (`spread_ratios`)."""
    points = reference_samples(reference_seed)
    inits = []
    for init_seed in init_seeds:
        result, _ = fit_both_on_boundary(points, init_seed, init_noise)
        inits.append(dict(init_seed=int(init_seed), kl=result.achieved,
                          ratios=spread_ratios(result, centre=np.zeros(2))))
    return inits


def ratio_distribution(inits: Sequence[dict]) -> Dict[str, dict]:
    """Per spread statistic, over the inits of `spread_ratios_over_inits`: the number of
    inits, the ratios' quantiles RATIO_QUANTILES, and how many ratios exceed 1 (flow wider)."""
    distribution = {}
    for statistic in SPREAD_STATISTICS:
        ratios = np.array([init["ratios"][statistic] for init in inits])
        distribution[statistic] = dict(
            count=len(ratios), exceed_one=int(np.sum(ratios > 1.0)),
            quantiles={f"{level:g}": float(np.quantile(ratios, level))
                       for level in RATIO_QUANTILES})
    return distribution


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


def spread_lines(result: FittedSamples, quantity: str,
                 centre: Optional[np.ndarray] = None) -> str:
    """One line per class: the fitted quantity and the spread of its samples around `centre`
    [2] (default: the samples' own mean)."""
    return "\n".join(
        f"  {kind:8s} {quantity} {result.achieved[kind]:+.5f}  total variance "
        f"{total_variance(samples):.4f}  radius 95% "
        f"{radius(samples, samples.mean(0) if centre is None else centre):.3f}  99% "
        f"{radius(samples, samples.mean(0) if centre is None else centre, 0.99):.3f}"
        for kind, samples in result.samples.items())


def spread_ratios(result: FittedSamples, centre: np.ndarray) -> Dict[str, float]:
    """Flow over Gaussian for each of SPREAD_STATISTICS of the samples around `centre` [2]
    (> 1: the flow is wider)."""
    flow, gaussian = result.samples["flow"], result.samples["gaussian"]
    return dict(total_variance=total_variance(flow) / total_variance(gaussian),
                radius_95=radius(flow, centre) / radius(gaussian, centre),
                radius_99=radius(flow, centre, 0.99) / radius(gaussian, centre, 0.99))


def spread_ratio_line(result: FittedSamples, centre: np.ndarray) -> str:
    """The spread ratios in words; the flow is called wider when every ratio exceeds
    WIDER_RATIO."""
    ratios = spread_ratios(result, centre)
    verdict = "wider" if min(ratios.values()) > WIDER_RATIO else "NOT clearly wider"
    return (f"  flow / gaussian: total variance {ratios['total_variance']:.2f}, radius 95% "
            f"{ratios['radius_95']:.2f}, 99% {ratios['radius_99']:.2f}: the flow is {verdict} "
            f"than the Gaussian (paper: much wider)")


def draw_kl_ball(points: np.ndarray, result: FittedSamples, policies: dict, out_prefix: str):
    """2 x 2 panels: log-density contours (top) and samples (bottom), Gaussian left, flow
    right; reference samples in red."""
    figure, axes = panel_grid(4, max_columns=2)
    limit = 1.2 * max(np.abs(samples[:NUM_PLOT_SAMPLES]).max()
                      for samples in result.samples.values())
    limit = min(limit, 3.0)
    grid = np.linspace(-limit, limit, 120, dtype=np.float32)
    mesh = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    for column, kind in enumerate(COMPARED):
        log_density = toy_fitting.log_density(policies[kind], tf.constant(mesh)).numpy()
        contour_axis, sample_axis = axes[column], axes[2 + column]
        contour_axis.contourf(grid, grid, log_density.reshape(len(grid), len(grid)),
                              levels=np.linspace(-10, log_density.max(), 15), extend="min")
        contour_axis.set_title(f"(a) log density, {kind}, KL = {result.achieved[kind]:.4f}")
        sample_axis.scatter(*result.samples[kind][:NUM_PLOT_SAMPLES].T, s=2, color="tab:blue",
                            label=kind)
        sample_axis.scatter(*points.T, s=2, color="tab:red", label="reference samples")
        sample_axis.set_title(f"(b) samples, {kind}")
        sample_axis.legend(fontsize=7, markerscale=4)
        for axis in (contour_axis, sample_axis):
            axis.set_xlim(-limit, limit)
            axis.set_ylim(-limit, limit)
            axis.set_aspect("equal")
    return save_figure(figure, out_prefix, ("png",))


def draw_equal_entropy(results: Dict[float, FittedSamples], out_prefix: str):
    """One panel per entropy level: Gaussian samples red, flow samples blue, each shifted to
    its own mean (the entropy does not pin a location, so the fitted means drift apart)."""
    figure, axes = panel_grid(len(results))
    for axis, (entropy, result) in zip(axes, results.items()):
        for kind, colour in zip(COMPARED, ("tab:red", "tab:blue")):
            centred = result.samples[kind] - result.samples[kind].mean(0)  # [n, 2]
            axis.scatter(*centred.T, s=2, color=colour, alpha=0.5, label=kind)
        axis.set_title(f"(c) samples at entropy H = {entropy}, each centred")
        axis.set_aspect("equal")
        axis.legend(fontsize=7, markerscale=4)
    return save_figure(figure, out_prefix, ("png",))
