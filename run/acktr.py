"""Train ACKTR (single process): `python -m run.acktr --env Hopper-v4 --policy flow`."""
from onpolicy_flows.acktr import ACKTRConfig, learn
from onpolicy_flows.common.cli import main_guard, parse_config


def main():
    config = parse_config(ACKTRConfig, "ACKTR with K-FAC (Tang & Agrawal defaults)")
    learn(config)


if __name__ == "__main__":
    main_guard(main)
