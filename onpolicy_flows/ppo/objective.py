"""PPO's clipped loss and the Adam steps on its minibatches (port of the loss and `train`
of ppo2's `Model`).

The policy and the value function are trained together on one loss,
  policy_loss - entcoeff * entropy + vf_coeff * value_loss,
by one MpiAdam over both (gradients averaged over ranks, then clipped to a global norm), so
every rank takes the same steps. Advantages are standardised within each minibatch, as ppo2
does.
"""
from dataclasses import dataclass
from typing import Dict

import numpy as np
import tensorflow as tf

from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.common.mpi_adam import MpiAdam
from onpolicy_flows.common.trace_cache import TracedFunction, describe
from onpolicy_flows.common.value_function import ValueFunction
from onpolicy_flows.policies.base import Policy

LOSS_NAMES = ("policy_loss", "value_loss", "policy_entropy", "approxkl", "clipfrac")
ZERO = tf.UnconnectedGradients.ZERO  # a parameter the loss does not reach: gradient 0


@dataclass
class PPOBatch:
    """One iteration's data on this rank, all float32: observations [T, obs_dim] (raw),
    actions [T, act_dim], GAE advantages [T], TD(lambda) returns [T] (the value targets),
    and the value predictions [T] and log pi_old(a|s) [T] of the networks before the
    update."""
    observations: np.ndarray
    actions: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    values: np.ndarray
    log_probs: np.ndarray


def clipped_losses(log_probs, old_log_probs, advantages, values, old_values, returns,
                   clip_range):
    """ppo2's losses on one minibatch. Every input is [batch] float32 (advantages already
    standardised), clip_range a scalar c. Returns scalars:
      policy_loss = mean(max(-A r, -A clip(r, 1 - c, 1 + c))),  r = pi(a|s) / pi_old(a|s);
      value_loss = 0.5 mean(max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2));
      approxkl = 0.5 mean((log pi - log pi_old)^2);
      clipfrac = the fraction of rows with |r - 1| > c.
    """
    ratio = tf.exp(log_probs - old_log_probs)
    policy_loss = tf.reduce_mean(tf.maximum(
        -advantages * ratio, -advantages * tf.clip_by_value(ratio, 1 - clip_range,
                                                            1 + clip_range)))
    clipped_values = old_values + tf.clip_by_value(values - old_values, -clip_range,
                                                   clip_range)
    value_loss = 0.5 * tf.reduce_mean(tf.maximum(tf.square(values - returns),
                                                 tf.square(clipped_values - returns)))
    approxkl = 0.5 * tf.reduce_mean(tf.square(log_probs - old_log_probs))
    clipfrac = tf.reduce_mean(tf.cast(tf.abs(ratio - 1) > clip_range, tf.float32))
    return policy_loss, value_loss, approxkl, clipfrac


def standardise(values: tf.Tensor) -> tf.Tensor:
    """(values - mean) / (std + 1e-8) over the [batch] axis, as ppo2 treats each
    minibatch's advantages."""
    return (values - tf.reduce_mean(values)) / (tf.math.reduce_std(values) + 1e-8)


class PPOUpdate:
    """The update of an iteration: Adam steps on the loss of `policy` and `value_function`,
    one compiled call per minibatch."""

    def __init__(self, policy: Policy, value_function: ValueFunction, optimizer: MpiAdam,
                 entcoeff: float, vf_coeff: float):
        self.policy = policy
        self.value_function = value_function
        self.optimizer = optimizer
        self.entcoeff = entcoeff
        self.vf_coeff = vf_coeff
        rows = tf.TensorSpec([None], tf.float32)
        batch = [tf.TensorSpec([None, policy.obs_dim], tf.float32),
                 tf.TensorSpec([None, policy.act_dim], tf.float32)]
        settings = describe((policy, value_function, optimizer, entcoeff, vf_coeff))
        variables = [*policy.variables, policy.noise.state, *value_function.variables,
                     *optimizer.variables]
        self.log_probs_at = TracedFunction(policy.log_prob, batch, settings, variables)
        self._step = TracedFunction(
            self._minibatch_step,
            batch + [rows] * 4 + [tf.TensorSpec([], tf.float64), tf.TensorSpec([], tf.float32)],
            settings, variables)
        self.compiled_functions = (self.log_probs_at, self._step)

    def losses(self, observations, actions, advantages, returns, old_values, old_log_probs,
               clip_range):
        """(loss to minimise, [5] LOSS_NAMES) on one minibatch of raw rows [batch, ...];
        the advantages are standardised here.

        With a zero entropy coefficient the entropy is only logged, and is estimated from
        the minibatch's own actions (`Policy.entropy_at_actions`: the closed form where
        there is one) instead of fresh samples pushed through the policy."""
        log_probs = self.policy.log_prob(observations, actions)  # [batch]
        values = self.value_function(observations)  # [batch]
        policy_loss, value_loss, approxkl, clipfrac = clipped_losses(
            log_probs, old_log_probs, standardise(advantages), values, old_values, returns,
            clip_range)
        if self.entcoeff != 0:
            entropy = tf.reduce_mean(self.policy.entropy(observations))
        else:
            entropy = tf.stop_gradient(tf.reduce_mean(self.policy.entropy_at_actions(
                observations, log_probs, log_probs - old_log_probs)))
        loss = policy_loss - self.entcoeff * entropy + self.vf_coeff * value_loss
        return loss, tf.stack([policy_loss, value_loss, entropy, approxkl, clipfrac])

    def run(self, batch: PPOBatch, minibatches: np.ndarray, learning_rate: float,
            clip_range: float) -> Dict[str, float]:
        """One Adam step per row of `minibatches` [num_steps, minibatch_size] (row indices
        into `batch`, in order); returns LOSS_NAMES averaged over the steps (on this rank's
        minibatches, each before its step). Collective: every rank must take as many steps."""
        columns = (batch.observations, batch.actions, batch.advantages, batch.returns,
                   batch.values, batch.log_probs)
        learning_rate = tf.constant(learning_rate, tf.float64)
        clip_range = tf.constant(clip_range, tf.float32)
        totals = np.zeros(len(LOSS_NAMES))
        for rows in minibatches:
            totals += self._step(*[column[rows] for column in columns], learning_rate,
                                 clip_range).numpy()
        return dict(zip(LOSS_NAMES, map(float, totals / len(minibatches))))

    def _minibatch_step(self, observations, actions, advantages, returns, values, log_probs,
                        learning_rate, clip_range):
        """One Adam step on a minibatch; returns its LOSS_NAMES [5] before the step."""
        with tf.GradientTape() as tape:
            loss, stats = self.losses(observations, actions, advantages, returns, values,
                                      log_probs, clip_range)
        gradient = tape.gradient(loss, self.optimizer.params.variables,
                                 unconnected_gradients=ZERO)
        self.optimizer.update(flatten(gradient), learning_rate)
        return stats
