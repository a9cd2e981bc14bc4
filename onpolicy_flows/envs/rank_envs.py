"""The monitored environments of one MPI rank, for the learners that collect fixed-length
segments from several environments per rank (TRPO, PPO)."""
from typing import Optional

from onpolicy_flows.common.seeding import env_seed
from onpolicy_flows.envs.factory import make_env


def make_rank_envs(config, rank: int, run_dir: Optional[str]) -> list:
    """This rank's `config.envs_per_rank` monitored envs (built from `config.env` and
    `config.env_kwargs`). Environment i of rank r is seeded by `env_seed` and writes
    `monitor.<r * envs_per_rank + i>.csv` (one file per env: with one env per rank,
    `monitor.<rank>.csv`)."""
    envs = []
    for index in range(config.envs_per_rank):
        number = rank * config.envs_per_rank + index
        monitor = f"{run_dir}/monitor.{number}.csv" if run_dir else None
        envs.append(make_env(config.env, env_seed(config.seed, rank, index), monitor,
                             env_kwargs=config.env_kwargs))
    return envs
