"""What every entry point shares: flags from a config dataclass, and one-line errors."""
import argparse
import sys
from typing import Callable, Type

from onpolicy_flows.common import config as config_lib
from onpolicy_flows.common.errors import UserError


def parse_config(config_cls: Type, description: str, argv=None):
    """Parses flags generated from `config_cls` and returns a validated instance."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    config_lib.add_arguments(parser, config_cls)
    return config_lib.from_args(config_cls, parser.parse_args(argv))


def main_guard(main: Callable[[], None]) -> None:
    """Runs `main`; a UserError becomes one line on stderr and exit status 2, Ctrl-C exit 130."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
