"""Training runs as subprocesses: trainer flags as a command line, behind an optional
launcher prefix (e.g. "srun -n 1" or "mpirun -np 4 --hostfile hosts"), output to a log file."""
import os
import subprocess
import sys
from typing import List, Sequence


def training_command(algorithm: str, arguments: Sequence[str],
                     launcher: Sequence[str] = ()) -> List[str]:
    """`[*launcher, python, -m, run.<algorithm>, *arguments]` with this interpreter."""
    return [*launcher, sys.executable, "-m", f"run.{algorithm}", *arguments]


def run_logged(command: Sequence[str], log_path: str) -> int:
    """Runs `command`, appending its stdout and stderr to `log_path`; returns its exit
    status."""
    os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
    with open(log_path, "a") as log:
        return subprocess.call(list(command), stdout=log, stderr=subprocess.STDOUT)
