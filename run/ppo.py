"""Train PPO: `mpirun -np 4 python -m run.ppo --env Hopper-v4 --policy flow`."""
from onpolicy_flows.ppo import PPOConfig, learn
from onpolicy_flows.runs.cli import main_guard, train_from_command_line


def main():
    train_from_command_line(PPOConfig, learn,
                            "PPO with MPI workers (the original's ppo2 defaults)")


if __name__ == "__main__":
    main_guard(main)
