"""The loop every learner runs under: a run directory, resuming from its latest checkpoint,
periodic and final checkpoints, and a clean stop on Ctrl-C or SIGTERM.

A learner offers `config` (with `env`, `num_timesteps`, `save_every`, `logdir`, `run_name`),
`progress` (a `Progress`), `logger`, `iterate() -> dict` (the logged row, or None for a batch
it dropped without counting it), `checkpoint_objects() -> dict`, `after_restore()` and
`close()`.
"""
import os
import signal
import time
from typing import Callable, Dict, List, Optional

import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.config import save_json
from onpolicy_flows.common.durations import format_duration
from onpolicy_flows.envs.factory import make_env
from onpolicy_flows.runs.checkpoints import RunCheckpoints, find_checkpoint
from onpolicy_flows.runs.run_dir import CONFIG_FILE, create_run_dir


def train(make_learner: Callable, config, run_dir: Optional[str] = None,
          resume: bool = False) -> List[Dict[str, float]]:
    """Builds the learner (`make_learner(config, run_dir)`) and trains it until
    `config.num_timesteps`; returns every iteration's logged values.

    With `resume`, `run_dir` must be an existing run directory: training continues from its
    latest checkpoint (counters, normaliser, optimiser state), and progress.csv rows logged
    after that checkpoint are dropped before new ones are appended.
    """
    started = time.time()
    if resume:
        checkpoint = find_checkpoint(run_dir)
        if mpi.is_root():  # keep config.json true to what this run now does
            save_json(config, os.path.join(run_dir, CONFIG_FILE))
    else:
        # a bad env id or bad env kwargs fail before a run dir exists
        make_env(config.env, seed=0, env_kwargs=config.env_kwargs).close()
        run_dir = run_dir or create_run_dir(config.logdir, config.run_name, config)
    learner = make_learner(config, run_dir)
    try:
        checkpoints = RunCheckpoints(run_dir, learner.checkpoint_objects())
        if resume:
            checkpoints.restore(checkpoint)
            learner.after_restore()
            learner.logger.drop_rows_after("Iteration", int(learner.progress.iteration))
            learner.logger.log(f"resumed {run_dir} at iteration "
                               f"{int(learner.progress.iteration)}, "
                               f"{int(learner.progress.timesteps)} timesteps")
        return _loop(learner, checkpoints, run_dir, started)
    finally:
        learner.close()


def _loop(learner, checkpoints: RunCheckpoints, run_dir: str,
          started: float) -> List[Dict[str, float]]:
    history = []
    learner.progress.start_clock(since=started)
    learner.logger.add_display_row("TimeLeft", lambda: format_duration(
        learner.progress.seconds_left(learner.config.num_timesteps)))
    with _StopRequest() as stop:
        while int(learner.progress.timesteps) < learner.config.num_timesteps:
            row = learner.iterate()  # None: a batch the learner dropped, nothing counted
            if row is not None:
                history.append(row)
            iteration = int(learner.progress.iteration)
            if stop.requested_on_any_rank():
                checkpoints.save(iteration)
                learner.logger.log(f"stopped at iteration {iteration}; continue with "
                                   f"--resume {run_dir}")
                return history
            if row is not None and iteration % learner.config.save_every == 0:
                checkpoints.save(iteration)
    iteration = int(learner.progress.iteration)
    if iteration % learner.config.save_every != 0:
        checkpoints.save(iteration)
    return history


class _StopRequest:
    """Turns the first SIGINT / SIGTERM into a request to stop after the current iteration
    (a second one interrupts at once, unless it comes within REPEAT_SECONDS of the first: a
    job scheduler's SIGTERM may reach a trainer both directly and through run.reproduce).
    Ranks agree on stopping through an all-reduce."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    REPEAT_SECONDS = 1.0

    def __init__(self):
        self.requested = False
        self.requested_at = 0.0  # time.monotonic() of the first signal
        self.previous = {}

    def __enter__(self):
        for number in self.SIGNALS:
            self.previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc):
        for number, handler in self.previous.items():
            signal.signal(number, handler)

    def _handle(self, number, frame):
        now = time.monotonic()
        if not self.requested:
            self.requested, self.requested_at = True, now
        elif now - self.requested_at > self.REPEAT_SECONDS:
            raise KeyboardInterrupt

    def requested_on_any_rank(self) -> bool:
        return bool(mpi.allreduce_sum(np.array([float(self.requested)]))[0] > 0)
