"""Hyperparameter sweeps of TRPO as separate runs, then their figure.

  python -m run.sweep kl --env Hopper-v4 --sweep-dir sweeps/kl-hopper --num-settings 30
  python -m run.sweep ablation --env Reacher-v4 --sweep-dir sweeps/ablation-reacher
  python -m run.sweep plot --sweep-dir sweeps/kl-hopper

`kl` (Figure 6): random log10(max_kl) in [-3, -2] and seeds, for each --policies class, then
quantile plots of final returns. `ablation` (Figure 7): the flow's K (--num-layers) and l1
(--num-units), then curves per setting. Rerunning the same command resumes: finished runs
are skipped. `plot` redraws the figure of an existing sweep from what has finished."""
import argparse
import os

import numpy as np

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.figures import sweep_figures
from onpolicy_flows.experiments.grids import sweep
from onpolicy_flows.runs.cli import add_verbose_flag, main_guard


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=("kl", "ablation", "plot"))
    parser.add_argument("--sweep-dir", required=True, help="holds sweep.json and every run")
    parser.add_argument("--env", default="Hopper-v4")
    parser.add_argument("--num-timesteps", type=lambda text: int(float(text)), default=1_000_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--policies", nargs="+", default=["gaussian", "flow"],
                        help="kl: the policy classes compared")
    parser.add_argument("--num-settings", type=int, default=30,
                        help="kl: random (max_kl, seed) settings per policy")
    parser.add_argument("--sample-seed", type=int, default=0,
                        help="kl: seed of the random settings (same seed, same settings)")
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time")
    parser.add_argument("--launcher", default="",
                        help="command prefix for each run, e.g. 'srun -n 1' or 'mpirun -np 4'")
    parser.add_argument("--out", default=None,
                        help="figure path without extension (default: <sweep-dir>/figure)")
    add_verbose_flag(parser)
    return parser.parse_args()


def members_for(args):
    if args.num_timesteps <= 0 or args.num_settings <= 0 or args.parallel <= 0:
        raise UserError("--num-timesteps, --num-settings and --parallel must be positive")
    if args.kind == "kl":
        return sweep.kl_sensitivity_members(args.env, args.policies, args.num_settings,
                                            args.seeds, args.num_timesteps, args.sample_seed)
    return sweep.flow_ablation_members(args.env, args.seeds, args.num_timesteps)


def draw(sweep_dir, out_prefix):
    """Quantile plots if the sweep varies max_kl, else curves per setting."""
    members = sweep.load_members(sweep_dir)
    if all("max_kl" in member.flags for member in members):
        for setting, finals in sweep_figures.draw_quantiles(sweep_dir, out_prefix).items():
            print(f"{setting}: {len(finals)} finished runs, final return median "
                  f"{float(np.median(finals)):.1f}")
    else:
        for curve in sweep_figures.draw_setting_curves(sweep_dir, out_prefix):
            print(f"{curve.key.policy}: {len(curve.runs)} seeds, final return "
                  f"{curve.mean[-1]:.1f} +- {curve.std[-1]:.1f}")
    print(f"wrote {out_prefix}.png and {out_prefix}.svg")


def main():
    args = parse_args()
    if args.kind != "plot":
        launched = sweep.run_sweep(args.sweep_dir, members_for(args), args.parallel,
                                   args.launcher)
        print(f"ran {len(launched)} run(s); the others had finished before")
    draw(args.sweep_dir, args.out or os.path.join(args.sweep_dir, "figure"))


if __name__ == "__main__":
    main_guard(main)
