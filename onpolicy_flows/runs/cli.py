"""What every entry point shares: flags from a config dataclass, and one-line errors."""
import argparse
import dataclasses
import json
import sys
from typing import Callable, Dict, List, Type

from onpolicy_flows.common import config as config_lib
from onpolicy_flows.common import mpi
from onpolicy_flows.common.errors import AgreedError, UserError
from onpolicy_flows.runs.run_dir import load_config

RESUMABLE_OVERRIDES = ("num_timesteps",)  # settings a resumed run may change


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    """`--verbose`: TensorFlow's start-up and C++ log lines are shown (read by
    `common.quiet` before TensorFlow loads; here so that every command accepts it)."""
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up and C++ log lines "
                             "(also: ONPOLICY_FLOWS_VERBOSE=1)")


def train_from_command_line(config_cls: Type, learn: Callable, description: str,
                            argv=None) -> None:
    """`learn(config)` with flags generated from `config_cls`, or, with `--resume RUN_DIR`,
    `learn(saved config, RUN_DIR, resume=True)` (only --num-timesteps may then change)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    config_lib.add_arguments(parser, config_cls)
    add_verbose_flag(parser)
    parser.add_argument("--original", action="store_true", help=original_help(config_cls))
    parser.add_argument("--resume", metavar="RUN_DIR", default=None,
                        help="continue RUN_DIR from its latest checkpoint, with its saved "
                             "config.json")
    args = parser.parse_args(argv)
    given = _explicit_flags(config_cls, argv)
    if args.resume is None:
        if args.original:
            _set_original_flags(config_cls, args, given)
        learn(config_lib.from_args(config_cls, args))
        return
    refused = sorted(set(given) - set(RESUMABLE_OVERRIDES) - {"resume", "verbose"})
    if refused:
        flags = ", ".join("--" + name.replace("_", "-") for name in refused)
        raise UserError(f"--resume uses the run's saved config.json; {flags} cannot change "
                        "(only --num-timesteps can)")
    config = load_config(args.resume, {config_cls.ALGORITHM: config_cls})
    overrides = {name: getattr(args, name) for name in given if name in RESUMABLE_OVERRIDES}
    learn(dataclasses.replace(config, **overrides), run_dir=args.resume, resume=True)


def original_help(config_cls: Type) -> str:
    """`--original`'s help: the flags it sets for each policy class of the algorithm."""
    per_policy = "; ".join(
        f"{policy}: " + " ".join(flag_arguments(config_cls.original_flags(policy)))
        for policy in config_cls.POLICIES)
    return ("restore every behaviour of the original code for the chosen algorithm and policy "
            f"(flags given explicitly win; config.json records the result): {per_policy}")


def _set_original_flags(config_cls: Type, args: argparse.Namespace, given: list) -> None:
    """Sets the original code's flags for args.policy on `args`, except those in `given`."""
    for name, value in config_cls.original_flags(args.policy).items():
        if name not in given:
            setattr(args, name, value)


def flag_arguments(flags: Dict[str, object]) -> List[str]:
    """Trainer flags {name: value} (names without dashes, e.g. num_timesteps) as arguments:
    `--num-timesteps 1000000`; a bool as `--name` / `--no-name`; a list as `--name a b`; a
    dict (env_kwargs) as one JSON object."""
    arguments = []
    for name, value in flags.items():
        flag = name.replace("_", "-")
        if isinstance(value, bool):
            arguments.append(f"--{flag}" if value else f"--no-{flag}")
        elif isinstance(value, dict):
            arguments += [f"--{flag}", json.dumps(value)]
        elif isinstance(value, (list, tuple)):
            arguments += [f"--{flag}", *map(str, value)]
        else:
            arguments += [f"--{flag}", str(value)]
    return arguments


def _explicit_flags(config_cls: Type, argv) -> list:
    """Names of the settings given on the command line (not left at their defaults)."""
    parser = argparse.ArgumentParser(argument_default=argparse.SUPPRESS, add_help=False)
    config_lib.add_arguments(parser, config_cls, with_defaults=False)
    parser.add_argument("--resume")
    parser.add_argument("--original", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    return list(vars(parser.parse_known_args(argv)[0]))


def main_guard(main: Callable[[], None]) -> None:
    """Runs `main`; a UserError becomes one line on stderr and exit status 2 (an error all MPI
    ranks agreed on is printed by rank 0 alone; one raised on a single rank ends the whole
    job), Ctrl-C exit 130."""
    try:
        main()
    except UserError as error:
        agreed = isinstance(error, AgreedError)
        if mpi.is_root() or not agreed:
            print(f"error: {error}", file=sys.stderr, flush=True)
        if not agreed:
            mpi.abort(2)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
