"""Train TRPO: `mpirun -np 8 python -m run.trpo --env Hopper-v4 --policy flow`."""
from onpolicy_flows.runs.cli import main_guard, train_from_command_line
from onpolicy_flows.trpo_mpi import TRPOConfig, learn


def main():
    train_from_command_line(TRPOConfig, learn, "TRPO with MPI workers (Tang & Agrawal defaults)")


if __name__ == "__main__":
    main_guard(main)
