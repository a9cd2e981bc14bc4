"""TRPO with MPI workers (port of baselines' `trpo_mpi` as the original paper's code runs it).

Each iteration, on every rank:
  1. collect a segment of `timesteps_per_batch` steps with the current policy;
  2. estimate advantages with GAE(gamma, lambda) and standardise them on this rank;
  3. update the shared observation normaliser with the segment;
  4. take one trust-region policy step (gradients and Fisher products averaged over ranks);
  5. fit the value function to the TD(lambda) returns (MpiAdam);
  6. log the original's diagnostics (EpRewMean over the last 40 episodes of all ranks, ...).
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.advantages import explained_variance, segment_gae
from onpolicy_flows.common.mpi_adam import MpiAdam
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.seeding import (
    configure_tensorflow_threads,
    rank_seed,
    reseed_after_resume,
    seed_everything,
    value_function_seed,
)
from onpolicy_flows.common.value_function import ValueFunction
from onpolicy_flows.envs.factory import space_dims
from onpolicy_flows.envs.rank_envs import make_rank_envs
from onpolicy_flows.envs.rollout import Segment, SegmentCollector
from onpolicy_flows.policies.base import CompiledActor, raw_observation_actor
from onpolicy_flows.policies.factory import make_policy
from onpolicy_flows.runs.logger import Logger
from onpolicy_flows.runs.progress import (
    Progress,
    count_segment_iteration,
    record_progress,
)
from onpolicy_flows.runs.rollback import Rollback
from onpolicy_flows.runs.training import train
from onpolicy_flows.trpo_mpi.config import TRPOConfig
from onpolicy_flows.trpo_mpi.policy_step import (
    PolicyBatch,
    StepSettings,
    TRPOObjective,
    trpo_step,
)

EPISODE_WINDOW = 40  # EpRewMean / EpLenMean average the last 40 episodes of all ranks
SYNC_CHECK_EVERY = 20  # iterations between checks that all ranks hold the same parameters


class TRPOLearner:
    """Everything one rank holds: env, policy and its old copy, value function, optimiser,
    normaliser, counters. `learn` runs it under `runs.training.train`, one `iterate()`
    per iteration."""

    def __init__(self, config: TRPOConfig, run_dir: Optional[str], env=None):
        """`env` replaces the monitored training envs (e.g. one that renders, for replays)."""
        configure_tensorflow_threads(1)
        self.config = config
        self.rank = mpi.rank()
        self.seed = rank_seed(config.seed, self.rank)
        seed_everything(self.seed)
        self.envs = [env] if env is not None else make_rank_envs(config, self.rank, run_dir)
        self.env = self.envs[0]
        obs_dim, act_dim = space_dims(self.env)
        self.obs_normalizer = RunningMeanStd(obs_dim)
        box = (self.env.action_space.low, self.env.action_space.high)  # for bounded policies
        # Same initial weights on every rank (seeded by the base seed), broadcast anyway.
        self.policy = make_policy(config.policy, obs_dim, act_dim, self.obs_normalizer,
                                  seed=config.seed, name="policy", action_bounds=box)
        self.policy.noise.reset_from_seed(self.seed)  # but each rank samples its own noise
        self.old_policy = make_policy(config.policy, obs_dim, act_dim, self.obs_normalizer,
                                      seed=config.seed, name="old_policy", action_bounds=box)
        self.value_function = ValueFunction(obs_dim, self.obs_normalizer,
                                            config.vf_hidden_sizes,
                                            seed=value_function_seed(config.seed))
        self.vf_optimizer = MpiAdam(self.value_function.net.trainable_variables)
        self.objective = TRPOObjective(self.policy, self.old_policy, config.entcoeff,
                                       config.timesteps_per_batch, config.fvp_subsample)
        self.step_settings = StepSettings(config.max_kl, config.cg_iters, config.cg_damping,
                                          config.fvp_subsample, config.max_backtracks,
                                          config.fisher)
        self.minibatch_rng = np.random.default_rng(self.seed)
        self.collector = SegmentCollector(
            self.envs, CompiledActor(self.policy, batch_size=len(self.envs)),
            config.timesteps_per_batch // len(self.envs))
        self.logger = Logger(run_dir, enabled=mpi.is_root())
        self.value_rollback = Rollback(
            self.value_function.variables + self.vf_optimizer.variables, self.logger.log)
        self.progress = Progress(window=EPISODE_WINDOW)
        self._sync_parameters()
        # Start-up compilation moves to background threads only where this rank has a core
        # to spare; with a rank per core they would slow the tracing down instead.
        self._compile_ahead = mpi.has_spare_core()
        self._started = False

    def checkpoint_objects(self) -> dict:
        """What a checkpoint holds (the old policy is re-copied at every step)."""
        return dict(policy=self.policy, value_function=self.value_function,
                    vf_optimizer=self.vf_optimizer, obs_normalizer=self.obs_normalizer,
                    progress=self.progress)

    def after_restore(self) -> None:
        """Every rank restored rank 0's state: give each its own noise stream again."""
        self.minibatch_rng = reseed_after_resume(self.policy, self.seed,
                                                 int(self.progress.iteration))

    def evaluation_actor(self, deterministic: bool):
        """Raw env observation [obs_dim] -> env action [act_dim], for replays."""
        return raw_observation_actor(self.policy, deterministic)

    def iterate(self) -> Optional[Dict[str, float]]:
        """One TRPO iteration: collect, estimate advantages, normalise, step, fit, log. None
        when the batch is dropped (`non_positive_fisher` "drop-batch"): the iteration is then
        not counted, logged or followed by a value-function fit."""
        preparing = None
        if not self._started:
            preparing = self._start()
        segment = self.collector.collect()
        values, returns, advantages = self._estimate_advantages(segment)
        observations = Segment.flat(segment.observations)  # [T, obs_dim]
        self.obs_normalizer.update(observations)
        batch = PolicyBatch(observations, Segment.flat(segment.actions),
                            _standardise(advantages).astype(np.float32))
        if preparing is not None:
            preparing.shutdown()  # waits for the first calls
        step_stats = trpo_step(self.objective, batch, self.step_settings, self.logger.log)
        if step_stats["fisher_not_positive"] and self.config.non_positive_fisher == "drop-batch":
            self.logger.log("batch dropped: no value-function fit, no log row, not counted")
            return None
        self.value_rollback.keep_if_finite(
            lambda: self.value_function.fit(self.vf_optimizer, observations, returns,
                                            self.config.vf_iters, self.config.vf_batch_size,
                                            self.config.vf_stepsize, self.minibatch_rng),
            "the value-function fit",
            outputs=lambda: self.value_function.predict(observations).numpy())
        if int(self.progress.iteration) % SYNC_CHECK_EVERY == 0:
            mpi.assert_synced(np.concatenate([self.objective.params.get(),
                                              self.vf_optimizer.params.get()]), "parameters")
        return self._log(segment, step_stats, explained_variance(values, returns))

    def _estimate_advantages(self, segment: Segment):
        """Values before the update [T], TD(lambda) returns [T], GAE advantages [T] (flat,
        environment-major; GAE runs along each environment's own steps)."""
        return segment_gae(segment, segment.rewards, self.value_function.predict,
                           self.config.gamma, self.config.lam, self.config.bootstrap_truncation)

    def _log(self, segment: Segment, step_stats, ev_before: float):
        episodes_this_iteration = count_segment_iteration(self.progress, segment,
                                                          self.config.timestep_count)
        for name, value in step_stats.items():
            self.logger.record(name, value)
        self.logger.record("ev_tdlam_before", ev_before)
        record_progress(self.logger.record, self.progress, episodes_this_iteration)
        return self.logger.dump(int(self.progress.timesteps))

    def _start(self) -> Optional[ThreadPoolExecutor]:
        """Collective: builds the step's functions ahead of the first step in this process.
        Under MPI the ranks share out the tracing (`TRPOObjective.build`); where this rank has
        a core to spare, the sampler compiles and the functions' first calls run on
        background threads meanwhile (`TRPOObjective.prepare`: shut the returned executor
        down before the step)."""
        self._started = True
        if self._compile_ahead:
            self.collector.actor.compile_in_background()
        if mpi.world_size() > 1:
            self.objective.build(self.config.fisher)
        return self.objective.prepare(self.config.fisher) if self._compile_ahead else None

    def _sync_parameters(self):
        """Rank 0's initial policy and value function on every rank (nothing to do on one
        rank, where the parameters' first read and write would only add to start-up)."""
        if mpi.world_size() > 1:
            self.objective.params.set(
                mpi.broadcast(self.objective.params.get()).astype(np.float32))
        self.vf_optimizer.sync()

    def close(self):
        for env in self.envs:
            env.close()
        self.logger.close()


def learn(config: TRPOConfig, run_dir: Optional[str] = None,
          resume: bool = False) -> List[Dict[str, float]]:
    """Trains TRPO as `config` says and returns every iteration's logged values. With
    run_dir=None a new run directory is created under `config.logdir`; with `resume`,
    `run_dir`'s latest checkpoint is continued (see `runs.training.train`)."""
    return train(TRPOLearner, config, run_dir, resume)


def _standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-8)
