"""Brings a frozen grid of the ORIGINAL code's runs up to date, as run.reproduce does for the
port's grids: harvests finished runs into results/, restarts unfinished ones (the original
writes no checkpoints), starts the rest, `--parallel` at a time, each through
parity/train_original.py.

  python parity/run_original_grid.py original_code --parallel 2
  python parity/run_original_grid.py original_code --seeds 0 --policies gaussian --dry-run

Members map to the original's runners by algorithm and policy label: trpo gaussian ->
trpo_gaussian, trpo flow -> trpo_normflow, trpo gmm-K<n> -> trpo_gmm --num-components n,
acktr flow -> acktr_normflow, acktr gaussian -> acktr_gaussian.
"""
import argparse
import os
import shlex
import sys
from typing import List, Sequence

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

from onpolicy_flows.common.errors import UserError  # noqa: E402
from onpolicy_flows.experiments.grids import reproduce  # noqa: E402
from onpolicy_flows.experiments.grids.estimates import (  # noqa: E402
    measured_rates,
    original_code_rates,
)
from onpolicy_flows.experiments.grids.grid import GridMember, load_grid  # noqa: E402
from onpolicy_flows.runs.cli import main_guard  # noqa: E402

TRAINER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train_original.py")
RUNNERS = {("trpo", "gaussian"): "trpo_gaussian", ("trpo", "flow"): "trpo_normflow",
           ("trpo", "gmm"): "trpo_gmm", ("acktr", "flow"): "acktr_normflow",
           ("acktr", "gaussian"): "acktr_gaussian"}


def original_arguments(member: GridMember) -> List[str]:
    """train_original.py's arguments for a grid member (its runner, env, seed, budget)."""
    flags = member.flags
    runner = RUNNERS.get((member.algorithm, flags["policy"]))
    if runner is None:
        raise UserError(f"the original code has no {member.algorithm} runner for "
                        f"{member.policy}")
    arguments = [runner, "--env", flags["env"], "--seed", str(flags["seed"]),
                 "--num-timesteps", str(flags["num_timesteps"])]
    if "num_components" in flags:
        arguments += ["--num-components", str(flags["num_components"])]
    return arguments


def original_command(paths: reproduce.GridPaths, plan: reproduce.MemberPlan,
                     launcher: Sequence[str] = ()) -> List[str]:
    """The command that trains a member with the original code into its member directory."""
    return [*launcher, sys.executable, TRAINER, *original_arguments(plan.member),
            "--logdir", os.path.abspath(paths.member_dir(plan.member))]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grid", help="a frozen grid of original-code runs, e.g. original_code")
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--policies", nargs="+", default=None)
    parser.add_argument("--envs", nargs="+", default=None, help="only these of its tasks")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--logs-root", default="logs/grids")
    parser.add_argument("--results-root", default="results")
    args = parser.parse_args()
    grid = load_grid(args.grid)
    if not grid.frozen:
        raise UserError(f"grid {grid.name} is not frozen: run it with python -m run.reproduce")
    paths = reproduce.GridPaths(grid.name, args.logs_root, args.results_root)
    plans = reproduce.plan_grid(paths, grid.members(args.seeds, args.policies, args.envs))
    print(f"grid {grid.name}: {grid.description}")
    rates = original_code_rates(*measured_rates(args.results_root))
    print(reproduce.plan_report(plans, rates, args.parallel))
    if args.dry_run:
        for plan in plans:
            if plan.action in reproduce.TO_RUN:
                print(shlex.join(original_command(paths, plan)))
        return
    reproduce.harvest_finished(paths, plans, print)
    reproduce.GridRunner(paths, parallel=args.parallel, rates=rates,
                         command=original_command).run_to_exit(plans)


if __name__ == "__main__":
    main_guard(main)
