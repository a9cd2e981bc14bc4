"""One TRPO policy update: natural-gradient direction by conjugate gradient on
Fisher-vector products, scaled to the KL radius, then a backtracking line search.

Port of the update in baselines' `trpo_mpi.learn` (and the original's `trpo_implicit.py`).
Gradients and Fisher-vector products are averaged over MPI ranks, so every rank takes the
same step.
"""
import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.flat_params import FlatParameters, flatten
from onpolicy_flows.common.trace_cache import TracedFunction, build_across_ranks, describe
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.trpo_mpi.cg import conjugate_gradient

ZERO = tf.UnconnectedGradients.ZERO  # e.g. the Gaussian's entropy ignores its mean net
LOSS_NAMES = ("optimgain", "meankl", "entloss", "surrgain", "entropy")
# What the learner may do with a batch whose Fisher quadratic form is not positive: skip the
# policy step only, or drop the whole batch (the original flow runner's `continue`).
NON_POSITIVE_FISHER = ("skip-step", "drop-batch")


FISHER_RULES = ("kl-hessian", "score")


@dataclass
class PolicyBatch:
    """One iteration's data on this rank: observations [T, obs_dim], actions [T, act_dim],
    standardised advantages [T], all float32; `old_log_probs` [T] are log pi_old(a|s) of the
    policy that collected the batch, filled in by `trpo_step`."""
    observations: np.ndarray
    actions: np.ndarray
    advantages: np.ndarray
    old_log_probs: Optional[np.ndarray] = None

    def subsample(self, every: int) -> "PolicyBatch":
        return PolicyBatch(self.observations[::every], self.actions[::every],
                           self.advantages[::every], self.old_log_probs[::every])


class TRPOObjective:
    """The surrogate, KL and entropy written once (`_losses`); the gradient, both
    Fisher-vector products and the line search all use it. Compiled once for batches of any
    size.

    The old policy's log-densities at the collected actions are constants of a step, so they
    enter as data (`old_log_probs`) instead of being recomputed through the old policy's
    network in every call; the old policy itself is only read by closed-form KLs (the
    Gaussian's).

    With `batch_size` (TRPO's batches are always `timesteps_per_batch` steps per rank) the
    functions are traced for that many rows, and the Fisher-vector products for the rows of
    `PolicyBatch.subsample(fvp_subsample)`: with static shapes the gradient graphs need no
    run-time shape arithmetic, which makes the flow's Fisher-vector product graph a sixth
    smaller, about 1.7x faster to build and faster per call. Without it, any batch size is
    accepted.
    """

    def __init__(self, policy: Policy, old_policy: Policy, entcoeff: float,
                 batch_size: Optional[int] = None, fvp_subsample: int = 1):
        self.policy = policy
        self.old_policy = old_policy
        self.entcoeff = entcoeff
        self.params = FlatParameters(policy.trainable_variables)
        self.old_params = FlatParameters(old_policy.trainable_variables)
        batch = _batch_specs(policy, batch_size)
        fvp_batch = _batch_specs(policy, None if batch_size is None
                                 else len(range(0, batch_size, fvp_subsample)))
        vector = tf.TensorSpec([self.params.size], tf.float32)
        settings = describe((policy, old_policy, entcoeff))
        variables = list({id(v): v for v in policy.variables + old_policy.variables}.values())

        def traced(function, signature):
            return TracedFunction(function, signature, settings, variables,
                                  graph_optimizer=False)
        self.losses = traced(self._losses, batch + batch[2:])
        self.losses_and_gradient = traced(self._losses_and_gradient, batch)
        self.fisher_vector_products = {
            "kl-hessian": traced(self._kl_hessian_vector_product, fvp_batch + [vector]),
            "score": traced(self._score_fisher_vector_product, fvp_batch[:2] + [vector])}

    def build(self, fisher: str) -> None:
        """Collective: traces (or loads) the functions of a step under `fisher` now, each
        traced by one rank of the job where the ranks share the trace cache
        (`trace_cache.build_across_ranks`): a cold start of two ranks on two cores traces
        the flow's in about 60% of the time of one rank tracing all. The `score` rule's
        product cannot be cached (its forward-mode pass calls nested functions), so every
        rank traces its own."""
        shared = [self.losses_and_gradient, self.losses]
        if fisher == "score":
            self.fisher_vector_products[fisher].build()
        else:
            shared.insert(0, self.fisher_vector_products[fisher])
        build_across_ranks(shared)

    def prepare(self, fisher: str) -> Optional[ThreadPoolExecutor]:
        """Builds the step's compiled functions ahead of the first step. Each is traced
        here (or loaded from the trace cache, `common.trace_cache`), then its first call,
        where TensorFlow instantiates the graph (about 1 s of the flow's start-up, in C++
        that releases the GIL), runs on zero-filled inputs on a background thread while the
        next one is built and the first rollout runs, so a free core takes that work off the
        critical path. Two such threads, so that both cores serve the first calls once the
        main thread is done. `shutdown()` the returned executor before the first step (None
        if the batch size is not fixed).

        Only functions that draw no random numbers are called (the losses draw entropy
        samples when entcoeff != 0), their results are discarded (an error is raised again
        by the step's own call), and the parameters are written back unchanged: a run is
        the same with or without this. Nothing may change the policies' parameters until
        the executor is shut down.
        """
        functions = [self.fisher_vector_products[fisher]]
        if self.entcoeff == 0:
            functions += [self.losses_and_gradient, self.losses]
        if functions[0].input_signature[0].shape[0] is None:
            return None
        first_calls = ThreadPoolExecutor(max_workers=2, thread_name_prefix="trpo-prepare")
        for function in functions:
            function.build()
            first_calls.submit(function, *[tf.zeros(spec.shape, spec.dtype)
                                           for spec in function.input_signature])
        for params in (self.params, self.old_params):
            params.trace()
            first_calls.submit(params.rewrite)
        return first_calls

    def _losses(self, observations, actions, advantages, old_log_probs, log_probs=None):
        """[5] float32: optimgain, meankl, entloss, surrgain, entropy (LOSS_NAMES).
        `log_probs` [T] are the current policy's at `actions`, if the caller has them.

        With a zero entropy coefficient the entropy only is logged, and is estimated from
        the batch's own actions (`Policy.entropy_at_actions`) instead of fresh samples
        pushed through the policy (the costliest term of the flow's and GMM's losses).
        """
        if log_probs is None:
            log_probs = self.policy.log_prob(observations, actions)  # [T]
        log_ratio = log_probs - old_log_probs
        surrgain = tf.reduce_mean(tf.exp(log_ratio) * advantages)
        meankl = tf.reduce_mean(self.policy.kl(self.old_policy, observations, actions,
                                               log_ratio))
        if self.entcoeff != 0:
            entropy = tf.reduce_mean(self.policy.entropy(observations))
        else:
            entropy = tf.stop_gradient(tf.reduce_mean(
                self.policy.entropy_at_actions(observations, log_probs, log_ratio)))
        entbonus = self.entcoeff * entropy
        return tf.stack([surrgain + entbonus, meankl, entbonus, surrgain, entropy])

    def _losses_and_gradient(self, observations, actions, advantages):
        """At the parameters that collected the batch: LOSS_NAMES [5], the gradient of
        optimgain [num_params] and log pi(a|s) [T] (the step's `old_log_probs`)."""
        with tf.GradientTape() as tape:
            log_probs = self.policy.log_prob(observations, actions)
            losses = self._losses(observations, actions, advantages,
                                  tf.stop_gradient(log_probs), log_probs)
            optimgain = losses[0]
        gradient = tape.gradient(optimgain, self.params.variables, unconnected_gradients=ZERO)
        return losses, flatten(gradient), log_probs

    def _kl_hessian_vector_product(self, observations, actions, old_log_probs, vector):
        """Hessian of the mean KL estimate at the current parameters times `vector`
        [num_params] (the original's Fisher-vector product: reverse over reverse)."""
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                log_ratio = self.policy.log_prob(observations, actions) - old_log_probs
                meankl = tf.reduce_mean(self.policy.kl(self.old_policy, observations,
                                                       actions, log_ratio))
            kl_gradient = flatten(inner.gradient(meankl, self.params.variables,
                                                 unconnected_gradients=ZERO))
            gradient_dot_vector = tf.reduce_sum(kl_gradient * vector)
        return flatten(outer.gradient(gradient_dot_vector, self.params.variables,
                                      unconnected_gradients=ZERO))

    def _score_fisher_vector_product(self, observations, actions, vector):
        """The sample Fisher of the score vectors times `vector` [num_params]:
        mean_i g_i (g_i . v) with g_i = grad log pi(a_i|s_i), by one forward-mode pass
        (all g_i . v at once) and one reverse pass. Positive semi-definite by construction."""
        tangents = self.params.unflatten(vector)
        with tf.GradientTape() as tape:
            with tf.autodiff.ForwardAccumulator(self.params.variables, tangents) as forward:
                log_probs = self.policy.log_prob(observations, actions)  # [n]
            scores_dot_vector = tf.stop_gradient(forward.jvp(log_probs))  # [n]
            weighted = tf.reduce_mean(log_probs * scores_dot_vector)
        return flatten(tape.gradient(weighted, self.params.variables,
                                     unconnected_gradients=ZERO))

    def fisher_vector_product(self, rule: str, batch: "PolicyBatch",
                              vector: np.ndarray) -> np.ndarray:
        """F v [num_params] on this rank's `batch` under `rule` (FISHER_RULES)."""
        vector = tf.constant(vector, tf.float32)
        if rule == "score":
            product = self.fisher_vector_products[rule](batch.observations, batch.actions,
                                                        vector)
        else:
            product = self.fisher_vector_products[rule](batch.observations, batch.actions,
                                                        batch.old_log_probs, vector)
        return product.numpy()

    def mean_losses(self, batch: PolicyBatch) -> np.ndarray:
        """LOSS_NAMES averaged over ranks, float64 [5]."""
        return mpi.allreduce_mean(self.losses(batch.observations, batch.actions,
                                              batch.advantages, batch.old_log_probs).numpy())


def _batch_specs(policy: Policy, rows: Optional[int]):
    """Specs of observations [rows, obs_dim], actions [rows, act_dim] and one float per row
    [rows] (advantages or log-densities); `rows` None for any number."""
    return [tf.TensorSpec([rows, policy.obs_dim], tf.float32),
            tf.TensorSpec([rows, policy.act_dim], tf.float32),
            tf.TensorSpec([rows], tf.float32)]


@dataclass(frozen=True)
class StepSettings:
    max_kl: float
    cg_iters: int
    cg_damping: float
    fvp_subsample: int
    max_backtracks: int
    fisher: str = "kl-hessian"


def trpo_step(objective: TRPOObjective, batch: PolicyBatch, settings: StepSettings,
              log=lambda message: None) -> Dict[str, float]:
    """Updates the policy in place (identically on every rank); returns the logged losses
    after the step (LOSS_NAMES), `step_accepted` (1 or 0) and `fisher_not_positive` (1 when
    the step was skipped because the Fisher quadratic form of its direction was not
    positive, else 0).

    The old policy is set to the current one first, so the KL is measured from the policy
    that collected `batch`. Collective: every rank must call it.
    """
    params_before = objective.params.get()
    objective.old_params.set(params_before)
    local_losses, local_gradient, old_log_probs = objective.losses_and_gradient(
        batch.observations, batch.actions, batch.advantages)
    batch = dataclasses.replace(batch, old_log_probs=old_log_probs.numpy())
    losses_before = mpi.allreduce_mean(local_losses.numpy())
    gradient = mpi.allreduce_mean(local_gradient.numpy())
    fvp_batch = batch.subsample(settings.fvp_subsample)

    def fisher_vector_product(vector):
        local = objective.fisher_vector_product(settings.fisher, fvp_batch, vector)
        return mpi.allreduce_mean(local) + settings.cg_damping * vector

    if np.allclose(gradient, 0):
        log("Got zero gradient: not updating")
        return _step_stats(losses_before, accepted=False)
    step_direction = conjugate_gradient(fisher_vector_product, gradient, settings.cg_iters)
    quadratic_kl = 0.5 * step_direction.dot(fisher_vector_product(step_direction))
    if not quadratic_kl > 0:
        # The sample-based KL's Hessian is not guaranteed positive; the original skips too.
        log("Fisher quadratic form is not positive: not updating")
        return _step_stats(losses_before, accepted=False, fisher_positive=False)
    full_step = step_direction / np.sqrt(quadratic_kl / settings.max_kl)
    expected_improvement = gradient.dot(full_step)
    stepsize = 1.0
    for _ in range(settings.max_backtracks):
        objective.params.set((params_before + stepsize * full_step).astype(np.float32))
        losses = objective.mean_losses(batch)
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
            return _step_stats(losses, accepted=True)
        stepsize *= 0.5
    log("couldn't compute a good step")
    objective.params.set(params_before)
    return _step_stats(objective.mean_losses(batch), accepted=False)


def _step_stats(losses: np.ndarray, accepted: bool,
                fisher_positive: bool = True) -> Dict[str, float]:
    stats = dict(zip(LOSS_NAMES, map(float, losses)))
    stats["step_accepted"] = float(accepted)
    stats["fisher_not_positive"] = float(not fisher_positive)
    return stats
