"""ACKTR for continuous control (port of the original's `acktr_cont.learn`), with MPI workers.

Each iteration, on every rank:
  1. collect whole episodes until more than this rank's share of `timesteps_per_batch`
     steps (filtered observation pairs, actions mapped from [-1, 1] to the action box); the
     observation filter then merges what every rank saw;
  2. estimate advantages with GAE(gamma, lambda) from the current value function;
  3. fit the value function (K-FAC, full batch) to the discounted returns;
  4. take one K-FAC step on the policy loss -mean(standardised advantage * log pi(a|s));
  5. measure KL(old || new) on the batch and adapt the policy's learning rate towards
     `desired_kl`;
  6. log (EpRewMean is the mean return of this iteration's episodes of all ranks, as in the
     original).
Gradients and K-FAC statistics are averaged over ranks inside the optimizers, and advantages
are standardised over all ranks' steps, so every rank takes the same step. One rank is the
original's single process.
"""
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from onpolicy_flows.acktr.config import POLICY_WEIGHT_DECAY, ACKTRConfig
from onpolicy_flows.acktr.kfac import KFACOptimizer, dense_layers
from onpolicy_flows.acktr.rollout import Episode, EpisodeCollector, EvaluationActor
from onpolicy_flows.acktr.value_function import KFACValueFunction, value_features
from onpolicy_flows.acktr.zfilter import ZFilter
from onpolicy_flows.common import mpi
from onpolicy_flows.common.advantages import explained_variance, gae
from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.common.seeding import (
    configure_tensorflow_threads,
    rank_seed,
    resumed_seed,
    seed_everything,
    value_function_seed,
)
from onpolicy_flows.common.trace_cache import TracedFunction, describe
from onpolicy_flows.envs.factory import make_env, space_dims
from onpolicy_flows.policies.base import CompiledActor, Policy
from onpolicy_flows.policies.factory import make_policy
from onpolicy_flows.runs.logger import Logger
from onpolicy_flows.runs.progress import Progress, record_counters
from onpolicy_flows.runs.rollback import Rollback
from onpolicy_flows.runs.training import train

STEP_NAMES = ("policy_loss", "vFv", "KL", "entropy")  # what PolicyUpdate.step returns
STEPSIZE_FACTOR = 1.5  # the learning rate is multiplied or divided by this
SYNC_CHECK_EVERY = 20  # iterations between checks that all ranks hold the same parameters


class PolicyUpdate(tf.Module):
    """The policy's K-FAC step and the KL it caused, compiled for batches of any size."""

    def __init__(self, policy: Policy, old_policy: Policy, optimizer: KFACOptimizer):
        super().__init__(name="policy_update")
        self.policy = policy
        self.old_policy = old_policy
        self.optimizer = optimizer
        batch = [tf.TensorSpec([None, policy.obs_dim], tf.float32),
                 tf.TensorSpec([None, policy.act_dim], tf.float32),
                 tf.TensorSpec([None], tf.float32)]
        settings = describe((policy, old_policy, optimizer))
        variables = [*policy.variables, policy.noise.state, *old_policy.variables,
                     *optimizer.variables]

        def traced(function, signature, graph_optimizer=True):
            return TracedFunction(function, signature, settings, variables, graph_optimizer)
        # The K-FAC step for the flow is a 14.7k-op graph called once per iteration: the
        # graph optimiser's pass at its first call cost 18 s against 6 s without, and the
        # calls are no slower without it (measured side by side, under load).
        self._compiled_step = traced(self._step, batch, graph_optimizer=False)
        self.sample = traced(self._sample, batch[:1])
        self.statistics = traced(self._statistics, batch[:2])
        self.compiled_functions = (self._compiled_step, self.sample, self.statistics)

    def step(self, observations, actions, advantages) -> dict:
        """The compiled `_step`: policy_loss, vFv, KL and entropy (scalars)."""
        return dict(zip(STEP_NAMES, self._compiled_step(observations, actions, advantages)))

    def _sample(self, observations):
        return self.policy.sample(observations)[0]

    def _losses(self, observations, actions, advantages):
        """(loss, sampled_loss): the policy-gradient loss, and -mean log pi at the policy's
        own samples (the collected actions), whose gradients give the Fisher statistics."""
        log_probs = self.policy.log_prob(observations, actions)  # [batch]
        return -tf.reduce_mean(advantages * log_probs), -tf.reduce_mean(log_probs)

    def _step(self, observations, actions, advantages):
        """The K-FAC step; its loss and vFv, KL(old || new) on this rank's batch and the
        entropy before it (from the batch's own actions), in the order of STEP_NAMES."""
        for old, new in zip(self.old_policy.trainable_variables,
                            self.policy.trainable_variables):
            old.assign(new)
        log_probs = self.policy.log_prob(observations, actions)
        entropy = tf.reduce_mean(self.policy.entropy_at_actions(
            observations, log_probs, tf.zeros_like(log_probs)))
        result = self.optimizer.minimize(
            lambda: self._losses(observations, actions, advantages))
        kl = tf.reduce_mean(self.policy.kl(self.old_policy, observations, actions))
        return result["loss"], result["vfv"], kl, entropy  # STEP_NAMES

    def _statistics(self, observations, actions):
        """The action distribution's statistics the value function sees, [batch, stat_dim]:
        mean and standard deviation where the distribution has them in closed form (the
        Gaussian, as baselines' ACKTR), else log pi(a|s) of the action taken on the
        original's scale (`Policy.original_log_density_shift`: the flow's original ACKTR
        feeds its log-density, which drops (d/2) log 2 pi, on Ant an input 7.35 higher than
        the true log-density, which the value function's initial predictions and K-FAC
        statistics see; other classes feed the true log-density)."""
        distribution = self.policy.distribution(observations)
        try:
            return tf.concat([distribution.mean(), distribution.stddev()], axis=1)
        except NotImplementedError:
            return (distribution.log_prob(actions)[:, None]
                    + self.policy.original_log_density_shift)


class ACKTRLearner:
    """Everything a run holds: env, filter, policy and its old copy, both K-FAC optimizers,
    value function, counters. `learn` runs it under `runs.training.train`, one
    `iterate()` per iteration."""

    def __init__(self, config: ACKTRConfig, run_dir: Optional[str], env=None):
        """`env` replaces the monitored training env (e.g. one that renders, for replays)."""
        configure_tensorflow_threads(1)
        self.config = config
        self.rank = mpi.rank()
        self.seed = rank_seed(config.seed, self.rank)
        seed_everything(self.seed)
        monitor = f"{run_dir}/monitor.{self.rank}.csv" if run_dir else None
        self.env = env or make_env(config.env, self.seed, monitor,
                                   env_kwargs=config.env_kwargs)
        obs_dim, act_dim = space_dims(self.env)
        self.obs_filter = ZFilter(obs_dim, clip=config.obs_clip)
        pair_dim = 2 * obs_dim  # the policy sees the current and the previous observation
        self.policy = make_policy(config.policy, pair_dim, act_dim, None, seed=config.seed,
                                  name="policy")  # the same weights on every rank
        self.policy.noise.reset_from_seed(self.seed)  # but each rank samples its own noise
        self.old_policy = make_policy(config.policy, pair_dim, act_dim, None,
                                      seed=config.seed, name="old_policy")
        self.policy_optimizer = make_policy_optimizer(config, self.policy)
        self.policy_update = PolicyUpdate(self.policy, self.old_policy, self.policy_optimizer)
        self.value_function = make_value_function(
            config, value_feature_dim(self.policy_update, pair_dim, act_dim))
        self.value_function.noise.reset_from_seed(value_function_seed(self.seed))
        self.progress = Progress()
        self.collector = EpisodeCollector(self.env, CompiledActor(self.policy), self.obs_filter)
        self.logger = Logger(run_dir, enabled=mpi.is_root())
        self.value_rollback = Rollback(self.value_function.variables, self.logger.log)
        self.policy_rollback = Rollback(
            self.policy.trainable_variables + self.policy_optimizer.variables, self.logger.log)
        self._compile_ahead = mpi.has_spare_core()

    def checkpoint_objects(self) -> dict:
        """What a checkpoint holds (the old policy is re-copied at every step)."""
        return dict(policy=self.policy, policy_optimizer=self.policy_optimizer,
                    value_function=self.value_function, obs_filter=self.obs_filter,
                    progress=self.progress)

    def after_restore(self) -> None:
        """Every rank restored rank 0's state: a fresh noise stream of its own for the
        resumed run; the filter's working copy reloads."""
        seed = resumed_seed(self.seed, int(self.progress.iteration))
        self.policy.noise.reset_from_seed(seed)
        self.value_function.noise.reset_from_seed(value_function_seed(seed))
        self.obs_filter.load()

    def evaluation_actor(self, deterministic: bool):
        """Raw env observation [obs_dim] -> env action [act_dim], for replays: the filter
        standardises without updating its statistics; the previous observation starts at
        zero and is forgotten when a new episode starts (call the returned `reset`)."""
        actor = CompiledActor(self.policy, deterministic=deterministic)
        actor.sync()
        return EvaluationActor(actor, self.obs_filter, self.env.action_space)

    def iterate(self) -> Dict[str, float]:
        """One ACKTR iteration: collect, estimate advantages, fit V, step the policy, adapt
        the learning rate, log."""
        if self._compile_ahead:  # the actor compiles on a spare core while the step traces
            self.collector.actor.compile_while_tracing(self.policy_update.compiled_functions)
            self._compile_ahead = False
        episodes = self.collector.collect(self.config.timesteps_per_batch // mpi.world_size())
        observations = np.concatenate([e.observations for e in episodes])
        actions = np.concatenate([e.actions for e in episodes])
        features, final_features = self._value_features(episodes, observations, actions)
        values, advantages, targets = self._estimate_advantages(episodes, features,
                                                                final_features)
        ev_before = explained_variance(values, targets)
        self.value_rollback.keep_if_finite(
            lambda: self.value_function.fit(features, targets), "the value function's K-FAC fit",
            outputs=lambda: self.value_function.predict(features).numpy())
        ev_after = explained_variance(self.value_function.predict(features).numpy(), targets)
        if self.config.cut_policy_batch:
            rows = self.config.timesteps_per_batch // mpi.world_size()
            observations, actions, advantages = (observations[:rows], actions[:rows],
                                                 advantages[:rows])
        step, stepped = self.policy_rollback.keep_if_finite(
            lambda: self.policy_update.step(observations, actions,
                                            _standardise_over_ranks(advantages)),
            "the policy's K-FAC step")
        step_stats = {key: float(value) if stepped else 0.0 for key, value in step.items()}
        step_stats = dict(zip(step_stats, mpi.allreduce_mean(list(step_stats.values()))))
        stepsize = float(self.policy_optimizer.learning_rate.numpy())
        self._adapt_stepsize(step_stats["KL"] if stepped else float("inf"))  # undone: smaller
        if int(self.progress.iteration) % SYNC_CHECK_EVERY == 0:
            mpi.assert_synced(np.concatenate([flatten(self.policy.trainable_variables),
                                              flatten(self.value_function.trainable_variables)
                                              ]), "parameters")
        return self._log(episodes, step_stats, stepsize, ev_before, ev_after)

    def _value_features(self, episodes: List[Episode], observations, actions):
        """Features [T, feature_dim] of every step and [num_episodes, feature_dim] of every
        episode's final observation pair (whose statistics use a fresh policy sample)."""
        finals = np.stack([e.final_observation for e in episodes]).astype(np.float32)
        statistics = self.policy_update.statistics(observations, actions).numpy()
        final_statistics = self.policy_update.statistics(
            finals, self.policy_update.sample(finals)).numpy()
        step_indices = np.concatenate([np.arange(len(e)) for e in episodes])
        features = value_features(observations, statistics, step_indices)
        final_features = value_features(finals, final_statistics,
                                        np.array([len(e) for e in episodes]))
        return features, final_features

    def _estimate_advantages(self, episodes: List[Episode], features, final_features):
        """Values [T], GAE advantages [T] and value targets [T] (discounted returns; a
        truncated episode bootstraps from the value of its final observation, unless
        `bootstrap_truncation` is off: then it ends as a terminated one does)."""
        values = self.value_function.predict(features).numpy().astype(np.float64)
        final_values = self.value_function.predict(final_features).numpy().astype(np.float64)
        ends = np.cumsum([len(e) for e in episodes]) - 1  # index of each episode's last step
        next_values = np.append(values[1:], 0.0)
        next_values[ends] = final_values
        episode_ends = np.zeros(len(values), bool)
        episode_ends[ends] = True
        terminated = np.zeros(len(values), bool)
        terminated[ends] = [e.terminated or not self.config.bootstrap_truncation
                            for e in episodes]
        rewards = np.concatenate([e.rewards for e in episodes])
        advantages = gae(rewards, values, next_values, terminated, episode_ends,
                         self.config.gamma, self.config.lam)
        returns = gae(rewards, values, next_values, terminated, episode_ends,
                      self.config.gamma, 1.0) + values
        return values, advantages, returns

    def _adapt_stepsize(self, kl: float) -> None:
        """The policy's learning rate after a step that measured `kl` (`adapted_stepsize`)."""
        rate = self.policy_optimizer.learning_rate
        rate.assign(adapted_stepsize(float(rate.numpy()), kl, self.config.desired_kl,
                                     self.config.min_policy_stepsize,
                                     self.config.max_policy_stepsize))

    def _log(self, episodes, step_stats, stepsize, ev_before, ev_after):
        """EpRewMean and the episode counts over all ranks' episodes; the diagnostics of the
        step averaged over ranks, the explained variances of rank 0's batch."""
        gathered = mpi.allgather([(float(e.rewards.sum()), len(e)) for e in episodes])
        returns = np.array([ret for rank in gathered for ret, _ in rank])
        lengths = np.array([length for rank in gathered for _, length in rank])
        self.progress.add_episodes(returns, lengths)
        self.progress.finish_iteration(int(lengths.sum()) if self.config.timestep_count ==
                                       "collected" else self.config.timesteps_per_batch)
        record = self.logger.record
        record("EpRewMean", returns.mean())
        record("EpRewSEM", returns.std() / np.sqrt(len(returns)))
        record("EpLenMean", lengths.mean())
        record("KL", step_stats["KL"])
        for key in ("entropy", "policy_loss", "vFv"):
            record(key, step_stats[key])
        record("stepsize", stepsize)
        record("EVBefore", ev_before)
        record("EVAfter", ev_after)
        record_counters(record, self.progress, len(returns))
        return self.logger.dump(int(self.progress.timesteps))

    def close(self):
        self.env.close()
        self.logger.close()


def learn(config: ACKTRConfig, run_dir: Optional[str] = None,
          resume: bool = False) -> List[Dict[str, float]]:
    """Trains ACKTR as `config` says and returns every iteration's logged values. With
    run_dir=None a new run directory is created under `config.logdir`; with `resume`,
    `run_dir`'s latest checkpoint is continued (see `runs.training.train`)."""
    return train(ACKTRLearner, config, run_dir, resume)


def adapted_stepsize(rate: float, kl: float, desired_kl: float, lower: float,
                     upper: float) -> float:
    """The original's rule: divide by 1.5 (not below `lower`) if KL > 2 desired_kl, multiply
    by 1.5 (not above `upper`) if KL < desired_kl / 2, else keep."""
    if kl > 2 * desired_kl:
        return max(lower, rate / STEPSIZE_FACTOR)
    if kl < desired_kl / 2:
        return min(upper, rate * STEPSIZE_FACTOR)
    return rate


def make_policy_optimizer(config: ACKTRConfig, policy: Policy) -> KFACOptimizer:
    """The policy's K-FAC optimiser, as `config` sets it."""
    return KFACOptimizer(
        dense_layers(policy), policy.trainable_variables,
        learning_rate=config.policy_stepsize, momentum=config.kfac_momentum,
        clip_kl=config.policy_clip_kl, damping=config.policy_damping,
        stats_decay=config.policy_stats_decay, kfac_update=config.policy_kfac_update,
        cold_iter=config.policy_cold_iter,
        weight_decay_damping=_policy_weight_decay_damping(config), name="policy_kfac")


def value_feature_dim(policy_update: PolicyUpdate, pair_dim: int, act_dim: int) -> int:
    """Width of the value function's input: the observation pair [pair_dim], the policy's
    statistics (`PolicyUpdate.statistics`), the scaled step index and a constant 1
    (`value_function.value_features`)."""
    statistics = policy_update.statistics(tf.zeros([1, pair_dim]), tf.zeros([1, act_dim]))
    return pair_dim + int(statistics.shape[1]) + 2


def make_value_function(config: ACKTRConfig, feature_dim: int) -> KFACValueFunction:
    """ACKTR's value function over `feature_dim` features, its weights seeded from the base
    seed (`value_function_seed`), with its own K-FAC optimiser as `config` sets it."""
    return KFACValueFunction(
        feature_dim, config.vf_hidden_sizes, seed=value_function_seed(config.seed),
        iterations=config.vf_iters, weight_decay=config.vf_weight_decay,
        optimizer_settings=dict(
            learning_rate=config.vf_stepsize, momentum=config.kfac_momentum,
            clip_kl=config.vf_clip_kl, damping=config.vf_damping,
            stats_decay=config.vf_stats_decay, kfac_update=config.vf_kfac_update,
            cold_iter=config.vf_cold_iter,
            weight_decay_damping=config.vf_weight_decay if config.weight_decay_damping
            else 0.0))


def _policy_weight_decay_damping(config: ACKTRConfig) -> float:
    """The policy's `weight_decay_damping` for KFACOptimizer: POLICY_WEIGHT_DECAY when the
    config restores it, for every policy but the flow (whose original declared none)."""
    if config.weight_decay_damping and config.policy.policy != "flow":
        return POLICY_WEIGHT_DECAY
    return 0.0


def _standardise_over_ranks(values: np.ndarray) -> np.ndarray:
    """(values - mean) / (std + 1e-8) with the mean and std of all ranks' values, float32."""
    moments = mpi.allreduce_sum([len(values), values.sum(), np.square(values).sum()])
    count, total, total_sq = moments
    mean = total / count
    std = np.sqrt(max(total_sq / count - mean ** 2, 0.0))
    return ((values - mean) / (std + 1e-8)).astype(np.float32)
