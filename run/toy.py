"""The paper's toy figures with our own distributions (CPU, under a minute each):
`python -m run.toy {kl_ball,entropy,bandit_correlated,bandit_multimodal}`.

`python -m run.toy kl_ball --inits 20` fits Figure 1 (a, b) from 20 random initialisations
(init seeds --seed, --seed + 1, ...) around the reference samples of --seed, writes the
flow/Gaussian spread ratios to results/fig1_kl_ball/spread_ratios.json and prints their
distribution instead of drawing the figure."""
import argparse
import json
import os

import numpy as np

from onpolicy_flows.common.config import provenance
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.common.seeding import configure_tensorflow_threads
from onpolicy_flows.experiments.figures import bandits, kl_ball
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard

FIGURES = ("kl_ball", "entropy", "bandit_correlated", "bandit_multimodal")


def kl_ball_figure(seed, init_noise, out_prefix):
    points, result, policies = kl_ball.kl_ball(seed, init_noise)
    print(f"Figure 1 (a, b): on the boundary of the KL ball (epsilon {kl_ball.KL_RADIUS}); "
          "spread around the origin")
    print(kl_ball.spread_lines(result, "KL", centre=np.zeros(2)))
    print(kl_ball.spread_ratio_line(result, centre=np.zeros(2)))
    return kl_ball.draw_kl_ball(points, result, policies, out_prefix)


def kl_ball_spread_ratios(seed, num_inits, init_noise, results_dir):
    """Writes the spread ratios of `num_inits` initialisations; returns the JSON's path."""
    inits = kl_ball.spread_ratios_over_inits(seed, range(seed, seed + num_inits), init_noise)
    distribution = kl_ball.ratio_distribution(inits)
    path = os.path.join(results_dir, kl_ball.SPREAD_RATIOS_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as file:
        json.dump(dict(
            about="Figure 1 (a, b) from several random initialisations: a Gaussian and a flow "
                  "fitted onto the boundary KL = kl_radius around the same reference samples; "
                  "ratios are flow over Gaussian of the samples' spread around the origin "
                  "(> 1: the flow is wider).",
            command=f"python -m run.toy kl_ball --inits {num_inits} --seed {seed} "
                    f"--init-noise {init_noise}",
            reference_seed=seed, init_noise=init_noise, kl_radius=kl_ball.KL_RADIUS,
            num_statistic_samples=kl_ball.NUM_STATISTIC_SAMPLES, **provenance(),
            distribution=distribution, inits=inits), file, indent=1)
        file.write("\n")
    for statistic, summary in distribution.items():
        quantiles = ", ".join(f"{level}: {value:.2f}"
                              for level, value in summary["quantiles"].items())
        print(f"  {statistic}: quantiles {quantiles}; above 1 in {summary['exceed_one']} of "
              f"{summary['count']}")
    return path


def entropy_figure(seed, out_prefix):
    results = kl_ball.equal_entropy(seed)
    for entropy, result in results.items():
        print(f"Figure 1 (c): entropy target {entropy}")
        print(kl_ball.spread_lines(result, "H"))
    return kl_ball.draw_equal_entropy(results, out_prefix)


def bandit_figure(name, seed, out_prefix):
    result = bandits.solve_bandit(name, seed)
    if name == "bandit_correlated":
        print("Figure 2 (a): correlation of the learned actions")
        print(bandits.correlation_lines(result))
    else:
        print("Figure 2 (b): share of samples near each mode")
        print(bandits.mode_share_lines(result))
    return bandits.draw_bandit(result, name, out_prefix)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("figure", choices=FIGURES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init-noise", type=float, default=kl_ball.INIT_NOISE,
                        help="kl_ball: std of the noise added to every initial weight")
    parser.add_argument("--inits", type=int, default=None,
                        help="kl_ball: fit from this many random initialisations and write "
                             "their spread ratios (JSON) instead of the figure")
    parser.add_argument("--results-dir", default="results",
                        help="kl_ball --inits: the results folder the JSON goes under")
    parser.add_argument("--out-dir", default="plots/toy", help="where the PNG goes")
    add_verbose_flag(parser)
    args = parser.parse_args()
    if args.inits is not None and (args.figure != "kl_ball" or args.inits < 1):
        raise UserError("--inits needs the kl_ball figure and a positive count")
    configure_tensorflow_threads(1)
    out_prefix = os.path.join(args.out_dir, args.figure)
    if args.inits is not None:
        paths = [kl_ball_spread_ratios(args.seed, args.inits, args.init_noise,
                                       args.results_dir)]
    elif args.figure == "kl_ball":
        paths = kl_ball_figure(args.seed, args.init_noise, out_prefix)
    elif args.figure == "entropy":
        paths = entropy_figure(args.seed, out_prefix)
    else:
        paths = bandit_figure(args.figure, args.seed, out_prefix)
    print(f"wrote {', '.join(paths)}")


if __name__ == "__main__":
    main_guard(main)
