"""Figure 2(c): `python -m run.trajectories RUN_DIR [RUN_DIR ...] --out ant_com.png`.

Replays each run's latest checkpoint (with sampling noise) and draws the centre-of-mass
(x, y) paths of its episodes, one panel per run, on shared axes.
"""
import argparse
import os

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories with checkpoints")
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--max-steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="com_trajectories.png", help="PNG (an SVG beside it)")
    add_verbose_flag(parser)
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.max_steps < 1:
        raise UserError("--episodes and --max-steps must be >= 1")
    from onpolicy_flows.experiments.figures.trajectories import centre_of_mass_paths
    from onpolicy_flows.experiments.figures.trajectory_figure import draw_paths
    paths = {run_dir: centre_of_mass_paths(run_dir, args.episodes, args.seed, args.max_steps)
             for run_dir in args.run_dirs}
    for run_dir, run_paths in paths.items():
        ends = [path[-1] for path in run_paths]
        distance = sum(float((end ** 2).sum() ** 0.5) for end in ends) / len(ends)
        print(f"{os.path.basename(os.path.normpath(run_dir))}: mean final distance of the "
              f"centre of mass from the origin {distance:.2f} m over {len(ends)} episodes")
    draw_paths(paths, args.out)
    print(f"figure: {args.out}")


if __name__ == "__main__":
    main_guard(main)
