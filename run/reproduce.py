"""Brings an experiment grid up to date: harvests finished runs into results/, resumes
interrupted ones from their checkpoints, restarts or starts the others, `--parallel` at a time.

  python -m run.reproduce fig3_trpo --parallel 2
  python -m run.reproduce fig3_trpo --dry-run              # what is left, and the commands
  python -m run.reproduce fig3_trpo --seeds 3 4            # the optional seeds
  python -m run.reproduce fig3_trpo --envs Walker2d-v4      # one task first
  python -m run.reproduce fig6_kl_reacher --draws 10        # Figure 6's first 10 draws
  python -m run.reproduce fig3_trpo --harvest-only         # copy finished runs, run nothing
  python -m run.reproduce fig3_trpo --park                 # pack stopped runs to commit
  python -m run.reproduce fig3_trpo --launcher 'srun -n 1 -c 2'   # on a Slurm cluster

Grids are onpolicy_flows/experiments/grids/<name>.json; runs live in
logs/grids/<grid>/<member>/ and finished ones are copied to results/<grid>/<member>/. A member
that fails is reported with its log and the others go on; the exit status is then 1. Ctrl-C,
SIGTERM or SIGHUP stops the trainers after their iteration, with a checkpoint, and starts no
more. Where logs/ does not outlive the machine, `--park` packs each stopped run's latest
checkpoint into logs/parked/<grid>/<member>.tar.xz (commit it); a later run.reproduce unpacks
and resumes it.
docs/reproducing.md has the cluster set-up."""
import argparse
import shlex

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids import estimates, reproduce
from onpolicy_flows.experiments.grids.grid import grid_names, load_grid
from onpolicy_flows.experiments.grids.harvest import size_warning
from onpolicy_flows.experiments.grids.parking import PARKED_ROOT
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help=f"one of: {', '.join(grid_names())}")
    parser.add_argument("--parallel", type=int, default=1, help="members trained at a time")
    parser.add_argument("--launcher", default="",
                        help="prefix of every training command, e.g. 'srun -n 1' or "
                             "'mpirun -np 4 --hostfile hosts'")
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="only these seeds (default: the grid's seeds, not its optional "
                             "ones)")
    parser.add_argument("--policies", nargs="+", default=None,
                        help="only these policy labels (default: all of the grid's)")
    parser.add_argument("--envs", nargs="+", default=None,
                        help="only these of its tasks (default: all of the grid's)")
    parser.add_argument("--draws", type=int, default=None, metavar="N",
                        help="of a Figure 6 grid, only its first N max_kl draws (default: "
                             "all)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what is left and the commands; change nothing")
    parser.add_argument("--harvest-only", action="store_true",
                        help="copy finished runs into results/ and run nothing")
    parser.add_argument("--park", action="store_true",
                        help="pack each stopped, unfinished run (its latest checkpoint) into "
                             "--parked-root, to commit; run nothing")
    parser.add_argument("--logs-root", default="logs/grids", help="where live runs are")
    parser.add_argument("--parked-root", default=PARKED_ROOT,
                        help="where parked runs are kept (default: %(default)s; the "
                             "repository's .gitignore lets only that one be committed)")
    parser.add_argument("--results-root", default="results", help="where results are kept")
    add_verbose_flag(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.parallel < 1:
        raise UserError("--parallel must be at least 1")
    grid = load_grid(args.grid)
    if not (args.harvest_only or args.dry_run or args.park):
        reproduce.refuse_frozen(grid)
    paths = reproduce.GridPaths(grid.name, args.logs_root, args.results_root, args.parked_root)
    members = grid.members(args.seeds, args.policies, args.envs, args.draws)
    plans = reproduce.plan_grid(paths, members)
    rates = estimates.seconds_per_step(args.results_root)
    print(f"grid {grid.name}: {grid.description}")
    print(reproduce.plan_report(plans, rates, args.parallel))
    if args.dry_run:
        for plan in plans:
            if plan.action == reproduce.Action.PARKED:
                print(f"# once unpacked from {paths.parked(plan.member)}:")
            if plan.action in reproduce.TO_RUN:
                print(shlex.join(reproduce.member_command(paths, plan,
                                                          shlex.split(args.launcher))))
        return
    reproduce.harvest_finished(paths, plans, print)
    if args.park:
        not_parked = reproduce.park_stopped(paths, members, print)
        if not_parked:
            raise SystemExit(f"{len(not_parked)} unfinished run(s) not parked: "
                             f"{', '.join(not_parked)}")
        return
    if args.harvest_only:
        warning = size_warning(args.results_root)
        if warning:
            print(warning)
        return
    reproduce.check_trainers_exist(plans)
    reproduce.GridRunner(paths, args.launcher, args.parallel, print, rates).run_to_exit(plans)


if __name__ == "__main__":
    main_guard(main)
