"""Bringing a grid up to date (`python -m run.reproduce`): decide for each member whether it
is done, to harvest, to resume, to restart or to start; estimate the time left; run what is
left, `parallel` at a time, harvesting each member as it finishes and reporting every
PROGRESS_SECONDS the steps of those in training.

Layout (that of run.sweep): member NAME of grid GRID trains with `--logdir
logs/grids/GRID/NAME`, so its run directory is the one directory the trainer creates there;
its output is appended to logs/grids/GRID/NAME/stdout.log. Nothing under logs/grids is ever
deleted: an unfinished run without a checkpoint is moved to
logs/grids/GRID/_abandoned/NAME/ before its member starts again.

Several run.reproduce processes may work on one grid at once (e.g. one per core, or on
the nodes of a shared file system with working locks): each claims a member before training
it (an exclusive lock on logs/grids/GRID/NAME/.claim, released by the OS when its holder
ends), plans it again once claimed, and leaves alone the members others hold.

The decision for one member, in this order:
  done       results/GRID/NAME holds a harvested run that reached the member's budget
  reused     the grid reuses this member from another grid (`reuse`), which trains it and
             has not harvested it yet: left to that grid (once it has, the member is done,
             its result read from results/OTHER/NAME)
  claimed    another run.reproduce holds its claim: it is training it; left alone
  harvest    its live run reached the budget: harvested now
  busy       its live run wrote a file in the last ACTIVE_SECONDS: another process (or an
             earlier run.reproduce) is probably training it; left alone
  parked     it has a parked run (parking.py) and no live one, or one that logged fewer
             steps: the live run is moved aside, the parked one unpacked and resumed
  resume     its live run has a checkpoint: `run.<algo> --resume RUN_DIR`
  restart    its live run has none: moved aside, then started anew
  start      it has no run yet
"""
import contextlib
import enum
import fcntl
import importlib.util
import math
import os
import shlex
import shutil
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from onpolicy_flows.common.durations import format_duration
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids.estimates import (
    ESTIMATE_SOURCE,
    RateKey,
    estimated_seconds,
)
from onpolicy_flows.experiments.grids.grid import Grid, GridMember
from onpolicy_flows.experiments.grids.harvest import (
    harvest_run,
    is_harvested,
    member_result_dir,
    size_warning,
)
from onpolicy_flows.experiments.grids.launching import (
    StopRequested,
    Trainers,
    training_command,
)
from onpolicy_flows.experiments.grids.parking import (
    PARKED_ROOT,
    archive_path,
    discard,
    park,
    parked_run,
    unpark,
)
from onpolicy_flows.experiments.runs import (
    has_checkpoint,
    run_dirs_in,
    timesteps_done,
)

LOG_FILE = "stdout.log"
CLAIM_FILE = ".claim"
ABANDONED_DIR = "_abandoned"
ACTIVE_SECONDS = 600
PROGRESS_SECONDS = 600  # how often a GridRunner reports the steps of the members it trains


class Action(enum.Enum):
    DONE = "done"
    REUSED = "reused"
    CLAIMED = "claimed"
    HARVEST = "harvest"
    BUSY = "busy"
    RESUME = "resume"
    RESTART = "restart"
    PARKED = "parked"
    START = "start"


TO_RUN = (Action.RESUME, Action.RESTART, Action.PARKED, Action.START)
RESUMING = (Action.RESUME, Action.PARKED)


@dataclass(frozen=True)
class GridPaths:
    """Where a grid's live runs (`logs_root`/GRID/NAME), results (`results_root`/GRID/NAME)
    and parked runs (`parked_root`/GRID/NAME.tar.xz) are."""
    grid: str
    logs_root: str
    results_root: str
    parked_root: str = PARKED_ROOT

    def member_dir(self, member: GridMember) -> str:
        return os.path.join(self.logs_root, self.grid, member.name)

    def log_file(self, member: GridMember) -> str:
        return os.path.join(self.member_dir(member), LOG_FILE)

    def result(self, member: GridMember) -> str:
        """Its harvested result: in the grid it is reused from, if any."""
        return member_result_dir(self.results_root, self.grid, member)

    def abandoned_dir(self, member: GridMember) -> str:
        return os.path.join(self.logs_root, self.grid, ABANDONED_DIR, member.name)

    def parked(self, member: GridMember) -> str:
        """Its parked run's archive (which may not exist)."""
        return archive_path(self.parked_root, self.grid, member.name)


@dataclass(frozen=True)
class MemberPlan:
    """What to do with `member`; `run_dir` is its live run directory (None if it has none; a
    parked one's once unpacked), `timesteps_done` the env steps that run logged."""
    member: GridMember
    action: Action
    run_dir: Optional[str]
    timesteps_done: float

    @property
    def steps_at_start(self) -> float:
        """The env steps its trainer starts from: those of its run if it resumes, else 0."""
        return self.timesteps_done if self.action in RESUMING else 0.0

    @property
    def steps_left(self) -> float:
        return max(0.0, self.member.num_timesteps - self.steps_at_start)

    def seconds_left(self, rates: Dict[RateKey, float]) -> float:
        """The estimated wall-clock of its `steps_left` (estimates.py)."""
        return estimated_seconds(self.member, self.steps_left, rates)


def plan_member(paths: GridPaths, member: GridMember, now: Optional[float] = None,
                claimed_here: bool = False) -> MemberPlan:
    """The decision for one member (see the module docstring; `now`: when to judge whether
    its run is active, default the present, math.inf to count every run as stopped;
    `claimed_here`: this process holds its claim); UserError if its member directory holds
    several run directories."""
    if is_harvested(paths.result(member), member.num_timesteps):
        return MemberPlan(member, Action.DONE, None, member.num_timesteps)
    if member.reused_from:
        return MemberPlan(member, Action.REUSED, None, 0.0)
    if not claimed_here and is_claimed(paths.member_dir(member)):
        return MemberPlan(member, Action.CLAIMED, None, 0.0)
    run_dirs = run_dirs_in(paths.member_dir(member))
    if len(run_dirs) > 1:
        raise UserError(f"{paths.member_dir(member)} holds {len(run_dirs)} run directories; "
                        "move all but one away")
    if not run_dirs:
        return parked_plan(paths, member) or MemberPlan(member, Action.START, None, 0.0)
    run_dir = run_dirs[0]
    done = timesteps_done(run_dir)
    if done >= member.num_timesteps:
        return MemberPlan(member, Action.HARVEST, run_dir, done)
    if (time.time() if now is None else now) - last_write(run_dir) < ACTIVE_SECONDS:
        return MemberPlan(member, Action.BUSY, run_dir, done)
    action = Action.RESUME if has_checkpoint(run_dir) else Action.RESTART
    return parked_plan(paths, member, more_than=done) or MemberPlan(member, action, run_dir,
                                                                    done)


def parked_plan(paths: GridPaths, member: GridMember, more_than: float = -1.0
                ) -> Optional[MemberPlan]:
    """The plan to unpack and resume the member's parked run, if it has one that logged more
    than `more_than` steps; its run_dir is where it will be unpacked."""
    if not os.path.isfile(paths.parked(member)):
        return None
    name, steps = parked_run(paths.parked(member))
    if steps <= more_than:
        return None
    return MemberPlan(member, Action.PARKED, os.path.join(paths.member_dir(member), name),
                      steps)


def plan_grid(paths: GridPaths, members: Sequence[GridMember]) -> List[MemberPlan]:
    now = time.time()
    return [plan_member(paths, member, now) for member in members]


@contextlib.contextmanager
def claim(member_dir: str) -> Iterator[bool]:
    """Holds the member's claim (an exclusive lock on its CLAIM_FILE) for the `with` block
    and yields True, or yields False at once if another process holds it. Not inherited by
    the trainer: the claim ends with the process that took it, however it ends."""
    os.makedirs(member_dir, exist_ok=True)
    with open(os.path.join(member_dir, CLAIM_FILE), "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_claimed(member_dir: str) -> bool:
    """Whether another process holds the member's claim now."""
    if not os.path.exists(os.path.join(member_dir, CLAIM_FILE)):
        return False
    with claim(member_dir) as claimed:
        return not claimed


def last_write(run_dir: str) -> float:
    """The latest modification time of the files directly in `run_dir` (seconds)."""
    entries = [os.path.join(run_dir, name) for name in os.listdir(run_dir)]
    return max([os.path.getmtime(path) for path in entries if os.path.isfile(path)],
               default=os.path.getmtime(run_dir))


def member_command(paths: GridPaths, plan: MemberPlan, launcher: Sequence[str] = ()
                   ) -> List[str]:
    """The trainer's command line for a member to resume (a parked one once unpacked),
    restart or start."""
    member = plan.member
    if plan.action in RESUMING:
        arguments = ["--resume", os.path.abspath(plan.run_dir),
                     "--num-timesteps", str(member.num_timesteps)]
    else:
        arguments = [*member.arguments(), "--logdir", os.path.abspath(paths.member_dir(member))]
    return training_command(member.algorithm, arguments, launcher)


def move_aside(paths: GridPaths, member: GridMember, run_dir: str) -> str:
    """Moves a run not to resume out of its member directory (into _abandoned/); returns
    where it went."""
    target_parent = paths.abandoned_dir(member)
    os.makedirs(target_parent, exist_ok=True)
    target = os.path.join(target_parent, os.path.basename(run_dir))
    shutil.move(run_dir, target)
    return target


def plan_report(plans: Sequence[MemberPlan], rates: Dict[RateKey, float], parallel: int
                ) -> str:
    """What is done and what is left, member by member, with the estimated time."""
    counts = {action: sum(plan.action == action for plan in plans) for action in Action}
    lines = [f"{len(plans)} members: " + ", ".join(
        f"{count} {action.value}" for action, count in counts.items() if count)]
    for plan in plans:
        if plan.action in TO_RUN:
            lines.append(f"  {plan.action.value:8s} {plan.member.name}  "
                         f"({plan.timesteps_done:,.0f} of {plan.member.num_timesteps:,} steps "
                         f"logged; ~{format_duration(plan.seconds_left(rates))})")
        elif plan.action == Action.BUSY:
            lines.append(f"  busy     {plan.member.name}  (its run wrote a file in the last "
                         f"{ACTIVE_SECONDS // 60} min; left alone: {plan.run_dir})")
        elif plan.action == Action.REUSED:
            lines.append(f"  reused   {plan.member.name}  (grid {plan.member.reused_from} "
                         "trains it and has not harvested it yet: `python -m run.reproduce "
                         f"{plan.member.reused_from}`)")
        elif plan.action == Action.CLAIMED:
            lines.append(f"  claimed  {plan.member.name}  (another run.reproduce is training "
                         "it; left alone)")
    total = sum(plan.seconds_left(rates) for plan in plans if plan.action in TO_RUN)
    if total:
        lines.append(f"estimated {format_duration(total)} of training, about "
                     f"{format_duration(total / parallel)} at --parallel {parallel} "
                     f"({ESTIMATE_SOURCE})")
    return "\n".join(lines)


def harvest_member(paths: GridPaths, member: GridMember, run_dir: str) -> None:
    """Harvests a finished run of `member` and deletes its parked archive, if any."""
    harvest_run(run_dir, paths.result(member))
    discard(paths.parked(member))


def harvest_finished(paths: GridPaths, plans: Sequence[MemberPlan],
                     report: Callable[[str], None]) -> None:
    """Harvests every member whose live run has finished, and deletes the parked archives
    of members done."""
    for plan in plans:
        if plan.action == Action.HARVEST:
            harvest_member(paths, plan.member, plan.run_dir)
            report(f"harvested {plan.member.name} -> {paths.result(plan.member)}")
        elif plan.action == Action.DONE and discard(paths.parked(plan.member)):
            report(f"deleted the parked run of {plan.member.name}: it is done")


def park_stopped(paths: GridPaths, members: Sequence[GridMember],
                 report: Callable[[str], None]) -> List[str]:
    """Parks the run of every member that has a stopped, unfinished one with a checkpoint
    (parking.py), under the member's claim and however recently the run stopped; returns
    the names of the members with an unfinished run it could not park (one in training, one
    without a checkpoint yet), each reported."""
    not_parked = []
    for member in members:
        if not os.path.isdir(paths.member_dir(member)):
            continue
        with claim(paths.member_dir(member)) as claimed:
            plan = plan_member(paths, member, math.inf, claimed_here=True) if claimed else None
            if plan is not None and plan.action == Action.RESUME:
                size = park(plan.run_dir, paths.parked(member))
                report(f"parked {member.name} at {plan.timesteps_done:,.0f} steps -> "
                       f"{paths.parked(member)} ({size / 1e6:.2f} MB)")
            elif plan is None or plan.action == Action.RESTART:
                why = "its run has no checkpoint yet" if plan else \
                    "another run.reproduce trains it; stop it first"
                report(f"not parked {member.name}: {why}")
                not_parked.append(member.name)
    return not_parked


def check_trainers_exist(plans: Sequence[MemberPlan]) -> None:
    """UserError if a member to run needs a trainer module this checkout lacks."""
    for algorithm in sorted({plan.member.algorithm for plan in plans if plan.action in TO_RUN}):
        if importlib.util.find_spec(f"run.{algorithm}") is None:
            raise UserError(f"run.{algorithm} does not exist in this checkout; its members "
                            "cannot run yet")


def refuse_frozen(grid: Grid) -> None:
    if grid.frozen:
        raise UserError(f"grid {grid.name} is frozen, its runs are made elsewhere: it can only "
                        f"be harvested (--harvest-only), never run here. {grid.description}")


MemberCommand = Callable[[GridPaths, MemberPlan, Sequence[str]], List[str]]


@dataclass(frozen=True)
class Training:
    """A member being trained: its plan and when its trainer started."""
    plan: MemberPlan
    started: float


class GridRunner:
    """Runs a grid's members to resume, restart or start, `parallel` at a time, reporting
    each as it ends (and every `progress_seconds` the steps of those in training) and
    harvesting the ones that finished. `command` makes each member's command line (default:
    our trainers; parity/run_original_grid.py trains the original code's)."""

    def __init__(self, paths: GridPaths, launcher: str = "", parallel: int = 1,
                 report: Callable[[str], None] = print,
                 rates: Optional[Dict[RateKey, float]] = None,
                 command: MemberCommand = member_command,
                 progress_seconds: float = PROGRESS_SECONDS):
        self.paths, self.parallel, self.report = paths, max(1, parallel), report
        self.launcher = shlex.split(launcher)
        self.rates = rates or {}
        self.command = command
        self.progress_seconds = progress_seconds
        self.trainers = Trainers()  # stop them with `trainers.stop` or its signals
        self.training: Dict[str, Training] = {}  # by member name, written by the workers

    def run(self, plans: Sequence[MemberPlan]) -> List[str]:
        """Runs the plans to run; returns the names of the members that failed or stopped
        before their budget."""
        todo = [plan for plan in plans if plan.action in TO_RUN]
        seconds_left = {plan.member.name: plan.seconds_left(self.rates) for plan in todo}
        failed = []
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            futures = {pool.submit(self._run_one, plan): plan for plan in todo}
            pending, count = set(futures), 0
            next_progress = time.time() + self.progress_seconds
            while pending:
                done, pending = wait(pending, max(0.0, next_progress - time.time()),
                                     FIRST_COMPLETED)
                if time.time() >= next_progress:
                    self._report_progress()
                    next_progress = time.time() + self.progress_seconds
                for future in done:
                    plan, count = futures[future], count + 1
                    ok, message = future.result()
                    if not ok:
                        failed.append(plan.member.name)
                    seconds_left.pop(plan.member.name)
                    left = format_duration(sum(seconds_left.values()) / self.parallel)
                    self.report(f"[{count}/{len(todo)}] {message}; about {left} left")
        warning = size_warning(self.paths.results_root)
        if warning:
            self.report(warning)
        return failed

    def _report_progress(self) -> None:
        """A line per member in training: the env steps its run has logged out of its
        budget and, once it has logged some here, the time left at its pace so far."""
        for training in list(self.training.values()):
            member, steps_at_start = training.plan.member, training.plan.steps_at_start
            run_dirs = run_dirs_in(self.paths.member_dir(member))
            steps = timesteps_done(run_dirs[0]) if len(run_dirs) == 1 else 0.0
            text = (f"  {member.name}: {steps:,.0f} of {member.num_timesteps:,} steps "
                    f"({steps / member.num_timesteps:.0%})")
            if steps > steps_at_start:
                pace = (time.time() - training.started) / (steps - steps_at_start)
                left = max(0.0, member.num_timesteps - steps) * pace
                text += f", about {format_duration(left)} left at its pace"
            self.report(text)

    def run_to_exit(self, plans: Sequence[MemberPlan]) -> None:
        """`run`, with SIGINT, SIGTERM and SIGHUP stopping the trainers (`Trainers`), for a
        command's main: exits with status 128 + the signal after a stop, 1 if a member did
        not finish."""
        with self.trainers.forwarding_stop_signals(self.report):
            failed = self.run(plans)
        if self.trainers.stop_signal is not None:
            print("stopped: run the same command again to go on", file=sys.stderr)
            sys.exit(128 + self.trainers.stop_signal)
        if failed:
            print(f"{len(failed)} member(s) did not finish: {', '.join(failed)}",
                  file=sys.stderr)
            sys.exit(1)

    def _run_one(self, plan: MemberPlan) -> Tuple[bool, str]:
        """Claims the member and plans it again (another process may have finished or
        started it since the first plan), then runs it if there is still something to run
        and no stop was requested (checked first, to leave the member untouched, and again
        as its trainer starts)."""
        try:
            if self.trainers.stop_signal is not None:
                raise StopRequested(plan.member.name)
            with claim(self.paths.member_dir(plan.member)) as claimed:
                if not claimed:
                    return True, (f"{plan.member.name}: another run.reproduce is training "
                                  "it, left alone")
                plan = plan_member(self.paths, plan.member, claimed_here=True)
                if plan.action == Action.HARVEST:
                    harvest_member(self.paths, plan.member, plan.run_dir)
                if plan.action not in TO_RUN:
                    return True, (f"{plan.member.name}: {plan.action.value} by now, not run "
                                  "again")
                return self._train(plan)
        except StopRequested:
            return False, f"{plan.member.name}: not started, a stop was requested"

    def _unpark(self, member: GridMember) -> None:
        """Moves aside its live run, if any (the parked one logged more), and unpacks the
        parked one."""
        for live in run_dirs_in(self.paths.member_dir(member)):
            moved = move_aside(self.paths, member, live)
            self.report(f"{member.name}: its parked run logged more steps; live run moved to "
                        f"{moved}")
        run_dir = unpark(self.paths.parked(member), self.paths.member_dir(member))
        self.report(f"{member.name}: unpacked its parked run into {run_dir}")

    def _train(self, plan: MemberPlan) -> Tuple[bool, str]:
        member, log = plan.member, self.paths.log_file(plan.member)
        if plan.action == Action.RESTART:
            moved = move_aside(self.paths, member, plan.run_dir)
            self.report(f"{member.name}: unfinished run without a checkpoint moved to {moved}")
        if plan.action == Action.PARKED:
            self._unpark(member)
        self.report(f"{plan.action.value} {member.name}")
        started = time.time()
        self.training[member.name] = Training(plan, started)
        try:
            status = self.trainers.run_logged(self.command(self.paths, plan, self.launcher),
                                              log)
        finally:
            del self.training[member.name]
        took = format_duration(time.time() - started)
        run_dirs = run_dirs_in(self.paths.member_dir(member))
        if status != 0:
            return False, f"FAILED {member.name} (exit status {status} after {took}), log: {log}"
        if len(run_dirs) != 1 or timesteps_done(run_dirs[0]) < member.num_timesteps:
            return False, (f"{member.name} stopped before {member.num_timesteps:,} steps after "
                           f"{took}; run again to resume it, log: {log}")
        harvest_member(self.paths, member, run_dirs[0])
        return True, f"{member.name} finished after {took}, harvested to " \
                     f"{self.paths.result(member)}"
