"""Train TRPO: `mpirun -np 8 python -m run.trpo --env Hopper-v4 --policy flow`."""
from onpolicy_flows.common.cli import main_guard, parse_config
from onpolicy_flows.trpo_mpi import TRPOConfig, learn


def main():
    config = parse_config(TRPOConfig, "TRPO with MPI workers (Tang & Agrawal defaults)")
    learn(config)


if __name__ == "__main__":
    main_guard(main)
