"""The env factory: retired ids, the user's own envs ("module:Id" and --env-kwargs, through
training, config.json, resume and replay), and pybullet's envs (Roboschool's successors)."""
import csv
import importlib.util
import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import REPO_ROOT

from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
from onpolicy_flows.common.config import from_dict, to_dict
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.envs import factory as envs
from onpolicy_flows.envs.factory import BULLET_PACKAGE, make_env, resolve_env_id
from onpolicy_flows.replay.player import load_learner, play_episode
from onpolicy_flows.runs.cli import main_guard, train_from_command_line
from onpolicy_flows.trpo_mpi import TRPOConfig, learn

USER_ENV = "point_mass_env:PointMass-v0"  # tests/point_mass_env.py registers PointMass-v0
BULLET_INSTALLED = importlib.util.find_spec(BULLET_PACKAGE) is not None
needs_bullet = pytest.mark.skipif(not BULLET_INSTALLED and not os.environ.get("CI"),
                                  reason='the extra is not installed: pip install -e ".[bullet]"')
PYBULLET_CHATTER = ("pybullet build time", "argv[0]")


def _monitor_lengths(run_dir):
    with open(os.path.join(run_dir, "monitor.0.csv")) as file:
        return [int(row["l"]) for row in csv.DictReader(line for line in file
                                                         if not line.startswith("#"))]


def _only_run_dir(logdir):
    (run_dir,) = [entry.path for entry in os.scandir(logdir) if entry.is_dir()]
    return run_dir


def test_retired_mujoco_ids_map_to_their_successors_with_a_warning(monkeypatch):
    monkeypatch.setattr(envs, "_WARNED_RETIRED", set())  # as in a fresh process
    with pytest.warns(UserWarning, match="Hopper-v1 no longer exists; using its successor "
                                         "Hopper-v4"):
        assert resolve_env_id("Hopper-v1") == "Hopper-v4"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second time: no warning
        assert resolve_env_id("Hopper-v1") == "Hopper-v4"
    with pytest.raises(UserError, match="closest substitute is Humanoid-v4"):
        resolve_env_id("SimpleHumanoid")


def test_user_env_trains_through_the_command_line_and_resumes_and_replays_with_its_kwargs(
        tmp_path):
    """`--env module:Id --env-kwargs JSON` in a subprocess; the kwargs (episodes of 37 steps
    instead of 50) are saved as a JSON object and rebuild the same env on resume and replay."""
    flags = ["--env", USER_ENV, "--env-kwargs", '{"episode_steps": 37}',
             "--timesteps-per-batch", "148", "--num-timesteps", "296",
             "--logdir", str(tmp_path)]
    trained = subprocess.run(
        [sys.executable, "-m", "run.trpo", *flags], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=os.path.join(REPO_ROOT, "tests")))
    assert trained.returncode == 0, trained.stderr[-2000:]
    run_dir = _only_run_dir(tmp_path)
    assert ":" not in os.path.basename(run_dir)
    with open(os.path.join(run_dir, "config.json")) as file:
        saved = json.load(file)
    assert saved["env"] == USER_ENV and saved["env_kwargs"] == {"episode_steps": 37}
    assert _monitor_lengths(run_dir) == [37] * 8

    train_from_command_line(TRPOConfig, learn, "", ["--resume", run_dir,
                                                    "--num-timesteps", "444"])
    assert _monitor_lengths(run_dir) == [37] * 12

    learner = load_learner(run_dir)
    act = learner.evaluation_actor(deterministic=True)
    rewards = [reward for reward in play_episode(learner.env, act, seed=0) if reward is not None]
    learner.close()
    assert len(rewards) == 37


def test_acktr_makes_its_env_with_the_kwargs():
    learner = ACKTRLearner(ACKTRConfig(env=USER_ENV, env_kwargs={"target": -0.25}),
                           run_dir=None)
    assert learner.env.unwrapped.target == -0.25
    learner.close()


def test_env_kwargs_round_trip_through_config_json_as_an_object():
    config = TRPOConfig(env=USER_ENV, env_kwargs={"target": 0.2, "episode_steps": 9})
    saved = json.loads(json.dumps(to_dict(config)))
    assert saved["env_kwargs"] == {"target": 0.2, "episode_steps": 9}
    assert from_dict(TRPOConfig, saved) == config
    assert TRPOConfig().env_kwargs == {} and TRPOConfig().env_kwargs is not \
        TRPOConfig().env_kwargs
    with pytest.raises(UserError, match="env_kwargs must be a JSON object"):
        from_dict(TRPOConfig, dict(saved, env_kwargs='{"target": 0.2}'))


@pytest.mark.parametrize("flags, message", [
    (["--env", "no_such_module:Env-v0"], "cannot import 'no_such_module'"),
    (["--env", "point_mass_env:Nope-v0"], "module 'point_mass_env' did not register it"),
    (["--env-kwargs", "{ctrl_cost_weight: 0.1}"], "--env-kwargs is not valid JSON"),
    (["--env-kwargs", "[0.1]"], "--env-kwargs must be a JSON object"),
    (["--env", "Pendulum-v1", "--env-kwargs", '{"no_such_argument": 1}'],
     "cannot create Pendulum-v1: .*no_such_argument"),
])
def test_bad_modules_ids_json_and_kwargs_are_one_line_errors(tmp_path, capsys, flags,
                                                             message):
    with pytest.raises(SystemExit) as exit_info:
        main_guard(lambda: train_from_command_line(
            TRPOConfig, learn, "", [*flags, "--logdir", str(tmp_path)]))
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("error: ")
    assert re.search(message, error), error
    assert os.listdir(tmp_path) == []  # refused before a run directory exists


def test_missing_bullet_extra_is_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, BULLET_PACKAGE, None)  # import fails as if not installed
    with pytest.raises(UserError, match=r'pip install -e "\.\[bullet\]"') as error:
        with pytest.warns(UserWarning, match="successor HumanoidBulletEnv-v0"):
            make_env("RoboschoolHumanoid-v1", seed=0)
    assert "\n" not in str(error.value)


@needs_bullet
def test_trpo_trains_on_a_roboschool_humanoid_through_pybullet_without_its_chatter(
        tmp_path, capfd):
    config = TRPOConfig(env="RoboschoolHumanoidFlagrun-v1", timesteps_per_batch=256,
                        num_timesteps=3 * 256, logdir=str(tmp_path))
    with pytest.warns(UserWarning, match="successor HumanoidFlagrunBulletEnv-v0"):
        rows = learn(config)
    output = capfd.readouterr()
    assert not [word for word in PYBULLET_CHATTER if word in output.out + output.err]
    assert len(rows) == 3 and all(np.isfinite(row["entropy"]) for row in rows)
    assert rows[-1]["TimestepsSoFar"] == 768
    with open(os.path.join(_only_run_dir(tmp_path), "monitor.0.csv")) as file:
        assert json.loads(file.readline()[1:])["env_id"] == "HumanoidFlagrunBulletEnv-v0"
    env = make_env("HumanoidFlagrunBulletEnv-v0", seed=0)
    assert env.observation_space.shape == (44,) and env.action_space.shape == (17,)
    env.close()
