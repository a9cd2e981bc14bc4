"""Hyperparameter sweeps (Figures 6 and 7) as separate `run.trpo` runs in subprocesses.

A sweep lives in one directory: `sweep.json` lists its members (name and `run.trpo` flags),
and member NAME writes its run directory inside `<sweep dir>/NAME/`. A member whose run
reached its num_timesteps is finished and never run again, so a stopped sweep restarts where
it left off; an unfinished run directory left by an interrupted member is deleted and run
anew. `launcher` (e.g. "srun -n 1" or "mpirun -np 4") prefixes each command for a cluster.

Figure 6 samples log10(max_kl) uniformly in [-3, -2] and a seed from `seeds`; the same
settings are used for every policy class, so the quantile plots compare like with like.
Figure 7 varies the flow's --num-layers (the paper's K) in {2, 4, 6} at --num-units 3, and
--num-units (the paper's l1) in {3, 5, 7} at --num-layers 4, each over `seeds`.
"""
import contextlib
import json
import os
import shlex
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids.launching import (
    StopRequested,
    Trainers,
    training_command,
)
from onpolicy_flows.experiments.runs import find_run_dirs, is_finished
from onpolicy_flows.runs.cli import flag_arguments

SWEEP_FILE = "sweep.json"
LOG_FILE = "stdout.log"
LOG10_MAX_KL_RANGE = (-3.0, -2.0)
ABLATION_NUM_LAYERS = (2, 4, 6)
ABLATION_NUM_UNITS = (3, 5, 7)
DEFAULT_NUM_LAYERS, DEFAULT_NUM_UNITS = 4, 3


@dataclass(frozen=True)
class SweepMember:
    """One run of a sweep: `setting` labels its curve or quantile group; `flags` are
    run.trpo's flags without dashes (num_timesteps, not --num-timesteps)."""
    name: str
    setting: str
    flags: Dict[str, object]

    def command(self, sweep_dir: str, launcher: Sequence[str] = ()) -> List[str]:
        return training_command("trpo", [*flag_arguments(self.flags), "--logdir",
                                         os.path.join(sweep_dir, self.name)], launcher)


def kl_sensitivity_members(env: str, policies: Sequence[str], num_settings: int,
                           seeds: Sequence[int], num_timesteps: int,
                           sample_seed: int = 0) -> List[SweepMember]:
    """Figure 6: `num_settings` random (max_kl, seed) pairs, each run with every policy."""
    return [SweepMember(f"{policy}-maxkl{max_kl:.6f}-seed{seed}", policy,
                        dict(env=env, policy=policy, max_kl=max_kl, seed=seed,
                             num_timesteps=num_timesteps))
            for max_kl, seed in draw_max_kl_settings(num_settings, seeds, sample_seed)
            for policy in policies]


def draw_max_kl_settings(num_settings: int, seeds: Sequence[int], sample_seed: int = 0,
                         log10_range: Tuple[float, float] = LOG10_MAX_KL_RANGE
                         ) -> List[Tuple[float, int]]:
    """`num_settings` (max_kl, seed) pairs: log10(max_kl) uniform in `log10_range` (rounded
    to 6 decimals), the seed drawn from `seeds`; the same `sample_seed` gives the same pairs."""
    rng = np.random.default_rng(sample_seed)
    max_kls = 10.0 ** rng.uniform(*log10_range, size=num_settings)
    chosen_seeds = rng.choice(np.asarray(seeds), size=num_settings)
    return [(float(f"{max_kl:.6f}"), int(seed)) for max_kl, seed in zip(max_kls, chosen_seeds)]


def flow_ablation_members(env: str, seeds: Sequence[int], num_timesteps: int
                          ) -> List[SweepMember]:
    """Figure 7: K = --num-layers in {2, 4, 6} and l1 = --num-units in {3, 5, 7}."""
    settings = sorted({(layers, DEFAULT_NUM_UNITS) for layers in ABLATION_NUM_LAYERS} |
                      {(DEFAULT_NUM_LAYERS, units) for units in ABLATION_NUM_UNITS})
    return [SweepMember(f"flow-K{layers}-l{units}-seed{seed}", f"K={layers} l1={units}",
                        dict(env=env, policy="flow", num_layers=layers, num_units=units,
                             seed=seed, num_timesteps=num_timesteps))
            for layers, units in settings for seed in seeds]


def save_or_check_members(sweep_dir: str, members: List[SweepMember]) -> None:
    """Writes sweep.json, or, when restarting, checks that it lists the same members."""
    path = os.path.join(sweep_dir, SWEEP_FILE)
    listed = [asdict(member) for member in members]
    if os.path.exists(path):
        with open(path) as file:
            if json.load(file)["members"] != listed:
                raise UserError(f"{path} lists other runs than these settings ask for; "
                                f"use a new sweep directory or the original settings")
        return
    os.makedirs(sweep_dir, exist_ok=True)
    with open(path, "w") as file:
        json.dump({"members": listed}, file, indent=1)


def load_members(sweep_dir: str) -> List[SweepMember]:
    path = os.path.join(sweep_dir, SWEEP_FILE)
    if not os.path.exists(path):
        raise UserError(f"{sweep_dir} is not a sweep directory (no {SWEEP_FILE})")
    with open(path) as file:
        return [SweepMember(**member) for member in json.load(file)["members"]]


def member_run_dir(sweep_dir: str, member: SweepMember):
    """The member's run directory, or None if it has not started; UserError if several."""
    member_dir = os.path.join(sweep_dir, member.name)
    run_dirs = find_run_dirs([member_dir]) if os.path.isdir(member_dir) else []
    if len(run_dirs) > 1:
        raise UserError(f"{member_dir} holds {len(run_dirs)} run directories; keep one")
    return run_dirs[0] if run_dirs else None


def is_member_finished(sweep_dir: str, member: SweepMember) -> bool:
    run_dir = member_run_dir(sweep_dir, member)
    return run_dir is not None and is_finished(run_dir)


def run_member(sweep_dir: str, member: SweepMember, trainers: Trainers,
               launcher: Sequence[str] = ()) -> int:
    """Runs one member from scratch (its old, unfinished directory is removed) as one of
    `trainers`; returns the exit status (StopRequested after a stop). Output goes to
    <sweep dir>/NAME/stdout.log."""
    member_dir = os.path.join(sweep_dir, member.name)
    shutil.rmtree(member_dir, ignore_errors=True)
    return trainers.run_logged(member.command(sweep_dir, launcher),
                               os.path.join(member_dir, LOG_FILE))


def run_sweep(sweep_dir: str, members: List[SweepMember], parallel: int = 1,
              launcher: str = "") -> List[str]:
    """Runs the unfinished members, `parallel` at a time; returns the names it launched.
    UserError naming the failed members if any run exits with an error, or once SIGINT,
    SIGTERM or SIGHUP has stopped the runs (`Trainers`). Main thread only."""
    save_or_check_members(sweep_dir, members)
    pending = [member for member in members if not is_member_finished(sweep_dir, member)]
    prefix, trainers = shlex.split(launcher), Trainers()

    def run(member: SweepMember):
        if trainers.stop_signal is None:
            with contextlib.suppress(StopRequested):
                return run_member(sweep_dir, member, trainers, prefix)

    with trainers.forwarding_stop_signals(print), \
            ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        statuses = list(pool.map(run, pending))
    if trainers.stop_signal is not None:
        raise UserError("stopped; the same command goes on (its finished runs are kept, "
                        "its unfinished ones start again)")
    failed = [member.name for member, status in zip(pending, statuses) if status != 0]
    if failed:
        raise UserError(f"{len(failed)} run(s) failed, see their {LOG_FILE}: {', '.join(failed)}")
    return [member.name for member in pending]
