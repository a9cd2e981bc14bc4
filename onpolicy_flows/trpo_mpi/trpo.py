"""TRPO with MPI workers (port of baselines' `trpo_mpi` as the original paper's code runs it).

Each iteration, on every rank:
  1. collect a segment of `timesteps_per_batch` steps with the current policy;
  2. estimate advantages with GAE(gamma, lambda) and standardise them on this rank;
  3. update the shared observation normaliser with the segment;
  4. take one trust-region policy step (gradients and Fisher products averaged over ranks);
  5. fit the value function to the TD(lambda) returns (MpiAdam);
  6. log the original's diagnostics (EpRewMean over the last 40 episodes of all ranks, ...).
"""
import collections
import time
from typing import Dict, List, Optional

import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.advantages import explained_variance, gae
from onpolicy_flows.common.envs import make_env, space_dims
from onpolicy_flows.common.logger import Logger
from onpolicy_flows.common.mpi_adam import MpiAdam
from onpolicy_flows.common.rollout import Segment, SegmentCollector
from onpolicy_flows.common.run_dir import create_run_dir
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.seeding import configure_tensorflow_threads, rank_seed, \
    seed_everything
from onpolicy_flows.common.value_function import ValueFunction
from onpolicy_flows.policies import make_policy
from onpolicy_flows.policies.base import CompiledActor
from onpolicy_flows.trpo_mpi.config import TRPOConfig
from onpolicy_flows.trpo_mpi.policy_step import PolicyBatch, StepSettings, TRPOObjective, \
    trpo_step

EPISODE_WINDOW = 40  # EpRewMean / EpLenMean average the last 40 episodes of all ranks
SYNC_CHECK_EVERY = 20  # iterations between checks that all ranks hold the same parameters


class TRPOLearner:
    """Everything one rank holds: env, policy and its old copy, value function, optimiser,
    normaliser, counters. Build it, then call `train()`."""

    def __init__(self, config: TRPOConfig, run_dir: Optional[str]):
        configure_tensorflow_threads(1)
        self.config = config
        self.rank = mpi.rank()
        self.seed = rank_seed(config.seed, self.rank)
        seed_everything(self.seed)
        monitor = f"{run_dir}/monitor.{self.rank}.csv" if run_dir else None
        self.env = make_env(config.env, self.seed, monitor)
        obs_dim, act_dim = space_dims(self.env)
        self.obs_normalizer = RunningMeanStd(obs_dim)
        # Same initial weights on every rank (seeded by the base seed), broadcast anyway.
        self.policy = make_policy(config.policy, obs_dim, act_dim, self.obs_normalizer,
                                  seed=config.seed, name="policy")
        self.policy.noise.reset_from_seed(self.seed)  # but each rank samples its own noise
        self.old_policy = make_policy(config.policy, obs_dim, act_dim, self.obs_normalizer,
                                      seed=config.seed, name="old_policy")
        self.value_function = ValueFunction(obs_dim, self.obs_normalizer,
                                            config.vf_hidden_sizes, seed=config.seed + 1)
        self.vf_optimizer = MpiAdam(self.value_function.net.trainable_variables)
        self.objective = TRPOObjective(self.policy, self.old_policy, config.entcoeff)
        self.step_settings = StepSettings(config.max_kl, config.cg_iters, config.cg_damping,
                                          config.fvp_subsample, config.max_backtracks)
        self.minibatch_rng = np.random.default_rng(self.seed)
        self.collector = SegmentCollector(self.env, CompiledActor(self.policy),
                                          config.timesteps_per_batch)
        self.logger = Logger(run_dir, enabled=mpi.is_root())
        self.iteration = 0
        self.timesteps = 0
        self.episodes = 0
        self.episode_returns = collections.deque(maxlen=EPISODE_WINDOW)
        self.episode_lengths = collections.deque(maxlen=EPISODE_WINDOW)
        self._sync_parameters()

    def train(self) -> List[Dict[str, float]]:
        """Runs until `num_timesteps` env steps (all ranks); returns every iteration's log."""
        history = []
        start = time.time()
        while self.timesteps < self.config.num_timesteps:
            history.append(self.iterate(start))
        return history

    def iterate(self, start_time: float) -> Dict[str, float]:
        """One TRPO iteration: collect, estimate advantages, normalise, step, fit, log."""
        segment = self.collector.collect()
        values, returns, advantages = self._estimate_advantages(segment)
        self.obs_normalizer.update(segment.observations)
        batch = PolicyBatch(segment.observations, segment.actions,
                            _standardise(advantages).astype(np.float32))
        step_stats = trpo_step(self.objective, batch, self.step_settings, self.logger.log)
        self.value_function.fit(self.vf_optimizer, segment.observations, returns,
                                self.config.vf_iters, self.config.vf_batch_size,
                                self.config.vf_stepsize, self.minibatch_rng)
        if self.iteration % SYNC_CHECK_EVERY == 0:
            mpi.assert_synced(np.concatenate([self.objective.params.get(),
                                              self.vf_optimizer.params.get()]), "parameters")
        self.iteration += 1
        return self._log(segment, step_stats, explained_variance(values, returns), start_time)

    def _estimate_advantages(self, segment: Segment):
        """Values before the update [T], TD(lambda) returns [T], GAE advantages [T]."""
        horizon = len(segment.rewards)
        both = np.concatenate([segment.observations, segment.next_observations])
        all_values = self.value_function.predict(both).numpy().astype(np.float64)
        values, next_values = all_values[:horizon], all_values[horizon:]
        advantages = gae(segment.rewards, values, next_values, segment.terminated,
                         segment.episode_ends, self.config.gamma, self.config.lam)
        return values, advantages + values, advantages

    def _log(self, segment: Segment, step_stats, ev_before: float, start_time: float):
        episodes = mpi.allgather((segment.episode_lengths, segment.episode_returns))
        lengths = [length for rank_lengths, _ in episodes for length in rank_lengths]
        returns = [ret for _, rank_returns in episodes for ret in rank_returns]
        self.episode_lengths.extend(lengths)
        self.episode_returns.extend(returns)
        self.episodes += len(lengths)
        self.timesteps += len(segment.rewards) * mpi.world_size()
        for name, value in step_stats.items():
            self.logger.record(name, value)
        self.logger.record("ev_tdlam_before", ev_before)
        self.logger.record("EpLenMean", _mean_or_nan(self.episode_lengths))
        self.logger.record("EpRewMean", _mean_or_nan(self.episode_returns))
        self.logger.record("EpThisIter", len(lengths))
        self.logger.record("EpisodesSoFar", self.episodes)
        self.logger.record("TimestepsSoFar", self.timesteps)
        self.logger.record("TimeElapsed", time.time() - start_time)
        self.logger.record("Iteration", self.iteration)
        return self.logger.dump(self.timesteps)

    def _sync_parameters(self):
        """Rank 0's initial policy and value function on every rank."""
        self.objective.params.set(mpi.broadcast(self.objective.params.get()).astype(np.float32))
        self.vf_optimizer.sync()

    def close(self):
        self.env.close()
        self.logger.close()


def learn(config: TRPOConfig, run_dir: Optional[str] = None) -> List[Dict[str, float]]:
    """Trains TRPO as `config` says and returns every iteration's logged values (rank 0's
    values on rank 0; other ranks get empty dicts). With run_dir=None a new run directory is
    created under `config.logdir`."""
    make_env(config.env, seed=0).close()  # a bad env id fails before a run dir exists
    if run_dir is None:
        run_dir = create_run_dir(config.logdir, config.run_name, config)
    learner = TRPOLearner(config, run_dir)
    try:
        return learner.train()
    finally:
        learner.close()


def _standardise(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / (values.std() + 1e-8)


def _mean_or_nan(values) -> float:
    return float(np.mean(values)) if len(values) else float("nan")
