"""Learning curves (mean +- std over seeds) and a table of final returns from run dirs:
`python -m run.plot logs/ --out plots/hopper --budget 1e6 --reference`."""
import argparse

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.figures.comparison import compare_runs
from onpolicy_flows.experiments.figures.curves import GRID_POINTS
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("paths", nargs="+",
                        help="run directories, glob patterns, or parents searched recursively")
    parser.add_argument("--out", default="plots/curves",
                        help="output path without extension; writes .png and .svg")
    parser.add_argument("--budget", type=float, default=None,
                        help="env steps at which the table reports returns "
                             "(default: the end of each group's common timestep range)")
    parser.add_argument("--reference", action="store_true",
                        help="overlay and tabulate the published results, with their sources")
    parser.add_argument("--points", type=int, default=GRID_POINTS,
                        help="points of the common timestep grid")
    add_verbose_flag(parser)
    args = parser.parse_args()
    if args.points < 1:
        raise UserError("--points must be >= 1")
    print(compare_runs(args.paths, args.out, args.budget, args.reference, args.points))
    print(f"\nwrote {args.out}.png and {args.out}.svg")


if __name__ == "__main__":
    main_guard(main)
