"""Whole TRPO training runs against the peer a user would otherwise pick, in one sitting.

Times 100,352 Hopper-v4 steps (98 iterations of 1024 steps per rank) of: the peer
(sb3-contrib TRPO through ../shared/tools/peer-trpo, its own 100,000 steps), ours with the
Gaussian and the flow policy at 1, 2 and 8 environments per rank, and the flow under 2 MPI
ranks. Each run is a fresh process; for each it prints the training time (our TimeElapsed
at the last iteration: learner construction, tracing and compilation included, imports
excluded; the peer's own wall_s), the speed ratio to the peer (env steps per second, so the
slightly different step counts compare), the first iteration's time and the peak resident
memory of the largest rank.

    python benchmarks/vs_peer.py                 # everything (about 10 minutes here)
    python benchmarks/vs_peer.py --only flow     # runs whose label contains "flow"
"""
import argparse
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import List, Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER = os.path.join(REPO_ROOT, "..", "shared", "tools", "peer-trpo")
STEPS = 100_352
PEER_STEPS = 100_000


@dataclass
class Result:
    label: str
    steps: int
    seconds: float
    first_iteration: Optional[float]
    peak_rss_mb: float
    final_return: float

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds


def run_measured(command: List[str], cwd: str) -> float:
    """Runs `command` in a wrapper process; returns the peak RSS (MB) of its largest
    descendant (Linux folds each waited-for child's peak into its parent's)."""
    wrapper = ("import resource, subprocess, sys; "
               "status = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.exit(status)")
    completed = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=cwd,
                               capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return int(completed.stdout.split()[-1]) / 1024


def ours(label: str, policy: str, envs_per_rank: int, ranks: int, scratch: str) -> Result:
    logdir = os.path.join(scratch, label.replace(" ", "_"))
    command = [sys.executable, "-m", "run.trpo", "--env", "Hopper-v4", "--policy", policy,
               "--num-timesteps", str(STEPS), "--envs-per-rank", str(envs_per_rank),
               "--save-every", "1000", "--logdir", logdir]
    if ranks > 1:
        mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
        command = [mpirun if os.path.exists(mpirun) else "mpirun", "-np", str(ranks),
                   *command]
    peak = run_measured(command, REPO_ROOT)
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    return Result(label, int(float(rows[-1]["TimestepsSoFar"])),
                  float(rows[-1]["TimeElapsed"]), float(rows[0]["TimeElapsed"]), peak,
                  float(rows[-1]["EpRewMean"]))


def peer() -> Optional[Result]:
    if not os.path.exists(PEER):
        return None
    completed = subprocess.run([PEER, "--steps", str(PEER_STEPS)], capture_output=True,
                               text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"peer-trpo failed:\n{completed.stderr[-2000:]}")
    line = [text for text in completed.stdout.splitlines() if text.startswith("{")][-1]
    result = json.loads(line)
    return Result("peer: sb3-contrib TRPO (2 envs, 1 thread)", int(result["timesteps"]),
                  float(result["wall_s"]), None, float("nan"),
                  float(result["ep_buffer_mean_return"]))


def print_table(results: List[Result], reference: Optional[Result]) -> None:
    print("\n| run | steps | training time | x peer (steps/s) | first iteration "
          "| peak RSS per rank | final EpRewMean |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        ratio = f"{result.steps_per_second / reference.steps_per_second:.2f}x" \
            if reference else "n/a"
        first = f"{result.first_iteration:.1f} s" if result.first_iteration else "-"
        rss = f"{result.peak_rss_mb:.0f} MB" if result.peak_rss_mb == result.peak_rss_mb \
            else "-"
        print(f"| {result.label} | {result.steps} | {result.seconds:.1f} s | {ratio} "
              f"| {first} | {rss} | {result.final_return:.0f} |")


RUNS = [  # label, policy, envs per rank, MPI ranks
    ("ours gaussian, 1 env", "gaussian", 1, 1),
    ("ours gaussian, 2 envs", "gaussian", 2, 1),
    ("ours gaussian, 8 envs", "gaussian", 8, 1),
    ("ours flow, 1 env", "flow", 1, 1),
    ("ours flow, 2 envs", "flow", 2, 1),
    ("ours flow, 8 envs", "flow", 8, 1),
    ("ours flow, 1 env, 2 MPI ranks", "flow", 1, 2),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="run only ours whose label contains this")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer")
    args = parser.parse_args()
    started = time.time()
    reference = None if args.no_peer else peer()
    if reference is None and not args.no_peer:
        print(f"note: {PEER} not found; the peer is skipped and no ratios are printed")
    results = [reference] if reference else []
    if reference:
        print(f"{reference.label}: {reference.seconds:.1f} s", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for label, policy, envs, ranks in RUNS:
            if args.only not in label:
                continue
            results.append(ours(label, policy, envs, ranks, scratch))
            print(f"{label}: {results[-1].seconds:.1f} s", flush=True)
    print_table(results, reference)
    single_flow = next((r for r in results if r.label == "ours flow, 1 env"), None)
    double_flow = next((r for r in results if "2 MPI ranks" in r.label), None)
    if single_flow and double_flow:
        print(f"\nflow, 2 MPI ranks vs 1: {double_flow.steps_per_second / single_flow.steps_per_second:.2f}x "
              "the speed (start-up included)")
    print(f"benchmark wall-clock {time.time() - started:.0f} s; machine: {os.cpu_count()} cores;"
          f" {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
