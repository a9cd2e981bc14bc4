"""The monitored environments of one MPI rank, for the learners that collect fixed-length
segments from several environments per rank (TRPO, PPO)."""
from typing import Any, Optional

from onpolicy_flows.common.config import option, require
from onpolicy_flows.common.seeding import MAX_ENVS_PER_RANK, RANK_SEED_STRIDE, env_seed
from onpolicy_flows.envs.factory import make_env


def rank_seed_option() -> Any:
    """The `seed` field of the learners that build their envs here."""
    return option(0, f"base seed; rank r uses seed + {RANK_SEED_STRIDE} * r")


def envs_per_rank_option() -> Any:
    """The `envs_per_rank` field of the learners that build their envs here."""
    return option(1, "environments per MPI rank, stepped in lock-step with one batched acting "
                     "call (1: the original's single environment per rank)")


def require_envs_per_rank(envs_per_rank: int, timesteps_per_batch: int) -> None:
    """UserError unless 1 <= envs_per_rank <= MAX_ENVS_PER_RANK (their seeds must not reach
    the next rank's) and the rank's batch splits evenly over its environments."""
    require(1 <= envs_per_rank <= MAX_ENVS_PER_RANK,
            f"--envs-per-rank must be in [1, {MAX_ENVS_PER_RANK}]")
    require(timesteps_per_batch % envs_per_rank == 0,
            f"--timesteps-per-batch ({timesteps_per_batch}) must be a multiple of "
            f"--envs-per-rank ({envs_per_rank})")


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
