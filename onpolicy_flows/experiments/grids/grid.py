"""Experiment grids declared as data: one JSON file per figure in `grids/` beside this module.

A grid file holds:
  description     what the grid is for (shown on the results page)
  algorithm       the trainer, run as `python -m run.<algorithm>`: trpo, acktr, ppo
  envs            gymnasium ids
  policies        policy labels: gaussian, flow, gmm-K<number of components>, and the flow
                  with other sizes: flow-K<n> (--num-layers n), flow-l<n> (--num-units n)
  seeds           the seeds every figure needs; optional_seeds: more, run only when asked
  num_timesteps   the step budget of every member
  flags           further trainer flags, e.g. {"fisher": "score"} or
                  {"bootstrap_truncation": false} (-> --no-bootstrap-truncation)
  max_kl_draws    (optional) {"count", "log10_range", "sample_seed"}: Figure 6's random
                  settings; each draw takes a max_kl and a seed (from `seeds`) and is run
                  with every policy
  compare_with    (optional) the grid whose members this one varies, with `variant` saying
                  how: its members are compared with that grid's same algorithm, env, policy
  frozen          (optional) true: the runs are made elsewhere (e.g. with older code);
                  run.reproduce only harvests them, never runs them
  original_code   (optional) true: its runs are the ORIGINAL code's own (frozen; made by
                  parity/run_original_grid.py), set beside the port's on the results page
  reuse           (optional) {policy label: grid}: that grid runs the same members (same
                  name and flags, so the same command) for this policy; their results are read
                  from there, and only that grid trains them

A grid expands into members named `{algorithm}-{env}-{policy}-seed{seed}` (Figure 6's add
`-maxkl{max_kl:.6f}`); a member's runs live in logs/grids/<grid>/<member>/ and its harvested
result in results/<grid>/<member>/.
"""
import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.experiments.grids.sweep import draw_max_kl_settings
from onpolicy_flows.runs.cli import flag_arguments

GRIDS_DIR = os.path.dirname(os.path.abspath(__file__))
GMM_LABEL = re.compile(r"gmm-K(\d+)$")
FLOW_LABEL = re.compile(r"flow(?:-K(\d+))?(?:-l(\d+))?$")
SIMPLE_POLICIES = ("gaussian", "flow")


@dataclass(frozen=True)
class GridMember:
    """One training run of a grid. `flags` are the trainer's flags without dashes (env,
    policy, num_components, seed, num_timesteps, and the grid's own)."""
    name: str
    algorithm: str
    policy: str
    flags: Dict[str, object]
    reused_from: Optional[str] = None  # the grid that trains it and holds its result

    @property
    def env(self) -> str:
        return self.flags["env"]

    @property
    def seed(self) -> int:
        return self.flags["seed"]

    @property
    def num_timesteps(self) -> int:
        return self.flags["num_timesteps"]

    @property
    def max_kl(self) -> Optional[float]:
        return self.flags.get("max_kl")

    def arguments(self) -> List[str]:
        return flag_arguments(self.flags)


@dataclass(frozen=True)
class Grid:
    name: str
    description: str
    algorithm: str
    envs: List[str]
    policies: List[str]
    seeds: List[int]
    num_timesteps: int
    optional_seeds: List[int] = field(default_factory=list)
    flags: Dict[str, object] = field(default_factory=dict)
    max_kl_draws: Optional[Dict[str, object]] = None
    compare_with: Optional[str] = None
    variant: Optional[str] = None
    frozen: bool = False
    original_code: bool = False
    reuse: Dict[str, str] = field(default_factory=dict)

    def members(self, seeds: Optional[Sequence[int]] = None,
                policies: Optional[Sequence[str]] = None,
                envs: Optional[Sequence[str]] = None,
                draws: Optional[int] = None) -> List[GridMember]:
        """The members with these seeds (default: `seeds`, not the optional ones), policies
        and tasks (default: all), seed by seed, env by env, and of a grid with max_kl draws
        those of its first `draws` draws (default: all); UserError for a seed, policy, task or
        number of draws the grid does not declare."""
        seeds = self._checked(seeds, self.seeds + self.optional_seeds, self.seeds, "seed")
        policies = self._checked(policies, self.policies, self.policies, "policy")
        envs = self._checked(envs, self.envs, self.envs, "task")
        return [member for member in self.all_members()[:self._members_of_draws(draws)]
                if member.seed in seeds and member.policy in policies and member.env in envs]

    def _members_of_draws(self, draws: Optional[int]) -> Optional[int]:
        """How many of `all_members` the first `draws` max_kl draws make (None: all)."""
        if draws is None:
            return None
        count = (self.max_kl_draws or {}).get("count", 0)
        if not count:
            raise UserError(f"grid {self.name} has no max_kl draws to choose from")
        if not 1 <= draws <= count:
            raise UserError(f"grid {self.name} has {count} max_kl draws: choose 1 to {count}")
        return draws * len(self.envs) * len(self.policies)

    def all_members(self) -> List[GridMember]:
        """Every member, optional seeds included, in running order."""
        if self.max_kl_draws:
            draws = self.max_kl_draws
            settings = [(seed, env, policy, dict(max_kl=max_kl))
                        for max_kl, seed in draw_max_kl_settings(
                            draws["count"], self.seeds, draws["sample_seed"],
                            tuple(draws["log10_range"]))
                        for env in self.envs for policy in self.policies]
        else:
            settings = [(seed, env, policy, {}) for seed in self.seeds + self.optional_seeds
                        for env in self.envs for policy in self.policies]
        members = [self._member(*setting) for setting in settings]
        if len({member.name for member in members}) != len(members):
            raise UserError(f"grid {self.name} declares some member twice")
        return members

    def _member(self, seed: int, env: str, policy: str, extra: dict) -> GridMember:
        flags = dict(env=env, **policy_flags(policy), seed=seed,
                     num_timesteps=self.num_timesteps, **self.flags, **extra)
        name = f"{self.algorithm}-{env}-{policy}-seed{seed}"
        if "max_kl" in extra:
            name += f"-maxkl{extra['max_kl']:.6f}"
        return GridMember(name, self.algorithm, policy, flags, self.reuse.get(policy))

    def check_reuse(self) -> None:
        """UserError unless every member of a policy in `reuse` is a member, with the same
        name, algorithm and flags, of the grid it names, a grid of the port's own runs that
        trains them itself (not frozen, not the original code's, reusing nothing)."""
        for policy, source_name in self.reuse.items():
            where = f"grid {self.name} reuses {policy} from grid {source_name}"
            if policy not in self.policies:
                raise UserError(f"{where}, but does not declare that policy")
            source = read_grid(source_name)
            if source.name == self.name or source.reuse or source.frozen or \
                    source.original_code:
                raise UserError(f"{where}, which does not train its own runs of the port")
            twins = {member.name: member for member in source.all_members()}
            for member in self.all_members():
                twin = twins.get(member.name)
                if member.policy == policy and (twin is None or (
                        twin.algorithm, twin.flags) != (member.algorithm, member.flags)):
                    raise UserError(f"{where}, which does not run {member.name} (or not "
                                    "with the same flags)")

    def _checked(self, chosen, allowed, default, what: str) -> list:
        if chosen is None:
            return list(default)
        unknown = [value for value in chosen if value not in allowed]
        if unknown:
            raise UserError(f"grid {self.name} has no {what} {', '.join(map(str, unknown))}; "
                            f"it declares {', '.join(map(str, allowed))}")
        return list(chosen)


def policy_flags(label: str) -> Dict[str, object]:
    """Trainer flags of a policy label: 'gmm-K5' -> {policy: gmm, num_components: 5};
    'flow-K2' -> {policy: flow, num_layers: 2}; 'flow-l5' -> {policy: flow, num_units: 5}."""
    match = GMM_LABEL.match(label)
    if match:
        return dict(policy="gmm", num_components=int(match.group(1)))
    match = FLOW_LABEL.match(label)
    if match and label != "flow":
        layers, units = match.groups()
        return dict(policy="flow", **({} if layers is None else dict(num_layers=int(layers))),
                    **({} if units is None else dict(num_units=int(units))))
    if label not in SIMPLE_POLICIES:
        raise UserError(f"unknown policy label {label!r}; use gaussian, flow, gmm-K<n>, "
                        "flow-K<n> or flow-l<n>")
    return dict(policy=label)


def grid_names() -> List[str]:
    """The grids shipped with the package, sorted."""
    return sorted(name[:-len(".json")] for name in os.listdir(GRIDS_DIR)
                  if name.endswith(".json"))


def load_grid(name: str) -> Grid:
    """The grid `name` (a file in GRIDS_DIR); UserError naming the available ones if there is
    none, or naming the problem if the file is malformed."""
    grid = read_grid(name)
    for policy in grid.policies:
        policy_flags(policy)
    grid.check_reuse()
    return grid


def read_grid(name: str) -> Grid:
    """The grid `name` as its file declares it, before `load_grid`'s checks of its policies
    and reuse."""
    path = os.path.join(GRIDS_DIR, f"{name}.json")
    if not os.path.isfile(path):
        raise UserError(f"no grid {name!r}; the grids are {', '.join(grid_names())}")
    with open(path) as file:
        data = json.load(file)
    known = {grid_field.name for grid_field in dataclasses.fields(Grid)} - {"name"}
    unknown = set(data) - known
    if unknown:
        raise UserError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    try:
        return Grid(name=name, **data)
    except TypeError as error:
        raise UserError(f"{path}: {error}") from None


def load_all_grids() -> Dict[str, Grid]:
    return {name: load_grid(name) for name in grid_names()}
