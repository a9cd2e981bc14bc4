"""Train ACKTR (single process): `python -m run.acktr --env Hopper-v4 --policy flow`."""
from onpolicy_flows.acktr import ACKTRConfig, learn
from onpolicy_flows.runs.cli import main_guard, train_from_command_line


def main():
    train_from_command_line(ACKTRConfig, learn, "ACKTR with K-FAC (Tang & Agrawal defaults)")


if __name__ == "__main__":
    main_guard(main)
