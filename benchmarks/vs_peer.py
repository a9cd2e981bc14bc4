"""Whole TRPO training runs against the peer a user would otherwise pick, in one sitting.

Times 100,352 Hopper-v4 steps (98 iterations of 1024 steps per rank) of: the peer
(sb3-contrib TRPO through ../shared/tools/peer-trpo, its own 100,000 steps), ours with the
Gaussian and the flow policy at 1, 2 and 8 environments per rank, and the flow under 2 MPI
ranks. Each run is a fresh process; for each it prints the training time (our TimeElapsed
at the last iteration: learner construction, tracing and compilation included, imports
excluded; the peer's own wall_s), the speed ratio to the peer (env steps per second, so the
slightly different step counts compare), the first iteration's time and the peak resident
memory of the largest rank.

Every run of ours but two finds its traced graphs in a trace cache
(`onpolicy_flows/common/trace_cache.py`) that untimed one-iteration runs filled first, as
any run after the first of a setting does; the two "cold trace cache" runs start from an
empty one, as the first run of a setting on a machine does.

    python benchmarks/vs_peer.py                 # everything (about 10 minutes here)
    python benchmarks/vs_peer.py --only flow     # runs whose label contains "flow"
"""
import argparse
import csv
import json
import os
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
TRACE_CACHE_ENV = "ONPOLICY_FLOWS_TRACE_CACHE"


@dataclass
class Result:
    label: str
    trace_cache: str  # "warm", "cold" or "-"
    steps: int
    seconds: float
    first_iteration: Optional[float]
    peak_rss_mb: float
    final_return: float

    @property
    def steps_per_second(self) -> float:
        return self.steps / self.seconds


def run_measured(command: List[str], cwd: str, trace_cache: str) -> float:
    """Runs `command` in a wrapper process with the trace cache `trace_cache`; returns the
    peak RSS (MB) of its largest descendant (Linux folds each waited-for child's peak into
    its parent's)."""
    wrapper = ("import resource, subprocess, sys; "
               "status = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); "
               "sys.exit(status)")
    completed = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=cwd,
                               capture_output=True, text=True,
                               env={**os.environ, TRACE_CACHE_ENV: trace_cache})
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-2000:]}")
    return int(completed.stdout.split()[-1]) / 1024


def trpo_command(policy: str, envs_per_rank: int, ranks: int, steps: int,
                 logdir: str) -> List[str]:
    command = [sys.executable, "-m", "run.trpo", "--env", "Hopper-v4", "--policy", policy,
               "--num-timesteps", str(steps), "--envs-per-rank", str(envs_per_rank),
               "--save-every", "1000", "--logdir", logdir]
    if ranks > 1:
        mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
        command = [mpirun if os.path.exists(mpirun) else "mpirun", "-np", str(ranks),
                   *command]
    return command


def ours(label: str, policy: str, envs_per_rank: int, ranks: int, scratch: str,
         trace_cache: str, cache_state: str) -> Result:
    logdir = os.path.join(scratch, label.replace(" ", "_").replace(",", ""))
    peak = run_measured(trpo_command(policy, envs_per_rank, ranks, STEPS, logdir),
                        REPO_ROOT, trace_cache)
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    return Result(label, cache_state, int(float(rows[-1]["TimestepsSoFar"])),
                  float(rows[-1]["TimeElapsed"]), float(rows[0]["TimeElapsed"]), peak,
                  float(rows[-1]["EpRewMean"]))


def warm_up(runs, scratch: str, trace_cache: str) -> None:
    """One untimed iteration of each warm run's setting, to fill the trace cache."""
    for policy, envs in sorted({(policy, envs) for _, policy, envs, _, state in runs
                                if state == "warm"}):
        run_measured(trpo_command(policy, envs, 1, 1024,
                                  os.path.join(scratch, f"warm-up-{policy}-{envs}")),
                     REPO_ROOT, trace_cache)


def peer() -> Optional[Result]:
    if not os.path.exists(PEER):
        return None
    completed = subprocess.run([PEER, "--steps", str(PEER_STEPS)], capture_output=True,
                               text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"peer-trpo failed:\n{completed.stderr[-2000:]}")
    line = [text for text in completed.stdout.splitlines() if text.startswith("{")][-1]
    result = json.loads(line)
    return Result("peer: sb3-contrib TRPO (2 envs, 1 thread)", "-", int(result["timesteps"]),
                  float(result["wall_s"]), None, float("nan"),
                  float(result["ep_buffer_mean_return"]))


def print_table(results: List[Result], reference: Optional[Result]) -> None:
    print("\n| run | trace cache | steps | training time | x peer (steps/s) "
          "| first iteration | peak RSS per rank | final EpRewMean |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for result in results:
        ratio = f"{result.steps_per_second / reference.steps_per_second:.2f}x" \
            if reference else "n/a"
        first = f"{result.first_iteration:.1f} s" if result.first_iteration else "-"
        rss = f"{result.peak_rss_mb:.0f} MB" if result.peak_rss_mb == result.peak_rss_mb \
            else "-"
        print(f"| {result.label} | {result.trace_cache} | {result.steps} "
              f"| {result.seconds:.1f} s | {ratio} "
              f"| {first} | {rss} | {result.final_return:.0f} |")


RUNS = [  # label, policy, envs per rank, MPI ranks, trace cache
    ("ours gaussian, 1 env", "gaussian", 1, 1, "warm"),
    ("ours gaussian, 2 envs", "gaussian", 2, 1, "warm"),
    ("ours gaussian, 8 envs", "gaussian", 8, 1, "warm"),
    ("ours flow, 1 env", "flow", 1, 1, "warm"),
    ("ours flow, 2 envs", "flow", 2, 1, "warm"),
    ("ours flow, 8 envs", "flow", 8, 1, "warm"),
    ("ours flow, 1 env, 2 MPI ranks", "flow", 1, 2, "warm"),
    ("ours flow, 1 env, cold trace cache", "flow", 1, 1, "cold"),
    ("ours flow, 1 env, 2 MPI ranks, cold trace cache", "flow", 1, 2, "cold"),
]


def mpi_speed_ups(results: List[Result]) -> None:
    """The flow's 2-rank speed over its 1-rank speed, for each trace cache state."""
    for state in ("warm", "cold"):
        single = [r for r in results if r.trace_cache == state and "flow, 1 env" in r.label]
        double = [r for r in single if "2 MPI ranks" in r.label]
        single = [r for r in single if "MPI" not in r.label]
        if single and double:
            print(f"flow, 2 MPI ranks vs 1, {state} trace cache: "
                  f"{double[0].steps_per_second / single[0].steps_per_second:.2f}x the speed "
                  "(start-up included)")


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
    runs = [run for run in RUNS if args.only in run[0]]
    with tempfile.TemporaryDirectory() as scratch:
        warm_cache = os.path.join(scratch, "trace-cache")
        warm_up(runs, scratch, warm_cache)
        for label, policy, envs, ranks, state in runs:
            cache = warm_cache if state == "warm" \
                else os.path.join(scratch, f"cold-cache-{len(results)}")
            results.append(ours(label, policy, envs, ranks, scratch, cache, state))
            print(f"{label}: {results[-1].seconds:.1f} s", flush=True)
    print_table(results, reference)
    print()
    mpi_speed_ups(results)
    print(f"benchmark wall-clock {time.time() - started:.0f} s; machine: {os.cpu_count()} cores;"
          f" {time.strftime('%Y-%m-%d %H:%M')}")


if __name__ == "__main__":
    main()
