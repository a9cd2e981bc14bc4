"""The paper's toy figures with our own distributions (CPU, under a minute each):
`python -m run.toy {kl_ball,entropy,bandit_correlated,bandit_multimodal}`."""
import argparse
import os

import numpy as np

from onpolicy_flows.common.cli import add_verbose_flag, main_guard
from onpolicy_flows.common.seeding import configure_tensorflow_threads
from onpolicy_flows.experiments import bandits, kl_ball

FIGURES = ("kl_ball", "entropy", "bandit_correlated", "bandit_multimodal")


def kl_ball_figure(seed, init_noise, out_prefix):
    points, result, policies = kl_ball.kl_ball(seed, init_noise)
    print(f"Figure 1 (a, b): on the boundary of the KL ball (epsilon {kl_ball.KL_RADIUS}); "
          "spread around the origin")
    print(kl_ball.spread_lines(result, "KL", centre=np.zeros(2)))
    print(kl_ball.spread_ratio_line(result, centre=np.zeros(2)))
    return kl_ball.draw_kl_ball(points, result, policies, out_prefix)


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
    parser.add_argument("--out-dir", default="plots/toy", help="where the PNG goes")
    add_verbose_flag(parser)
    args = parser.parse_args()
    configure_tensorflow_threads(1)
    out_prefix = os.path.join(args.out_dir, args.figure)
    if args.figure == "kl_ball":
        paths = kl_ball_figure(args.seed, args.init_noise, out_prefix)
    elif args.figure == "entropy":
        paths = entropy_figure(args.seed, out_prefix)
    else:
        paths = bandit_figure(args.figure, args.seed, out_prefix)
    print(f"wrote {', '.join(paths)}")


if __name__ == "__main__":
    main_guard(main)
