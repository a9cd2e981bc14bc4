"""Trains the paper's ORIGINAL code (robintyh1/onpolicybaselines with the openai/baselines of
January 2018, fetched by parity/fetch_original.sh) through its own runners' `train`
functions, and leaves a run directory that this project's readers accept.

  python parity/train_original.py trpo_normflow --env Hopper-v4 --seed 0 --num-timesteps 1000000
  mpirun -np 4 python parity/train_original.py trpo_gaussian --env Walker2d-v4   # TRPO only
  python parity/train_original.py acktr_normflow --env Ant-v4 --num-timesteps 5000

Runners (the original's scripts; every setting they hard-code is recorded in config.json):
  trpo_normflow   normalizing_flows/trpo_normflow/run_trpo_normflow.py  (--num-units, --num-layers)
  trpo_gmm        other_baselines/trpo_gmm/run_trpo_gmm.py              (--num-components = K)
  trpo_gaussian   other_baselines/trpo_gaussian/run_trpo_gaussian.py
  acktr_normflow  normalizing_flows/acktr_normflow/run_acktr_normflow.py (--num-units, --num-layers)
  acktr_gaussian  other_baselines/acktr_gaussian/run_acktr.py (baselines' own ACKTR)

The run directory LOGDIR/<algo>-<env>-<policy>-seed<seed>-original-<time>/ holds
  progress.csv    what the original's logger wrote, plus the harness's columns:
                  EnvStepsSoFar (env steps actually taken, all ranks) in every run, for
                  ACKTR, which logs neither, TimestepsSoFar (= EnvStepsSoFar) and TimeElapsed,
                  and for the flow ACKTR entropy, stepsize and vFv as the port logs them
  monitor.<rank>.csv  the episodes of each rank, in the format of onpolicy_flows' Monitor
  config.json     "code": "original", the source commits, the settings the runner used
  log.txt         the original's log lines
It is written in LOGDIR/.<name>.incomplete/ and renamed into place once training has ended,
so a run directory is always complete; a failed run leaves only the .incomplete folder (with
traceback.<rank>.txt) and an error line on stderr.
"""
import argparse
import csv
import datetime
import importlib.util
import json
import os
import subprocess
import sys
import time
import traceback

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PARITY_DIR)

import compat  # noqa: E402  (imports no TensorFlow; compat.install() does)

FORMAT_VERSION = 1
# runner -> (algorithm, policy, the runner's script relative to onpolicyalgos/)
RUNNERS = {
    "trpo_normflow": ("trpo", "flow", "normalizing_flows/trpo_normflow/run_trpo_normflow.py"),
    "trpo_gmm": ("trpo", "gmm", "other_baselines/trpo_gmm/run_trpo_gmm.py"),
    "trpo_gaussian": ("trpo", "gaussian", "other_baselines/trpo_gaussian/run_trpo_gaussian.py"),
    "acktr_normflow": ("acktr", "flow",
                       "normalizing_flows/acktr_normflow/run_acktr_normflow.py"),
    "acktr_gaussian": ("acktr", "gaussian", "other_baselines/acktr_gaussian/run_acktr.py"),
}
# What the runners hard-code (read from their train() calls), recorded in config.json.
TRPO_SETTINGS = dict(timesteps_per_batch=1024, cg_iters=10, cg_damping=0.1, gamma=0.99,
                     lam=0.98, vf_iters=5, vf_stepsize=1e-3, entcoeff=0.0)
ACKTR_SETTINGS = dict(timesteps_per_batch=2500, gamma=0.99, lam=0.97, desired_kl=0.002)
ENV_STEPS_KEY = "EnvStepsSoFar"


class HarnessError(Exception):
    """A problem the user can fix; printed as one line."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner", choices=sorted(RUNNERS))
    parser.add_argument("--env", default="Hopper-v4",
                        help="gymnasium id; the paper's -v1 MuJoCo ids map to -v4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-timesteps", type=int, default=1_000_000,
                        help="the runner's step budget (see README.md for how each counts)")
    parser.add_argument("--logdir", default="logs/original",
                        help="the run directory is created inside it")
    parser.add_argument("--max-kl", type=float, default=0.01, help="TRPO runners: max_kl")
    parser.add_argument("--num-components", type=int, default=2, help="trpo_gmm: K")
    parser.add_argument("--num-units", type=int, default=3,
                        help="flow runners: hidden units of the coupling s,t nets")
    parser.add_argument("--num-layers", type=int, default=4,
                        help="flow runners: mask pairs (2 x this many couplings)")
    args = parser.parse_args(argv)
    if args.num_timesteps <= 0:
        parser.error("--num-timesteps must be positive")
    if args.num_components < 1 or args.num_units < 1 or args.num_layers < 1:
        parser.error("--num-components, --num-units and --num-layers must be positive")
    if args.max_kl <= 0:
        parser.error("--max-kl must be positive")
    return args


def policy_config(args) -> dict:
    algorithm, policy, _ = RUNNERS[args.runner]
    settings = {"policy": policy}
    if policy == "gmm":
        settings.update(num_components=args.num_components, hidden_sizes=[32, 32])
    elif policy == "flow":
        settings.update(num_layers=args.num_layers, num_units=args.num_units,
                        state_embedding_sizes=[64, 64])
    else:
        settings.update(hidden_sizes=[32, 32] if algorithm == "trpo" else [64, 64])
    return settings


def run_name(args, env_id: str) -> str:
    algorithm, policy, _ = RUNNERS[args.runner]
    label = f"gmm-K{args.num_components}" if policy == "gmm" else policy
    return f"{algorithm}-{env_id}-{label}-seed{args.seed}-original"


def make_config(args, env_id: str, num_ranks: int, sources: dict) -> dict:
    algorithm, _, script = RUNNERS[args.runner]
    config = {
        "format_version": FORMAT_VERSION,
        "code": "original",
        "algorithm": algorithm,
        "runner": args.runner,
        "runner_script": f"onpolicyalgos/{script}",
        "original_repository": "robintyh1/onpolicybaselines",
        "original_commit": sources["onpolicybaselines_commit"],
        "baselines_repository": "openai/baselines",
        "baselines_version": f"git {sources['baselines_commit'][:7]} (2018-01-21, before "
                             "the 9fa8e1b clean-up)",
        "baselines_commit": sources["baselines_commit"],
        "patch_sha256": sources["patch_sha256"],
        "harness_git_commit": _git_commit(),
        "env": env_id,
        "env_kwargs": {},
        "seed": args.seed,
        "num_timesteps": args.num_timesteps,
        "num_ranks": num_ranks,
    }
    if algorithm == "trpo":
        config.update(max_kl=args.max_kl, **TRPO_SETTINGS)
    else:
        config.update(ACKTR_SETTINGS)
    config["policy"] = policy_config(args)
    return config


def _git_commit():
    try:
        return subprocess.run(["git", "-C", PARITY_DIR, "rev-parse", "HEAD"], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def resolve_env(env_id: str) -> str:
    from compat import old_gym
    try:
        return old_gym.gymnasium_id(env_id)
    except old_gym.UnknownEnvironment as error:
        raise HarnessError(str(error)) from None


def load_runner(runner: str):
    """Imports the original's runner script as a module, its own folder first on sys.path
    (it imports its sibling modules by bare name); the flow ACKTR's policy logs what the
    port's ACKTR logs beside the original's keys (`log_flow_acktr_diagnostics`)."""
    script = os.path.join(compat.ONPOLICYBASELINES_ROOT, "onpolicyalgos", RUNNERS[runner][2])
    sys.path.insert(0, os.path.dirname(script))
    spec = importlib.util.spec_from_file_location(f"original_{runner}", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if runner == "acktr_normflow":
        log_flow_acktr_diagnostics(module.ACKTRImplicitPolicy)
    return module


def log_flow_acktr_diagnostics(policy_class) -> None:
    """Makes the original flow ACKTR log, each iteration, `entropy` (-mean of the batch's
    acting log-densities: the estimate the port logs, on the original's scale, which drops
    (d/2) log 2 pi), `stepsize` (the learning rate of the step just taken) and `vFv` (K-FAC's
    quadratic KL estimate of that step). It reads them where the learner measures the step's
    KL (`compute_kl`, called once per iteration after the step); the training is untouched."""
    initialise = policy_class._init

    def _init(self, *args, **kwargs):
        initialise(self, *args, **kwargs)
        compute_kl = self.compute_kl

        def compute_kl_and_log(observations, actions, old_log_probs):
            import numpy as np
            import tensorflow as tf
            from baselines import logger
            session = tf.get_default_session()
            graph = session.graph
            logger.record_tabular("entropy", float(-np.mean(old_log_probs)))
            logger.record_tabular("stepsize", float(session.run(
                graph.get_tensor_by_name("stepsize:0"))))
            logger.record_tabular("vFv", float(session.run(
                graph.get_tensor_by_name("KFAC/vFv:0"))))
            return compute_kl(observations, actions, old_log_probs)
        self.compute_kl = compute_kl_and_log
    policy_class._init = _init


def call_runner(module, args, env_id: str) -> None:
    """The runner's own train(), with the runner's defaults for what is not a flag here."""
    runner = args.runner
    if runner == "trpo_normflow":
        module.train(env_id, num_timesteps=args.num_timesteps, seed=args.seed,
                     num_units=args.num_units, num_layers=args.num_layers, maxkl=args.max_kl,
                     continued=0, stepperbatch=TRPO_SETTINGS["timesteps_per_batch"])
    elif runner == "trpo_gmm":
        module.train(env_id, num_timesteps=args.num_timesteps, seed=args.seed,
                     maxkl=args.max_kl, K=args.num_components)
    elif runner == "trpo_gaussian":
        module.train(env_id, num_timesteps=args.num_timesteps, seed=args.seed,
                     maxkl=args.max_kl, continued=0)
    elif runner == "acktr_normflow":
        module.train(env_id, num_timesteps=args.num_timesteps, seed=args.seed,
                     kl=ACKTR_SETTINGS["desired_kl"], num_units=args.num_units,
                     num_layers=args.num_layers,
                     timesteps_per_batch=ACKTR_SETTINGS["timesteps_per_batch"])
    else:
        module.train(env_id, num_timesteps=args.num_timesteps, seed=args.seed,
                     kl=ACKTR_SETTINGS["desired_kl"])


def configure_logger(staging: str, rank: int, num_ranks: int, algorithm: str) -> None:
    """baselines' logger into `staging` (rank 0 alone writes progress.csv and log.txt), with
    the harness's columns added at each dump (see the module docstring)."""
    from baselines import logger
    from compat import old_gym

    logger.configure(staging, ["stdout", "log", "csv"] if rank == 0 else [])
    started = time.time()

    class HarnessLogger(logger.Logger):
        def dumpkvs(self):
            if self.name2val:
                # TRPO ranks step in lock-step (timesteps_per_batch each per iteration)
                steps = old_gym.env_steps_taken() * num_ranks
                self.name2val[ENV_STEPS_KEY] = steps
                if algorithm == "acktr":
                    self.name2val["TimestepsSoFar"] = steps
                    self.name2val["TimeElapsed"] = time.time() - started
            super().dumpkvs()

    current = logger.Logger.CURRENT
    logger.Logger.CURRENT = HarnessLogger(current.dir, current.output_formats)


def raw_monitor_path(staging: str, rank: int, algorithm: str) -> str:
    """Where the runner's bench.Monitor wrote: TRPO '<rank>.monitor.csv', ACKTR
    'monitor.csv'."""
    name = f"{rank}.monitor.csv" if algorithm == "trpo" else "monitor.csv"
    return os.path.join(staging, name)


def convert_monitor(raw_path: str, path: str) -> int:
    """Rewrites baselines' monitor CSV in onpolicy_flows' Monitor format (a '#' JSON header
    with t_start and env_id, then r,l,t); the values are kept as baselines wrote them.
    Returns the number of episodes."""
    with open(raw_path, newline="") as file:
        header = json.loads(file.readline()[1:])
        rows = list(csv.DictReader(file))
    with open(path, "w") as file:
        file.write("#" + json.dumps(dict(t_start=header["t_start"],
                                          env_id=header["env_id"])) + "\nr,l,t\n")
        for row in rows:
            file.write(f"{row['r']},{row['l']},{row['t']}\n")
    return len(rows)


def finalize(staging: str, final: str, config: dict, num_ranks: int) -> None:
    """Turns the staging folder into the run directory: monitors converted, progress.csv
    checked, config.json written, then the folder renamed into place."""
    progress = os.path.join(staging, "progress.csv")
    if not os.path.isfile(progress):
        raise HarnessError("the original logged no iteration (budget too small?); nothing "
                           f"to keep in {staging}")
    with open(progress, newline="") as file:
        columns = next(csv.reader(file), [])
    if "TimestepsSoFar" not in columns:
        raise HarnessError(f"{progress} has no TimestepsSoFar column")
    for rank in range(num_ranks):
        raw = raw_monitor_path(staging, rank, config["algorithm"])
        convert_monitor(raw, os.path.join(staging, f"monitor.{rank}.csv"))
        os.remove(raw)
    scratch = os.path.join(staging, "config.json.tmp")
    with open(scratch, "w") as file:
        json.dump(config, file, indent=2)
        file.write("\n")
    os.replace(scratch, os.path.join(staging, "config.json"))
    os.rename(staging, final)


def make_staging(logdir: str, name: str):
    """(staging folder, final run directory) for a new run, both new paths."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    final = os.path.join(logdir, f"{name}-{stamp}")
    suffix = 1
    while os.path.exists(final) or os.path.exists(_staging_of(final)):
        final = os.path.join(logdir, f"{name}-{stamp}-{suffix}")
        suffix += 1
    staging = _staging_of(final)
    try:
        os.makedirs(staging)
    except OSError as error:
        raise HarnessError(f"cannot create {staging}: {error.strerror}") from None
    return staging, final


def _staging_of(final: str) -> str:
    return os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.incomplete")


def main(argv=None) -> str:
    args = parse_args(argv)
    try:
        sources = compat.read_sources()
    except compat.MissingOriginal as error:
        raise HarnessError(str(error)) from None
    env_id = resolve_env(args.env)
    algorithm = RUNNERS[args.runner][0]

    from mpi4py import MPI
    comm = MPI.COMM_WORLD
    rank, num_ranks = comm.Get_rank(), comm.Get_size()
    if env_id != args.env and rank == 0:
        print(f"train_original: {args.env} no longer exists; using its successor {env_id}",
              file=sys.stderr, flush=True)
    if algorithm == "acktr" and num_ranks > 1:
        raise HarnessError("the original's ACKTR is single-process; run it without mpirun")

    paths = None
    if rank == 0:
        try:
            paths = make_staging(args.logdir, run_name(args, env_id))
        except HarnessError as error:
            paths = error
    paths = comm.bcast(paths, root=0)
    if isinstance(paths, HarnessError):
        raise paths
    staging, final = paths
    config = make_config(args, env_id, num_ranks, sources)

    compat.install()
    module = load_runner(args.runner)
    configure_logger(staging, rank, num_ranks, algorithm)
    try:
        call_runner(module, args, env_id)
    except BaseException:
        with open(os.path.join(staging, f"traceback.{rank}.txt"), "w") as file:
            traceback.print_exc(file=file)
        raise
    from baselines import logger
    logger.Logger.CURRENT.close()
    comm.Barrier()
    if rank == 0:
        finalize(staging, final, config, num_ranks)
        print(f"run directory: {final}", flush=True)
    return final


def _rank() -> int:
    from mpi4py import MPI
    return MPI.COMM_WORLD.Get_rank()


def _abort_others():
    from mpi4py import MPI
    if MPI.COMM_WORLD.Get_size() > 1:
        MPI.COMM_WORLD.Abort(1)


if __name__ == "__main__":
    try:
        main()
    except HarnessError as error:  # every rank raises it alike: rank 0 alone says it
        if _rank() == 0:
            print(f"train_original: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    except KeyboardInterrupt:
        print("train_original: interrupted", file=sys.stderr)
        _abort_others()
        sys.exit(130)
    except Exception as error:  # the original failed: one line, the traceback in a file
        message = str(error).splitlines()[0] if str(error) else ""
        print(f"train_original: error (rank {_rank()}): {type(error).__name__}: {message} "
              "(full traceback: traceback.<rank>.txt in the run's .incomplete folder)",
              file=sys.stderr, flush=True)
        _abort_others()
        sys.exit(1)
