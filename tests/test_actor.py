"""policies.base.CompiledActor: the compiled acting function draws what the policy's own
`sample` draws, for every policy class and batch size, with the packed weights it syncs."""
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies import POLICY_CLASSES, PolicyConfig
from onpolicy_flows.policies.base import CompiledActor
from onpolicy_flows.policies.factory import make_policy

OBS_DIM, ACT_DIM = 5, 3


def _policy(name):
    normalizer = RunningMeanStd(OBS_DIM)
    rng = np.random.default_rng(1)
    normalizer.update(rng.standard_normal((50, OBS_DIM)) * 3.0 + 1.0)
    policy = make_policy(PolicyConfig(policy=name), OBS_DIM, ACT_DIM, normalizer, seed=0,
                         name=name.replace("-", "_"),
                         action_bounds=(-np.ones(ACT_DIM), np.ones(ACT_DIM)))
    for variable in policy.trainable_variables:  # away from the near-identity init
        variable.assign(variable + 0.3 * rng.standard_normal(variable.shape))
    return policy


@pytest.mark.parametrize("name, batch_size",
                         [(name, 3) for name in POLICY_CLASSES] + [("flow", 1)])
def test_actor_draws_what_the_policy_samples(name, batch_size):
    policy = _policy(name)
    actor = CompiledActor(policy, batch_size=batch_size)
    actor.sync()
    observations = np.random.default_rng(2).standard_normal(
        (batch_size, OBS_DIM)).astype(np.float32)
    # XLA's random normals are not TensorFlow kernels' draws from the same seed, so the
    # reference samples are compiled with XLA too (in the usual forms of the networks).
    sample = tf.function(lambda obs: policy.sample(obs)[0], jit_compile=True)
    policy.noise.reset_from_seed(7)
    expected = [sample(tf.constant(observations)).numpy() for _ in range(2)]
    policy.noise.reset_from_seed(7)
    drawn = [actor(observations) for _ in range(2)]
    np.testing.assert_allclose(drawn, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(drawn[0], drawn[1])  # the noise stream advances

    deterministic = CompiledActor(policy, batch_size=batch_size, deterministic=True)
    deterministic.sync()
    np.testing.assert_allclose(deterministic(observations),
                               policy.deterministic_action(tf.constant(observations)).numpy(),
                               rtol=1e-5, atol=1e-5)


def test_actor_acts_with_the_weights_of_its_last_sync():
    policy = _policy("flow")
    actor = CompiledActor(policy, deterministic=True)
    actor.sync()
    observations = np.ones((1, OBS_DIM), np.float32)
    before = actor(observations)
    for variable in policy.trainable_variables:
        variable.assign(variable * 1.5)
    np.testing.assert_array_equal(actor(observations), before)
    actor.sync()
    np.testing.assert_allclose(actor(observations),
                               policy.deterministic_action(tf.constant(observations)).numpy(),
                               rtol=1e-5, atol=1e-5)
    assert not np.allclose(actor(observations), before)
