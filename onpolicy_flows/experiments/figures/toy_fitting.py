"""Our policies as plain 2-D distributions, and the small optimiser that fits them, for the
toy problems of Figures 1 and 2.

A policy with obs_dim 1 and no observation normaliser, always fed the same observation
(CONSTANT_OBSERVATION), is a distribution over R^2. Expectations under it use reparameterised
samples (`pathwise_samples`): the Gaussian's and the flow's own samples, and for the GMM,
whose mixture sampling is not reparameterised, an equal number of reparameterised samples from
EACH component. With the GMM's fixed equal weights 1/K, the mean over these stratified samples
is an unbiased estimate of the mixture expectation whose pathwise gradient flows through the
component means and scales.
"""
from typing import Callable, List

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.factory import make_policy

tfd = tfp.distributions

ACTION_DIM = 2
CONSTANT_OBSERVATION = tf.ones([1, 1])  # [batch 1, obs_dim 1]; ones, so first layers get gradients
TOY_POLICIES = {
    "gaussian": PolicyConfig(policy="gaussian"),
    "gmm": PolicyConfig(policy="gmm", num_components=4),
    "flow": PolicyConfig(policy="flow", num_layers=4, num_units=16),
}


def make_toy_policy(kind: str, seed: int, init_noise: float = 0.0) -> Policy:
    """A 2-D distribution of class `kind` (see TOY_POLICIES); with init_noise > 0 every weight
    is perturbed by N(0, init_noise^2) noise, for the paper's "randomly initialised"
    distributions."""
    policy = make_policy(TOY_POLICIES[kind], obs_dim=1, act_dim=ACTION_DIM,
                         obs_normalizer=None, seed=seed, name=f"toy_{kind}")
    rng = np.random.default_rng(seed)
    for variable in policy.trainable_variables:
        variable.assign_add(init_noise * rng.standard_normal(variable.shape).astype(np.float32))
    return policy


def distribution(policy: Policy) -> tfd.Distribution:
    """The policy at the constant observation: batch [1], event [2]."""
    return policy.distribution(CONSTANT_OBSERVATION)


def pathwise_samples(policy: Policy, num_samples: int) -> tf.Tensor:
    """[num_samples, 1, 2] reparameterised samples (stratified over the GMM's components)."""
    dist = distribution(policy)
    if isinstance(dist, tfd.MixtureSameFamily):
        components = dist.components_distribution  # batch [1, K], event [2]
        num_components = components.batch_shape[-1]
        per_component = components.sample(-(-num_samples // num_components),
                                          seed=policy.next_seed())  # [n/K, 1, K, 2]
        stacked = tf.transpose(per_component, [0, 2, 1, 3])  # [n/K, K, 1, 2]
        return tf.reshape(stacked, [-1, 1, ACTION_DIM])[:num_samples]
    return dist.sample(num_samples, seed=policy.next_seed())


def samples(policy: Policy, num_samples: int) -> np.ndarray:
    """[num_samples, 2] draws from the policy (for plots and statistics)."""
    return distribution(policy).sample(num_samples, seed=policy.next_seed())[:, 0].numpy()


def log_density(policy: Policy, points: tf.Tensor) -> tf.Tensor:
    """log pi(points), points [n, 2] -> [n]."""
    return distribution(policy).log_prob(points[:, None, :])[:, 0]


def entropy_estimate(policy: Policy, num_samples: int) -> tf.Tensor:
    """-mean log pi(a) over pathwise samples: a differentiable entropy estimate (scalar)."""
    actions = pathwise_samples(policy, num_samples)  # [n, 1, 2]
    return -tf.reduce_mean(distribution(policy).log_prob(actions))


class Adam:
    """Adam (Kingma & Ba) over a fixed list of variables; a few lines instead of Keras. The
    step size decays geometrically by `decay` per step.

    The moments are kept as two flat vectors [num_weights], so a traced step has a handful of
    ops per variable instead of a dozen: the flow has ~170 variables, and building and
    optimising its graph, not running it, is most of the cost of a toy fit.
    """

    def __init__(self, variables: List[tf.Variable], learning_rate: float, decay: float = 1.0,
                 beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8):
        self.variables = variables
        self.learning_rate, self.decay, self.beta1, self.beta2, self.epsilon = (
            learning_rate, decay, beta1, beta2, epsilon)
        self.sizes = [int(np.prod(variable.shape)) for variable in variables]
        self.first = tf.Variable(tf.zeros([sum(self.sizes)]))
        self.second = tf.Variable(tf.zeros([sum(self.sizes)]))
        self.step = tf.Variable(0.0)

    def apply(self, gradients: List[tf.Tensor]) -> None:
        gradient = tf.concat([tf.reshape(g, [-1]) for g in gradients], 0)  # [num_weights]
        self.step.assign_add(1.0)
        correction = tf.sqrt(1.0 - self.beta2 ** self.step) / (1.0 - self.beta1 ** self.step)
        step_size = self.learning_rate * self.decay ** self.step * correction
        first = self.first.assign(self.beta1 * self.first + (1.0 - self.beta1) * gradient)
        second = self.second.assign(
            self.beta2 * self.second + (1.0 - self.beta2) * tf.square(gradient))
        update = step_size * first / (tf.sqrt(second) + self.epsilon)  # [num_weights]
        for variable, piece in zip(self.variables, tf.split(update, self.sizes)):
            variable.assign_sub(tf.reshape(piece, variable.shape))


def compiled_adam_step(policy: Policy, loss: Callable[[], tf.Tensor],
                       optimiser: Adam) -> Callable[[], tf.Tensor]:
    """A graph function that takes one `optimiser` step on `loss()` and returns the loss
    before the step. Not XLA-compiled: compiling the flow's gradient takes ~20 s on one core,
    longer than the thousand steps it would speed up."""
    variables = list(policy.trainable_variables)

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            value = loss()
        gradients = tape.gradient(value, variables,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        optimiser.apply(gradients)
        return value

    return step


def minimise(policy: Policy, loss: Callable[[], tf.Tensor], steps: int,
             learning_rate: float = 5e-2, final_learning_rate: float = 1e-4) -> float:
    """Runs `steps` Adam steps on `loss()` (a scalar of the policy's weights), the step size
    decaying geometrically from `learning_rate` to `final_learning_rate`; returns the last
    loss."""
    optimiser = Adam(list(policy.trainable_variables), learning_rate,
                     decay=(final_learning_rate / learning_rate) ** (1.0 / steps))
    step = compiled_adam_step(policy, loss, optimiser)
    value = None
    for _ in range(steps):
        value = step()
    return float(value)


def descend_to_level(policy: Policy, objective: Callable[[], tf.Tensor], level: float,
                     learning_rate: float, max_steps: int, bisections: int = 40) -> int:
    """Adam steps on a deterministic `objective()` until it first drops to `level` or below,
    then bisects along that last step (the segment between the weights before it, above the
    level, and after it, at or below) so that the policy ends on the level set, just inside.
    Returns the number of Adam steps; raises RuntimeError if the level is not reached within
    `max_steps`."""
    variables = list(policy.trainable_variables)
    step = compiled_adam_step(policy, objective, Adam(variables, learning_rate))
    value = tf.function(objective, autograph=False)
    for steps in range(1, max_steps + 1):
        before = [variable.numpy() for variable in variables]
        step()
        if float(value()) <= level:
            break
    else:
        raise RuntimeError(f"objective still {float(value()):.4g} > {level} after "
                           f"{max_steps} steps")
    after = [variable.numpy() for variable in variables]

    def move_to(fraction: float) -> float:
        for variable, start, end in zip(variables, before, after):
            variable.assign(start + fraction * (end - start))
        return float(value())

    above, below = 0.0, 1.0  # fractions of the last step with objective > level, <= level
    for _ in range(bisections):
        middle = 0.5 * (above + below)
        if move_to(middle) > level:
            above = middle
        else:
            below = middle
    move_to(below)
    return steps
