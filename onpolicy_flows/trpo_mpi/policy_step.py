"""One TRPO policy update: natural-gradient direction by conjugate gradient on
Fisher-vector products, scaled to the KL radius, then a backtracking line search.

Port of the update in baselines' `trpo_mpi.learn` (and the original's `trpo_implicit.py`).
Gradients and Fisher-vector products are averaged over MPI ranks, so every rank takes the
same step.
"""
import functools
from dataclasses import dataclass
from typing import Dict

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.cg import conjugate_gradient
from onpolicy_flows.common.flat_params import FlatParameters, flatten
from onpolicy_flows.policies.base import Policy

ZERO = tf.UnconnectedGradients.ZERO  # e.g. the Gaussian's entropy ignores its mean net
LOSS_NAMES = ("optimgain", "meankl", "entloss", "surrgain", "entropy")


@dataclass
class PolicyBatch:
    """One iteration's data on this rank: observations [T, obs_dim], actions [T, act_dim],
    standardised advantages [T], all float32."""
    observations: np.ndarray
    actions: np.ndarray
    advantages: np.ndarray

    def subsample(self, every: int) -> "PolicyBatch":
        return PolicyBatch(self.observations[::every], self.actions[::every],
                           self.advantages[::every])


class TRPOObjective:
    """The surrogate, KL and entropy written once; their gradient, the Fisher-vector product
    and the line search all use `_losses`. Compiled for batches of any size."""

    def __init__(self, policy: Policy, old_policy: Policy, entcoeff: float):
        self.policy = policy
        self.old_policy = old_policy
        self.entcoeff = entcoeff
        self.params = FlatParameters(policy.trainable_variables)
        self.old_params = FlatParameters(old_policy.trainable_variables)
        batch = [tf.TensorSpec([None, policy.obs_dim], tf.float32),
                 tf.TensorSpec([None, policy.act_dim], tf.float32),
                 tf.TensorSpec([None], tf.float32)]
        vector = tf.TensorSpec([self.params.size], tf.float32)
        self.losses = tf.function(self._losses, input_signature=batch)
        self.line_search_losses = tf.function(
            functools.partial(self._losses, with_entropy=entcoeff != 0), input_signature=batch)
        self.losses_and_gradient = tf.function(self._losses_and_gradient, input_signature=batch)
        self.fisher_vector_product = tf.function(self._fisher_vector_product,
                                                 input_signature=batch[:2] + [vector])

    def _losses(self, observations, actions, advantages, with_entropy=True):
        """[5] float32: optimgain, meankl, entloss, surrgain, entropy (LOSS_NAMES).

        The flow's and GMM's entropy is a 10-sample estimate, the costliest term; with a zero
        entropy coefficient the line search skips it (with_entropy=False: entropy reads 0).
        """
        log_ratio = (self.policy.log_prob(observations, actions)
                     - self.old_policy.log_prob(observations, actions))
        surrgain = tf.reduce_mean(tf.exp(log_ratio) * advantages)
        meankl = tf.reduce_mean(self.policy.kl(self.old_policy, observations, actions))
        entropy = tf.constant(0.0)
        if with_entropy:
            entropy = tf.reduce_mean(self.policy.entropy(observations))
        entbonus = self.entcoeff * entropy
        return tf.stack([surrgain + entbonus, meankl, entbonus, surrgain, entropy])

    def _losses_and_gradient(self, observations, actions, advantages):
        with tf.GradientTape() as tape:
            losses = self._losses(observations, actions, advantages)
            optimgain = losses[0]
        gradient = tape.gradient(optimgain, self.params.variables, unconnected_gradients=ZERO)
        return losses, flatten(gradient)

    def _fisher_vector_product(self, observations, actions, vector):
        """Hessian of the mean KL at the current parameters times `vector` [num_params]."""
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                meankl = tf.reduce_mean(self.policy.kl(self.old_policy, observations, actions))
            kl_gradient = flatten(inner.gradient(meankl, self.params.variables,
                                                  unconnected_gradients=ZERO))
            gradient_dot_vector = tf.reduce_sum(kl_gradient * vector)
        return flatten(outer.gradient(gradient_dot_vector, self.params.variables,
                                      unconnected_gradients=ZERO))

    def mean_losses(self, batch: PolicyBatch, for_line_search: bool = False) -> np.ndarray:
        """LOSS_NAMES averaged over ranks, float64 [5]."""
        losses = self.line_search_losses if for_line_search else self.losses
        return mpi.allreduce_mean(
            losses(batch.observations, batch.actions, batch.advantages).numpy())


@dataclass(frozen=True)
class StepSettings:
    max_kl: float
    cg_iters: int
    cg_damping: float
    fvp_subsample: int
    max_backtracks: int


def trpo_step(objective: TRPOObjective, batch: PolicyBatch, settings: StepSettings,
              log=lambda message: None) -> Dict[str, float]:
    """Updates the policy in place (identically on every rank); returns the logged losses
    after the step (LOSS_NAMES) and `step_accepted` (1 or 0).

    The old policy is set to the current one first, so the KL is measured from the policy
    that collected `batch`. Collective: every rank must call it.
    """
    params_before = objective.params.get()
    objective.old_params.set(params_before)
    local_losses, local_gradient = objective.losses_and_gradient(
        batch.observations, batch.actions, batch.advantages)
    losses_before = mpi.allreduce_mean(local_losses.numpy())
    gradient = mpi.allreduce_mean(local_gradient.numpy())
    fvp_batch = batch.subsample(settings.fvp_subsample)

    def fisher_vector_product(vector):
        local = objective.fisher_vector_product(fvp_batch.observations, fvp_batch.actions,
                                                vector.astype(np.float32)).numpy()
        return mpi.allreduce_mean(local) + settings.cg_damping * vector

    if np.allclose(gradient, 0):
        log("Got zero gradient: not updating")
        return _step_stats(losses_before, accepted=False)
    step_direction = conjugate_gradient(fisher_vector_product, gradient, settings.cg_iters)
    quadratic_kl = 0.5 * step_direction.dot(fisher_vector_product(step_direction))
    if not quadratic_kl > 0:
        # The sample-based KL's Hessian is not guaranteed positive; the original skips too.
        log("Fisher quadratic form is not positive: not updating")
        return _step_stats(losses_before, accepted=False)
    full_step = step_direction / np.sqrt(quadratic_kl / settings.max_kl)
    expected_improvement = gradient.dot(full_step)
    stepsize = 1.0
    for _ in range(settings.max_backtracks):
        objective.params.set((params_before + stepsize * full_step).astype(np.float32))
        losses = objective.mean_losses(batch, for_line_search=True)
        improvement = losses[0] - losses_before[0]
        log(f"Expected: {expected_improvement * stepsize:.3f} Actual: {improvement:.3f}")
        if not np.isfinite(losses).all():
            log("Got non-finite value of losses -- bad!")
        elif losses[1] > 1.5 * settings.max_kl:
            log("violated KL constraint. shrinking step.")
        elif improvement < 0:
            log("surrogate didn't improve. shrinking step.")
        else:
            log("Stepsize OK!")
            return _step_stats(objective.mean_losses(batch), accepted=True)
        stepsize *= 0.5
    log("couldn't compute a good step")
    objective.params.set(params_before)
    return _step_stats(objective.mean_losses(batch), accepted=False)


def _step_stats(losses: np.ndarray, accepted: bool) -> Dict[str, float]:
    stats = dict(zip(LOSS_NAMES, map(float, losses)))
    stats["step_accepted"] = float(accepted)
    return stats
