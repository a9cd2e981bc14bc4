"""The distributions of the original's INITIAL parameters, for tests/test_parity_initialisation.py.

  nice -n 19 python parity/record_initial_distributions.py       # 50 runs, ~12 min here
  python parity/record_initial_distributions.py --seeds 3 --out /tmp/initial.npz

For each of the original's five runners (CASES) and each seed 0 .. --seeds - 1, a process of
its own (`--measure RUNNER SEED RAW`: the runners' modules and graphs clash) runs the runner's
own `train()` (its session, `set_global_seeds`, and its policy and value function built as it
builds them) on MEASURED_ENVS' spaces (TRPO Hopper-v4: observation 11, action 3; ACKTR Ant-v4:
observation 27, the policy's observation pair 54, action 8) and stops it as soon as every
weight is initialised, before any training:
  * TRPO: at the `U.initialize` of `learn` (the first session call after both policies and the
    value function are built);
  * ACKTR: at the call of `learn` (the policy's and value function's constructors have
    initialised their variables by then).
It keeps every trainable variable under pi/ and vf/ (TRPO's value function is under pi/; the
observation filters are not trainable), and for the flows their initial entropy estimate on
the original's scale (it drops (d/2) log 2 pi): -mean log pi of the policy's own samples (10
per state) through its training graph, at as many observations ~ N(0, 1) as that graph's static
batch (TRPO 1024, ACKTR 2500 pairs; np.random.RandomState(ENTROPY_OBSERVATION_SEED)), averaged
over ENTROPY_EVALUATIONS evaluations (about 50 000 samples either way). No hook changes what the
original computes; it is stopped by an exception.

The parent then pools each variable group over the seeds and writes (.npz, numbers only):
  meta/seeds [N]                    the seeds measured
  meta/<case>/obs_dim, act_dim      the spaces' dimensions (ACKTR's policy sees 2 obs_dim)
  <case>/<group>/constant           where every value of the group, in every seed, is the same
  <case>/<group>/deciles [11]       else the 0, 10, ..., 100% quantiles of its pooled values
  <case>/<group>/count_per_seed     and its number of values per seed
  <case>/entropy_original_scale [N] the flows: each seed's entropy estimate
<case>: trpo_flow, trpo_gmm, trpo_gaussian, acktr_flow, acktr_gaussian. <group>: the original's
variable name without ":0" and its policy's scope (pi/normflowpi/policy/, pi/policy/forward/,
pi/policy/), pi/value/ shortened to pi/, and the flow's coupling index pooled (Nlayer_0 ..
Nlayer_7 -> Nlayer_*). The recording is deterministic (the same seeds give the same file).
The tests never import this script.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(PARITY_DIR)
sys.path.insert(0, PARITY_DIR)

import compat  # noqa: E402
from train_original import (  # noqa: E402
    HarnessError,
    call_runner,
    load_runner,
    parse_args,
    resolve_env,
)

CASES = {"trpo_flow": "trpo_normflow", "trpo_gmm": "trpo_gmm", "trpo_gaussian": "trpo_gaussian",
         "acktr_flow": "acktr_normflow", "acktr_gaussian": "acktr_gaussian"}
MEASURED_ENVS = {"trpo": "Hopper-v4", "acktr": "Ant-v4"}  # the golden recorders' spaces
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures", "initial_distributions_original.npz")
ENTROPY_OBSERVATION_SEED = 1234
ENTROPY_EVALUATIONS = {"trpo": 5, "acktr": 2}  # x 1024 or x 2500 states x 10 samples
QUANTILES = np.linspace(0.0, 1.0, 11)
SCOPES = ("pi/normflowpi/policy/", "pi/policy/forward/", "pi/policy/")


class Stop(Exception):
    """Raised by a hook once the initial parameters are measured: ends the runner."""


def entropy_observations(rows: int, dim: int) -> np.ndarray:
    """[rows, dim] float32 observations ~ N(0, 1), the same in the recorder and the test."""
    return np.random.RandomState(ENTROPY_OBSERVATION_SEED).standard_normal((rows, dim)) \
        .astype(np.float32)


def spaces(env) -> dict:
    """The env's observation and action dimensions."""
    return dict(obs_dim=env.observation_space.shape[0], act_dim=env.action_space.shape[0])


def trained_variables(tf) -> dict:
    """{name: value} of the trainable variables under pi/ and vf/ (session values)."""
    variables = [v for v in tf.trainable_variables() if v.name.startswith(("pi/", "vf/"))]
    return dict(zip((v.name for v in variables),
                    tf.get_default_session().run(variables)))


def flow_entropy(session, entropy, observations_placeholder, evaluations: int) -> np.ndarray:
    """[evaluations] of the flow's training-graph entropy estimate, fresh samples each."""
    rows, dim = observations_placeholder.shape.as_list()
    feed = {observations_placeholder: entropy_observations(rows, dim)}
    return np.array([session.run(entropy, feed) for _ in range(evaluations)])


def install_trpo_hooks(module, runner: str, out: dict) -> None:
    """Keeps learn's `pi`; at learn's `U.initialize` measures and raises Stop."""
    import baselines.common.tf_util as U
    trpo = getattr(module, "trpo_implicit", None) or module.trpo_mpi
    real_learn, real_initialize = trpo.learn, U.initialize
    policies = {}

    def learn(env, policy_func, **kwargs):
        out.update(spaces(env))

        def keep(name, *args):
            policies[name] = policy_func(name, *args)
            return policies[name]
        return real_learn(env, keep, **kwargs)

    def initialize():
        real_initialize()
        out.update(variables=trained_variables(U.tf))
        if runner == "trpo_normflow":
            pi = policies["pi"]
            out["entropy"] = flow_entropy(U.get_session(), pi.entropy_train, pi.ob_train,
                                          ENTROPY_EVALUATIONS["trpo"])
        raise Stop

    trpo.learn, U.initialize = learn, initialize


def install_acktr_hooks(module, runner: str, out: dict) -> None:
    """Replaces the runner's `learn`: measures and raises Stop. The flow's entropy is its
    training model's (the NormalizingFlowStateModel built for the policy's static batch)."""
    import tensorflow as tf
    models = []
    if runner == "acktr_normflow":
        model_class = sys.modules["normalizingpolicies"].NormalizingFlowStateModel
        real_init = model_class.__init__

        def init(self, *args, **kwargs):
            real_init(self, *args, **kwargs)
            models.append(self)
        model_class.__init__ = init

    def learn(env, policy, vf, **kwargs):
        out.update(spaces(env), variables=trained_variables(tf))
        if runner == "acktr_normflow":
            train = next(m for m in models if m.state.shape.as_list()[0] == policy.batch)
            out["entropy"] = flow_entropy(tf.get_default_session(), train.entropy,
                                          train.state, ENTROPY_EVALUATIONS["acktr"])
        raise Stop

    module.learn = learn


def measure(runner: str, seed: int, raw_path: str) -> None:
    """One run of `runner` stopped after initialisation; writes its variables (var/<name>),
    the flows' entropy estimates and the spaces' dimensions to `raw_path`."""
    compat.install()
    module = load_runner(runner)
    algorithm = runner.split("_")[0]
    out = {}
    install_hooks = install_trpo_hooks if algorithm == "trpo" else install_acktr_hooks
    install_hooks(module, runner, out)
    args = parse_args([runner, "--seed", str(seed), "--num-timesteps", "1"])  # the defaults
    try:
        call_runner(module, args, resolve_env(MEASURED_ENVS[algorithm]))
    except Stop:
        pass
    arrays = {f"var/{name}": value for name, value in out.pop("variables").items()}
    arrays.update(out)
    np.savez(raw_path, **arrays)


def group_name(variable: str) -> str:
    """The original's variable name -> its group (see the module docstring)."""
    name = re.sub(r"Nlayer_\d+", "Nlayer_*", variable[:-len(":0")])
    for scope in SCOPES:
        name = name.replace(scope, "")
    return name.replace("pi/value/", "pi/")


def summarise(case: str, runs: list) -> dict:
    """The fixture's keys of one case from its runs' raw measurements (one dict per seed)."""
    groups = {}
    for run in runs:
        for key in run:
            if key.startswith("var/"):
                groups.setdefault(group_name(key[len("var/"):]), []).append(
                    np.ravel(run[key]).astype(np.float64))
    out = {f"meta/{case}/{key}": np.int64(runs[0][key]) for key in ("obs_dim", "act_dim")}
    for group, arrays in groups.items():
        values = np.concatenate(arrays)
        if np.all(values == values[0]):
            out[f"{case}/{group}/constant"] = np.float64(values[0])
        else:
            out[f"{case}/{group}/deciles"] = np.quantile(values, QUANTILES)
            out[f"{case}/{group}/count_per_seed"] = np.int64(values.size // len(runs))
    if "entropy" in runs[0]:
        out[f"{case}/entropy_original_scale"] = np.array([run["entropy"].mean()
                                                          for run in runs])
    return out


def run_child(runner: str, seed: int, raw_path: str) -> dict:
    """`measure` in a process of its own; its raw measurements."""
    started = time.time()
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", runner,
                             str(seed), raw_path], capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-2000:] + result.stderr[-4000:])
        raise HarnessError(f"{runner} seed {seed} failed (status {result.returncode})")
    print(f"record_initial_distributions: {runner} seed {seed} ({time.time() - started:.0f} s)",
          flush=True)
    with np.load(raw_path) as data:
        return {key: data[key] for key in data.files}


def record(seeds: range, out_path: str) -> str:
    out = {"meta/seeds": np.array(seeds, np.int64)}
    with tempfile.TemporaryDirectory() as folder:
        for case, runner in CASES.items():
            runs = [run_child(runner, seed, os.path.join(folder, f"{runner}_{seed}.npz"))
                    for seed in seeds]
            out.update(summarise(case, runs))
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    np.savez(out_path, **out)
    return out_path


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0 .. SEEDS - 1 per runner")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the .npz to write")
    parser.add_argument("--measure", nargs=3, metavar=("RUNNER", "SEED", "RAW"),
                        help="(the child processes) measure one run into RAW")
    args = parser.parse_args()
    try:
        if args.measure:
            runner, seed, raw_path = args.measure
            measure(runner, int(seed), raw_path)
            return
        if args.seeds < 1:
            parser.error("--seeds must be positive")
        print(f"wrote {record(range(args.seeds), args.out)}")
    except (HarnessError, compat.MissingOriginal) as error:
        print(f"record_initial_distributions: error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
