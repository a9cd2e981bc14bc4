"""The training command line's one-line errors: exit status 2 and a single `error:` line,
never a traceback."""
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from onpolicy_flows.acktr import ACKTRConfig
from onpolicy_flows.common import config as config_lib
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.ppo import PPOConfig
from onpolicy_flows.runs.cli import train_from_command_line
from onpolicy_flows.trpo_mpi import TRPOConfig, learn


def _run(*args):
    return subprocess.run([sys.executable, "-m", "run.trpo", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def test_unknown_env_and_bad_flag_values_are_one_line(tmp_path):
    logdir = ["--logdir", str(tmp_path)]
    for args, expected in (
            (["--env", "Hoper-v4", *logdir],
             "error: unknown environment 'Hoper-v4'; did you mean "),
            (["--env", "CartPole-v1", *logdir],
             "error: CartPole-v1 has a Discrete action space"),
            (["--max-kl", "-1", *logdir], "error: --max-kl must be positive"),
            (["--envs-per-rank", "3", *logdir],
             "error: --timesteps-per-batch (1024) must be a multiple"),
            (["--resume", str(tmp_path / "nowhere")], "error: run directory")):
        completed = _run(*args)
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        assert completed.returncode == 2, completed.stderr[-1500:]
        assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert os.listdir(tmp_path) == []  # no run directory for a run that never started


def _finished_run(tmp_path):
    config = TRPOConfig(env="Pendulum-v1", timesteps_per_batch=256, num_timesteps=256,
                        logdir=str(tmp_path))
    learn(config)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path) if entry.is_dir()]
    return run_dir


def test_resume_refuses_flags_that_would_change_the_run(tmp_path):
    run_dir = _finished_run(tmp_path)
    with pytest.raises(UserError, match="--resume uses the run's saved config.json; "
                                        "--max-kl, --policy cannot change"):
        train_from_command_line(TRPOConfig, learn, "", ["--resume", run_dir, "--policy",
                                                        "flow", "--max-kl", "0.02"])


def test_resume_from_a_checkpoint_of_another_configuration_is_one_line(tmp_path):
    run_dir = _finished_run(tmp_path)
    config_path = os.path.join(run_dir, "config.json")
    with open(config_path) as file:
        text = file.read()
    with open(config_path, "w") as file:  # the user copied another run's config.json here
        file.write(text.replace('"policy": "gaussian"', '"policy": "flow"'))
    completed = _run("--resume", run_dir, "--num-timesteps", "512")
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert completed.returncode == 2
    assert len(lines) == 1 and "does not match this run's configuration" in lines[0], lines


def _config_from(config_cls, *argv):
    """The config `train_from_command_line` would train with these flags."""
    captured = []
    train_from_command_line(config_cls, lambda config: captured.append(config), "", list(argv))
    return captured[0]


@pytest.mark.parametrize("config_cls", [TRPOConfig, ACKTRConfig, PPOConfig])
def test_original_sets_each_policys_original_flags_and_explicit_flags_win(config_cls):
    for policy in config_cls.POLICIES:
        default = _config_from(config_cls, "--policy", policy)
        original = _config_from(config_cls, "--policy", policy, "--original")
        expected = config_cls.original_flags(policy)
        assert expected, policy
        for name, value in expected.items():
            holder = original.policy if hasattr(original.policy, name) else original
            assert getattr(holder, name) == value, (policy, name)
        # everything --original does not name stays at the default
        before, after = _flat_dict(default), _flat_dict(original)
        assert {name for name in before if before[name] != after[name]} <= set(expected)
    kept = _config_from(config_cls, "--original", "--bootstrap-truncation")
    assert kept.bootstrap_truncation is True


def _flat_dict(config) -> dict:
    """The config's fields, its policy's among them (a policy field by its own name)."""
    fields = config_lib.to_dict(config)
    return {**{k: v for k, v in fields.items() if k != "policy"}, **fields["policy"]}


def test_original_trpo_gaussian_is_the_fixed_std_run_of_the_original():
    config = _config_from(TRPOConfig, "--env", "Walker2d-v4", "--original")
    assert config.policy.log_std == "fixed"
    assert config.timestep_count == "finished-episodes"
    assert config.bootstrap_truncation is False
    flow = _config_from(TRPOConfig, "--policy", "flow", "--original")
    assert flow.non_positive_fisher == "drop-batch"
    assert flow.policy.layer_norm_hessian == "original"
    assert flow.policy.log_std == "learned"


def test_resume_refuses_original(tmp_path):
    completed = _run("--resume", str(tmp_path), "--original")
    assert completed.returncode == 2
    assert "--original cannot change" in completed.stderr
