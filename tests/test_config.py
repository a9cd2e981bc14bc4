"""config.json: every setting round-trips, and the file says which code wrote it."""
import json
import os
import subprocess

import pytest
from conftest import REPO_ROOT

from onpolicy_flows import __version__
from onpolicy_flows.acktr import ACKTRConfig
from onpolicy_flows.common.config import from_dict, to_dict
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.ppo import PPOConfig
from onpolicy_flows.runs.run_dir import create_run_dir
from onpolicy_flows.trpo_mpi import TRPOConfig


def test_config_json_round_trips_and_records_the_code_that_ran(tmp_path):
    config = TRPOConfig(env="Pendulum-v1", envs_per_rank=2, fisher="score",
                        policy=PolicyConfig(policy="gmm", num_components=5))
    run_dir = create_run_dir(str(tmp_path), config.run_name, config)
    with open(f"{run_dir}/config.json") as file:
        saved = json.load(file)
    assert saved["algorithm"] == "trpo" and saved["package_version"] == __version__
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                          text=True).stdout.strip()
    assert saved["git_commit"].split("+")[0] == head
    assert from_dict(TRPOConfig, saved) == config
    assert json.loads(json.dumps(to_dict(config)))["policy"] == saved["policy"]


@pytest.mark.parametrize("page", ["docs/divergences.md", "README.md"])
def test_the_docs_name_every_flag_that_original_sets(page):
    with open(os.path.join(REPO_ROOT, page)) as file:
        text = " ".join(file.read().split("## All algorithms")[0].split())  # unwrapped
    for config_cls in (TRPOConfig, ACKTRConfig, PPOConfig):
        for policy in config_cls.POLICIES:
            for name, value in config_cls.original_flags(policy).items():
                flag = name.replace("_", "-")
                named = (f"--{flag}" if value else f"--no-{flag}") if isinstance(value, bool) \
                    else f"--{flag} {value}"
                assert f"`{named}`" in text, (config_cls.ALGORITHM, policy, named)


@pytest.mark.parametrize("config_cls", [TRPOConfig, PPOConfig])
def test_a_batch_that_does_not_split_over_the_rank_envs_is_refused(config_cls):
    """Environment i of rank r is seeded rank_seed + 100 i, so more than 100 would reach the
    next rank's seeds; the rank's batch must split evenly over its environments."""
    with pytest.raises(UserError, match=r"--envs-per-rank must be in \[1, 100\]"):
        config_cls(envs_per_rank=101, timesteps_per_batch=101 * 64)
    with pytest.raises(UserError, match="must be a multiple of --envs-per-rank"):
        config_cls(envs_per_rank=3, timesteps_per_batch=1024)
    assert config_cls(envs_per_rank=4, timesteps_per_batch=1024).envs_per_rank == 4
