"""PPO with MPI workers (port of baselines' ppo2 as the original's `other_baselines/ppo_*`
run it, on an env under baselines' VecNormalize).

Each iteration, on every rank:
  1. collect a segment of `timesteps_per_batch` steps with the current policy;
  2. add its observations to the shared observation statistics, its discounted returns to
     the shared return statistics, and divide its rewards by the return std (clipped); or,
     with `normalizer_updates` per-step (the original's), take what the env wrapper
     normalised and scaled at every step;
  3. estimate advantages with GAE(gamma, lambda) on the scaled rewards, and keep the value
     predictions and log-densities of the networks before the update;
  4. run `epochs` passes over shuffled minibatches, one Adam step on the clipped loss of
     policy and value function each (gradients averaged over ranks, then clipped);
  5. log ppo2's diagnostics with trpo_mpi's episode keys (EpRewMean over the last 100
     episodes of all ranks, ppo2's window).
"""
import time
from typing import Dict, List, Optional

import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.advantages import explained_variance, segment_gae
from onpolicy_flows.common.errors import AgreedError
from onpolicy_flows.common.minibatches import minibatch_indices
from onpolicy_flows.common.mpi_adam import MpiAdam
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
from onpolicy_flows.ppo.config import PPOConfig
from onpolicy_flows.ppo.objective import PPOBatch, PPOUpdate
from onpolicy_flows.ppo.vec_normalize import (
    ReturnNormalizer,
    StepNormalization,
    observation_normalizer,
)
from onpolicy_flows.runs.logger import Logger
from onpolicy_flows.runs.progress import (
    Progress,
    count_segment_iteration,
    record_progress,
)
from onpolicy_flows.runs.rollback import Rollback
from onpolicy_flows.runs.training import train

EPISODE_WINDOW = 100  # EpRewMean / EpLenMean average the last 100 episodes (ppo2's epinfobuf)
SYNC_CHECK_EVERY = 20  # iterations between checks that all ranks hold the same parameters


class PPOLearner:
    """Everything one rank holds: envs, observation and return normalisers, policy, value
    function, their Adam, counters. `learn` runs it under `runs.training.train`, one
    `iterate()` per iteration."""

    def __init__(self, config: PPOConfig, run_dir: Optional[str], env=None):
        """`env` replaces the monitored training envs (e.g. one that renders, for replays)."""
        configure_tensorflow_threads(1)
        self.config = config
        self.rank = mpi.rank()
        self.seed = rank_seed(config.seed, self.rank)
        seed_everything(self.seed)
        self.envs = [env] if env is not None else make_rank_envs(config, self.rank, run_dir)
        self.env = self.envs[0]
        obs_dim, act_dim = space_dims(self.env)
        self.obs_normalizer = observation_normalizer(obs_dim, config.obs_clip)
        self.return_normalizer = ReturnNormalizer(len(self.envs), config.gamma,
                                                  config.reward_clip,
                                                  config.reset_running_return)
        self.per_step = config.normalizer_updates == "per-step"
        if self.per_step and env is None:  # training envs normalise what the networks see
            self.envs = [StepNormalization(self.env, self.obs_normalizer,
                                           self.return_normalizer)]
        # Per batch, the networks normalise raw observations themselves; per step, the envs.
        network_normalizer = None if self.per_step else self.obs_normalizer
        box = (self.env.action_space.low, self.env.action_space.high)  # for bounded policies
        # Same initial weights on every rank (seeded by the base seed), broadcast anyway.
        self.policy = make_policy(config.policy, obs_dim, act_dim, network_normalizer,
                                  seed=config.seed, name="policy", action_bounds=box)
        self.policy.noise.reset_from_seed(self.seed)  # but each rank samples its own noise
        self.value_function = ValueFunction(obs_dim, network_normalizer,
                                            config.vf_hidden_sizes,
                                            seed=value_function_seed(config.seed))
        self.optimizer = MpiAdam(
            [*self.policy.trainable_variables, *self.value_function.trainable_variables],
            epsilon=config.adam_epsilon, max_grad_norm=config.max_grad_norm)
        self.update = PPOUpdate(self.policy, self.value_function, self.optimizer,
                                config.entcoeff, config.vf_coeff)
        self.minibatch_rng = np.random.default_rng(self.seed)
        self.collector = SegmentCollector(
            self.envs, CompiledActor(self.policy, batch_size=len(self.envs)),
            config.timesteps_per_batch // len(self.envs))
        self.logger = Logger(run_dir, enabled=mpi.is_root())
        self.update_rollback = Rollback(
            self.policy.trainable_variables + self.value_function.trainable_variables
            + self.optimizer.variables, self.logger.log)
        self.progress = Progress(window=EPISODE_WINDOW)
        self.optimizer.sync()  # rank 0's initial policy and value function on every rank
        self._compile_ahead = mpi.has_spare_core()

    def checkpoint_objects(self) -> dict:
        """What a checkpoint holds."""
        return dict(policy=self.policy, value_function=self.value_function,
                    optimizer=self.optimizer, obs_normalizer=self.obs_normalizer,
                    return_normalizer=self.return_normalizer, progress=self.progress)

    def after_restore(self) -> None:
        """Every rank restored rank 0's state: give each its own noise stream again."""
        self.minibatch_rng = reseed_after_resume(self.policy, self.seed,
                                                 int(self.progress.iteration))

    def evaluation_actor(self, deterministic: bool):
        """Raw env observation [obs_dim] -> env action [act_dim], for replays (normalised with
        the saved statistics, not updating them, where the envs normalised per step)."""
        act = raw_observation_actor(self.policy, deterministic)
        if not self.per_step:
            return act
        normalize = self.obs_normalizer.normalize
        return lambda observation: act(normalize(np.asarray(observation, np.float32)[None])
                                       .numpy()[0])

    def iterate(self) -> Dict[str, float]:
        """One PPO iteration: collect, normalise, estimate advantages, minibatch epochs, log."""
        started = time.time()
        if self._compile_ahead:  # the actor compiles on a spare core while the update traces
            self.collector.actor.compile_while_tracing(self.update.compiled_functions)
            self._compile_ahead = False
        segment = self.collector.collect()
        if self.per_step:  # the envs normalised and scaled every step
            rewards = segment.rewards
        else:
            self.obs_normalizer.update(Segment.flat(segment.observations))
            rewards = self.return_normalizer.scale(segment.rewards, segment.episode_ends)
        batch = self._batch(segment, rewards)
        losses, _ = self.update_rollback.keep_if_finite(
            lambda: self.update.run(batch, self._minibatches(), self.config.learning_rate,
                                    self.config.clip_range),
            "the PPO update")
        if int(self.progress.iteration) % SYNC_CHECK_EVERY == 0:
            mpi.assert_synced(self.optimizer.params.get(), "parameters")
        return self._log(segment, losses, explained_variance(batch.values, batch.returns),
                         started)

    def _batch(self, segment: Segment, rewards: np.ndarray) -> PPOBatch:
        """The update's data from a segment and its scaled rewards [N, S]: GAE advantages,
        TD(lambda) returns, and the value predictions and log-densities before the update
        (all with the statistics just updated, which the update's networks see too)."""
        values, returns, advantages = segment_gae(
            segment, rewards, self.value_function.predict, self.config.gamma,
            self.config.lam, self.config.bootstrap_truncation)
        observations = Segment.flat(segment.observations)  # [T, obs_dim]
        actions = Segment.flat(segment.actions)  # [T, act_dim]
        log_probs = self.update.log_probs_at(observations, actions).numpy()
        return PPOBatch(observations, actions, advantages.astype(np.float32),
                        returns.astype(np.float32), values.astype(np.float32), log_probs)

    def _minibatches(self) -> np.ndarray:
        """[epochs * num_minibatches, minibatch_size] row indices: a fresh shuffle of the
        batch for every epoch."""
        config = self.config
        return np.stack([rows for _ in range(config.epochs)
                         for rows in minibatch_indices(config.timesteps_per_batch,
                                                       config.minibatch_size,
                                                       self.minibatch_rng)])

    def _log(self, segment: Segment, losses: Dict[str, float], ev_before: float,
             started: float) -> Dict[str, float]:
        episodes_this_iteration = count_segment_iteration(self.progress, segment)
        losses = dict(zip(losses, mpi.allreduce_mean(list(losses.values()))))
        for name, value in losses.items():
            self.logger.record(name, value)
        self.logger.record("explained_variance", ev_before)
        self.logger.record("fps", segment.num_steps * mpi.world_size() /
                           (time.time() - started))
        record_progress(self.logger.record, self.progress, episodes_this_iteration)
        return self.logger.dump(int(self.progress.timesteps))

    def close(self):
        for env in self.envs:
            env.close()
        self.logger.close()


def learn(config: PPOConfig, run_dir: Optional[str] = None,
          resume: bool = False) -> List[Dict[str, float]]:
    """Trains PPO as `config` says and returns every iteration's logged values. With
    run_dir=None a new run directory is created under `config.logdir`; with `resume`,
    `run_dir`'s latest checkpoint is continued (see `runs.training.train`)."""
    if config.normalizer_updates == "per-step" and mpi.world_size() > 1:  # before a run dir
        raise AgreedError("--normalizer-updates per-step is single-process, as the original's "
                          "VecNormalize: run PPO without mpirun")
    return train(PPOLearner, config, run_dir, resume)
