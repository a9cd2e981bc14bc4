"""Training runs as subprocesses: trainer flags as a command line, behind an optional
launcher prefix (e.g. "srun -n 1" or "mpirun -np 4 --hostfile hosts"), output to a log file.

A stop request reaches the trainers. Each trainer runs in a session of its own, so that a
Ctrl-C in the terminal reaches the process that launched it alone; that process passes each
SIGINT, SIGTERM or SIGHUP it gets on to every trainer running as SIGTERM
(`Trainers.forwarding_stop_signals`: one signal and a trainer checkpoints and stops after its
iteration, a second stops it at once), and launches no more. SIGTERM because a launcher
prefix may treat SIGINT otherwise (srun wants two within a second). Without this, a `kill` of
the launching process, or a closed terminal, would leave its trainers running on, orphaned.
"""
import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
from typing import Callable, Iterator, List, Optional, Sequence, Set

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # each forwarded as SIGTERM


class StopRequested(Exception):
    """A stop was requested before this trainer could start."""


def training_command(algorithm: str, arguments: Sequence[str],
                     launcher: Sequence[str] = ()) -> List[str]:
    """`[*launcher, python, -m, run.<algorithm>, *arguments]` with this interpreter."""
    return [*launcher, sys.executable, "-m", f"run.{algorithm}", *arguments]


class Trainers:
    """The trainer processes one launcher runs, from any of its threads, and how to stop
    them."""

    def __init__(self):
        self._lock = threading.RLock()  # a signal handler may take it again on its thread
        self._running: Set[subprocess.Popen] = set()
        self.stop_signal: Optional[int] = None  # the signal that asked for a stop

    def run_logged(self, command: Sequence[str], log_path: str) -> int:
        """Runs `command` in a session of its own, appending its stdout and stderr to
        `log_path`; returns its exit status. StopRequested if a stop came first."""
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        with open(log_path, "a") as log:
            with self._lock:
                if self.stop_signal is not None:
                    raise StopRequested(shlex.join(command))
                process = subprocess.Popen(list(command), stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True)
                self._running.add(process)
            try:
                return process.wait()
            finally:
                with self._lock:
                    self._running.discard(process)

    def stop(self, signal_number: int) -> int:
        """Records `signal_number` as the reason to stop, sends SIGTERM to every trainer
        running and starts no more; returns how many it reached."""
        with self._lock:
            self.stop_signal = signal_number
            running = list(self._running)
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        return len(running)

    @contextlib.contextmanager
    def forwarding_stop_signals(self, report: Callable[[str], None]) -> Iterator[None]:
        """Within the block, SIGINT, SIGTERM and SIGHUP stop the trainers (`stop`) instead of
        this process, which goes on until they have ended. Main thread only."""

        def forward(number, frame):
            reached = self.stop(number)
            # the main thread may be inside a print, or the terminal gone (SIGHUP)
            with contextlib.suppress(RuntimeError, OSError):
                report(f"{signal.Signals(number).name}: {reached} trainer(s) stop after "
                       "their iteration and no more start (a second signal stops them at "
                       "once)")

        previous = {number: signal.signal(number, forward) for number in STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

