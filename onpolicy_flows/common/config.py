"""Frozen dataclasses as the single source of hyperparameters, their flags and config.json.

A field's `metadata` holds its `help` text and, optionally, `choices`. Nested dataclass fields
(the policy's settings) become flags of their own, without a prefix. Dict fields (e.g. the
env's keyword arguments) take a JSON object on the command line and are saved as one.
"""
import argparse
import dataclasses
import json
import os
import subprocess
from typing import Any, Type, TypeVar

import onpolicy_flows
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.common.files import write_failure

Config = TypeVar("Config")

CONFIG_FORMAT_VERSION = 1


def option(default, help: str, **extra) -> Any:
    """A dataclass field with its help text (and e.g. `choices`) for the command line. A dict
    default is copied for every instance."""
    metadata = dict(help=help, **extra)
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def summed_timesteps_option() -> Any:
    """The `num_timesteps` field of the MPI learners (TRPO, PPO)."""
    return option(1_000_000, "stop after this many env steps, summed over ranks")


def bootstrap_truncation_option() -> Any:
    """The `bootstrap_truncation` field every algorithm's config shares (default: on)."""
    return option(True, "bootstrap from V(final observation) when the time limit cuts an "
                        "episode (--no-bootstrap-truncation: treat it as termination, as the "
                        "original does)")


def logdir_option() -> Any:
    """The `logdir` field every algorithm's config shares."""
    return option("logs", "parent directory of run directories")


def save_every_option() -> Any:
    """The `save_every` field every algorithm's config shares."""
    return option(10, "write a checkpoint every n iterations (and at the end)")


def add_arguments(parser: argparse.ArgumentParser, config_cls: Type,
                  with_defaults: bool = True) -> None:
    """Adds one `--flag-name` per field of `config_cls` (recursing into nested dataclasses),
    with the defaults of `config_cls()` (or none, to see which flags were given)."""
    _add_fields(parser, config_cls(), with_defaults)


def _add_fields(parser, defaults, with_defaults: bool) -> None:
    for field in dataclasses.fields(defaults):
        default = getattr(defaults, field.name)
        if dataclasses.is_dataclass(default):
            _add_fields(parser, default, with_defaults)
            continue
        flag = "--" + field.name.replace("_", "-")
        kwargs = dict(help=field.metadata.get("help", ""))
        if with_defaults:
            kwargs["default"] = default
        if "choices" in field.metadata:
            kwargs["choices"] = field.metadata["choices"]
        if isinstance(default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        elif isinstance(default, tuple):
            kwargs.update(nargs="+", type=type(default[0]))
        elif isinstance(default, dict):
            kwargs.update(type=_json_object_parser(flag), metavar="JSON")
        elif default is not None:
            kwargs["type"] = _number_or_str(type(default))
        parser.add_argument(flag, **kwargs)


def from_args(config_cls: Type[Config], args: argparse.Namespace) -> Config:
    """Builds `config_cls` from parsed flags; the dataclasses' own checks raise UserError."""
    values = {}
    for field in dataclasses.fields(config_cls):
        if _is_nested(field):
            values[field.name] = from_args(_nested_type(field), args)
        else:
            value = getattr(args, field.name)
            values[field.name] = tuple(value) if isinstance(field.default, tuple) else value
    return config_cls(**values)


def to_dict(config) -> dict:
    """Every setting, after a header: the format version, the config's ALGORITHM (if it has
    one) and the provenance of the code (package version, git commit)."""
    header = dict(format_version=CONFIG_FORMAT_VERSION)
    if hasattr(config, "ALGORITHM"):
        header["algorithm"] = config.ALGORITHM
    header.update(provenance())
    return dict(header, **dataclasses.asdict(config))


def from_dict(config_cls: Type[Config], data: dict) -> Config:
    """Inverse of `to_dict`; rejects files written by a newer format than this code reads."""
    data = {key: value for key, value in data.items() if key not in PROVENANCE_KEYS}
    data.pop("algorithm", None)
    version = data.pop("format_version", CONFIG_FORMAT_VERSION)
    if version > CONFIG_FORMAT_VERSION:
        raise UserError(f"config format {version} is newer than this version of onpolicy_flows "
                        f"reads ({CONFIG_FORMAT_VERSION}); upgrade the package")
    return _build(config_cls, data)


PROVENANCE_KEYS = ("package_version", "git_commit")


def provenance() -> dict:
    """The onpolicy_flows version, and the git commit of its source tree (suffixed "+dirty"
    when that tree has uncommitted changes; None outside a git checkout)."""
    source = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = None
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        changes = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                 cwd=source, capture_output=True, text=True, timeout=10,
                                 check=True).stdout.strip()
        commit += "+dirty" if changes else ""
    except (OSError, subprocess.SubprocessError):
        pass
    return dict(package_version=onpolicy_flows.__version__, git_commit=commit)


def save_json(config, path: str) -> None:
    """Writes config.json beside `path` and renames it over it, so that a reader (another
    MPI rank of a resumed run) never sees half a file; a failed write leaves the old one."""
    scratch = path + ".tmp"
    try:
        with open(scratch, "w") as file:
            json.dump(to_dict(config), file, indent=2)
            file.write("\n")
        os.replace(scratch, path)
    except OSError as error:
        if os.path.exists(scratch):
            os.remove(scratch)
        raise write_failure("config.json", path, error) from error


def _build(config_cls, data):
    values = {}
    names = {field.name: field for field in dataclasses.fields(config_cls)}
    unknown = set(data) - set(names)
    if unknown:
        raise UserError(f"config has unknown settings: {', '.join(sorted(unknown))}")
    for name, value in data.items():
        field = names[name]
        if _is_nested(field):
            value = _build(_nested_type(field), value)
        elif isinstance(field.default, tuple):
            value = tuple(value)
        elif _is_dict(field) and not isinstance(value, dict):
            raise UserError(f"config setting {name} must be a JSON object, not {value!r}")
        values[name] = value
    return config_cls(**values)


def _is_nested(field) -> bool:
    """A field holding a dataclass instance (declared with a default_factory)."""
    return field.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(
        field.default_factory())


def _is_dict(field) -> bool:
    return field.default_factory is not dataclasses.MISSING and isinstance(
        field.default_factory(), dict)


def _nested_type(field):
    return type(field.default_factory())


def _json_object_parser(flag: str):
    """argparse type for dict fields: a JSON object; anything else is a one-line UserError."""
    def parse(text):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"{flag} is not valid JSON ({error}): {text}") from None
        if not isinstance(value, dict):
            raise UserError(f"{flag} must be a JSON object such as '{{\"name\": 0.1}}', "
                            f"not {text}")
        return value
    return parse


def _number_or_str(kind):
    """argparse type that turns '1e6' into an int for int fields."""
    if kind is int:
        def parse_int(text):
            number = float(text)
            if not number.is_integer():
                raise argparse.ArgumentTypeError(f"expected an integer, got {text}")
            return int(number)
        return parse_int
    return kind


def require(condition: bool, message: str) -> None:
    """For dataclasses' __post_init__ checks: raises UserError(message) if not condition."""
    if not condition:
        raise UserError(message)
