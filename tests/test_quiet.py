"""Entry points start without TensorFlow's start-up chatter."""
import subprocess
import sys

from conftest import REPO_ROOT

CHATTER = ("oneDNN", "cuda", "absl", "cpu_feature_guard", "I0000", "E0000", "W0000")


def test_training_command_prints_no_tensorflow_start_up_lines():
    completed = subprocess.run([sys.executable, "-m", "run.trpo", "--help"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0
    assert "--envs-per-rank" in completed.stdout and "--verbose" in completed.stdout
    noisy = [line for line in completed.stderr.splitlines()
             if any(word in line for word in CHATTER)]
    assert noisy == []
