"""The flow's two Fisher-vector product rules side by side: `--fisher kl-hessian` (the
original's Hessian of the sample KL) against `--fisher score` (the sample Fisher of the score
vectors), in one sitting, on Hopper-v4.

For each rule, one fresh process trains the flow policy for `--iterations` iterations of 1024
steps; printed: the first iteration's time (start-up, tracing and compilation included), the
median time of the later iterations, the share of iterations whose policy step was taken
(`step_accepted`; kl-hessian skips a step when its quadratic form is not positive) and the
peak resident memory.

    python benchmarks/fisher_rules.py                 # 30 iterations per rule (~1 minute each)
    python benchmarks/fisher_rules.py --iterations 100
"""
import argparse
import csv
import os
import statistics
import sys
import tempfile
import time

from vs_peer import REPO_ROOT, run_measured

RULES = ("kl-hessian", "score")


def measure(rule: str, iterations: int, scratch: str) -> dict:
    logdir = os.path.join(scratch, rule)
    command = [sys.executable, "-m", "run.trpo", "--env", "Hopper-v4", "--policy", "flow",
               "--fisher", rule, "--num-timesteps", str(1024 * iterations),
               "--save-every", "1000", "--logdir", logdir]
    peak = run_measured(command, REPO_ROOT)
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    elapsed = [float(row["TimeElapsed"]) for row in rows]
    accepted = [float(row["step_accepted"]) for row in rows]
    return {"rule": rule, "first": elapsed[0],
            "steady": statistics.median(b - a for a, b in zip(elapsed, elapsed[1:])),
            "accepted": sum(accepted) / len(accepted), "peak_mb": peak}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=30, help="iterations per rule (>= 2)")
    args = parser.parse_args()
    if args.iterations < 2:
        parser.error("--iterations must be >= 2")
    with tempfile.TemporaryDirectory() as scratch:
        results = [measure(rule, args.iterations, scratch) for rule in RULES]
    print("\n| --fisher | first iteration | later iterations (median) | steps taken "
          "| peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        print(f"| {result['rule']} | {result['first']:.1f} s | {result['steady']:.3f} s "
              f"| {100 * result['accepted']:.0f}% | {result['peak_mb']:.0f} MB |")
    print(f"\n{args.iterations} iterations of 1024 Hopper-v4 steps per rule; machine: "
          f"{os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
