"""Environment factory: gymnasium ids (with the paper's retired ids mapped), the user's own
registered envs ("module:Id"), pybullet's envs on demand, and a monitor that writes one
episode CSV per env.

Ids are resolved as `gym.make` resolves them, with one-line errors instead of tracebacks:
  * "module:Id" imports `module` (which registers Id with gymnasium), then makes Id;
  * "...BulletEnv-v0" imports pybullet's gymnasium envs (the optional extra `bullet`);
  * the paper's retired ids (gym's MuJoCo -v1 ... -v3, Roboschool's humanoids) map to their
    successors with a warning.
"""
import difflib
import importlib
import json
import re
import time
import warnings
from typing import Optional

import gymnasium as gym
import numpy as np

from onpolicy_flows.common.config import option
from onpolicy_flows.common.errors import UserError
from onpolicy_flows.common.files import drop_cut_last_line, write_failure
from onpolicy_flows.common.quiet import console_silenced

BULLET_PACKAGE = "pybullet_envs_gymnasium"
BULLET_INSTALL_HINT = 'pip install -e ".[bullet]" (or: pip install pybullet-envs-gymnasium)'
_BULLET_ID = re.compile(r"BulletEnv-v\d+$")

# The -v4 MuJoCo tasks are this project's deliberate choice (docs/tasks.md); gymnasium's
# advice to upgrade them to -v5, printed at every make, would only clutter every log.
warnings.filterwarnings("ignore", message=r".*is out of date\. You should consider upgrading")

# The paper's gym ids (mujoco_py era) and their gymnasium successors, and Roboschool's
# humanoids and their ports to pybullet (pybullet-envs-gymnasium).
RETIRED_IDS = {
    **{f"{task}-v{version}": f"{task}-v4"
       for task in ("Hopper", "Walker2d", "HalfCheetah", "Ant", "Humanoid", "HumanoidStandup",
                    "Reacher", "Swimmer", "InvertedPendulum", "InvertedDoublePendulum")
       for version in (1, 2, 3)},
    "RoboschoolHumanoid-v1": "HumanoidBulletEnv-v0",
    "RoboschoolHumanoidFlagrun-v1": "HumanoidFlagrunBulletEnv-v0",
    "RoboschoolHumanoidFlagrunHarder-v1": "HumanoidFlagrunHarderBulletEnv-v0",
}
# Tasks of the paper that no installable suite has; the closest substitute is named.
UNAVAILABLE_IDS = {
    "SimpleHumanoid": "Humanoid-v4",
    "FullHumanoid": "Humanoid-v4",
}


def env_option():
    """The `env` config field that every algorithm's config shares (default: Hopper-v4)."""
    return option("Hopper-v4", "gymnasium id (the paper's retired ids map to their "
                               "successors), or module:Id for an env that importing module "
                               "registers")


def env_kwargs_option():
    """The `env_kwargs` config field that every algorithm's config shares."""
    return option({}, 'keyword arguments of gym.make, as a JSON object, e.g. '
                      '\'{"ctrl_cost_weight": 0.1}\'')


def env_name_in_paths(env_id: str) -> str:
    """The id as run directory names show it: "module:Id" -> "Id" (no ':' in paths)."""
    return env_id.rpartition(":")[2]


_WARNED_RETIRED = set()


def resolve_env_id(env_id: str) -> str:
    """The registered gymnasium id that `env_id` names, after importing what registers it
    (the user's module of "module:Id", or pybullet's envs); raises UserError naming the fix."""
    module, separator, name = env_id.rpartition(":")
    if separator:
        _import_registering_module(module, env_id)
    elif env_id in RETIRED_IDS:
        name = RETIRED_IDS[env_id]
        if env_id not in _WARNED_RETIRED:  # once per process, however many envs are made
            _WARNED_RETIRED.add(env_id)
            warnings.warn(f"{env_id} no longer exists; using its successor {name}",
                          stacklevel=2)
    elif env_id in UNAVAILABLE_IDS:
        raise UserError(f"{env_id} (rllab) is not available in gymnasium; the closest "
                        f"substitute is {UNAVAILABLE_IDS[env_id]}")
    if is_bullet_id(name):
        import_bullet_envs(name)
    if name not in gym.registry:
        close = difflib.get_close_matches(name, list(gym.registry.keys()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        where = f" (module {module!r} did not register it)" if separator else ""
        raise UserError(f"unknown environment {name!r}{where}{hint}")
    return name


def is_bullet_id(env_id: str) -> bool:
    """True for the ids of pybullet's gymnasium envs (HumanoidBulletEnv-v0, ...)."""
    return bool(_BULLET_ID.search(env_id))


def import_bullet_envs(env_id: str) -> None:
    """Registers pybullet's envs with gymnasium (pybullet's build line kept off the console);
    raises UserError naming the extra to install if pybullet-envs-gymnasium is missing."""
    try:
        with console_silenced():
            importlib.import_module(BULLET_PACKAGE)
            importlib.import_module("pybullet")
    except ImportError as error:
        raise UserError(f"{env_id} needs pybullet ({error}); install it with "
                        f"{BULLET_INSTALL_HINT}") from None


def _import_registering_module(module: str, env_id: str) -> None:
    if not module:
        raise UserError(f"--env {env_id!r}: expected module:Id with a module name before ':'")
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        raise UserError(f"--env {env_id}: cannot import {module!r} ({error}); it must be "
                        "importable (installed, or on PYTHONPATH) and register the id") from None


def make_env(env_id: str, seed: int, monitor_path: Optional[str] = None,
             render_mode: Optional[str] = None, env_kwargs: Optional[dict] = None) -> gym.Env:
    """A gymnasium env with a continuous (Box) action space and a flat Box observation.

    `env_kwargs` are passed to `gym.make`. The env's first reset uses `seed`; the action
    space is seeded from it too. With `monitor_path`, every finished episode is appended to
    that CSV.
    """
    registered_id = resolve_env_id(env_id)
    try:
        env = gym.make(registered_id, render_mode=render_mode, **(env_kwargs or {}))
    except Exception as error:  # missing simulator, bad kwargs, bad install: say what, stop
        raise UserError(f"cannot create {registered_id}: {error}") from error
    if not isinstance(env.action_space, gym.spaces.Box):
        env.close()
        raise UserError(f"{registered_id} has a {type(env.action_space).__name__} action "
                        "space; these policies need continuous (Box) actions")
    if not isinstance(env.observation_space, gym.spaces.Box) or \
            len(env.observation_space.shape) != 1:
        env.close()
        raise UserError(f"{registered_id} needs flat vector observations (a 1-D Box)")
    if is_bullet_id(registered_id):
        env = QuietConnection(env)
    env.action_space.seed(seed)
    return Monitor(env, seed, monitor_path)


class QuietConnection(gym.Wrapper):
    """pybullet's envs connect to their physics server on their first reset, and pybullet
    prints "argv[0]=" lines there: that reset runs with the console silenced."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._connected = False

    def reset(self, **kwargs):
        if self._connected:
            return self.env.reset(**kwargs)
        with console_silenced():
            result = self.env.reset(**kwargs)
        self._connected = True
        return result


class Monitor(gym.Wrapper):
    """Counts episode return and length; puts them in `info["episode"]` at the end of each
    episode and appends them (r, l, t seconds since start) to a CSV, like baselines' Monitor."""

    def __init__(self, env: gym.Env, seed: int, path: Optional[str] = None):
        super().__init__(env)
        self._first_seed = seed
        self._start = time.time()
        self._return = 0.0
        self._length = 0
        self._file = None
        self._path = path
        if path is not None:
            header = dict(t_start=self._start, env_id=env.spec.id if env.spec else None)
            try:
                drop_cut_last_line(path)  # a resumed run appends to the same file
                self._file = open(path, "a", buffering=1)
                if self._file.tell() == 0:
                    self._file.write("#" + json.dumps(header) + "\nr,l,t\n")
            except OSError as error:
                raise write_failure("the episode monitor", path, error) from error

    def reset(self, **kwargs):
        if self._first_seed is not None:
            kwargs.setdefault("seed", self._first_seed)
            self._first_seed = None
        self._return, self._length = 0.0, 0
        return self.env.reset(**kwargs)

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        self._length += 1
        if terminated or truncated:
            episode = dict(r=self._return, l=self._length, t=time.time() - self._start)
            info = dict(info, episode=episode)
            if self._file is not None:
                try:
                    self._file.write(f"{episode['r']:.6g},{episode['l']},{episode['t']:.3f}\n")
                except OSError as error:
                    raise write_failure("the episode monitor", self._path, error) from error
        return observation, reward, terminated, truncated, info

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def space_dims(env: gym.Env) -> tuple:
    """(obs_dim, act_dim) of a flat-Box env."""
    return int(np.prod(env.observation_space.shape)), int(np.prod(env.action_space.shape))
