import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.gaussian import GaussianPolicy


def _two_gaussians():
    old = GaussianPolicy(4, 3, None, seed=0, mean_init_scale=1.0)
    new = GaussianPolicy(4, 3, None, seed=1, mean_init_scale=1.0)
    new.log_std.assign([-0.3, 0.2, 0.1])
    return old, new


def test_analytic_kl_matches_monte_carlo():
    old, new = _two_gaussians()
    observations = tf.random.stateless_normal([3, 4], seed=[1, 2])
    many = tf.repeat(observations, 20000, axis=0)
    actions, _ = old.sample(many)
    sample_kl = Policy.kl(new, old, many, actions).numpy().reshape(3, -1).mean(axis=1)
    analytic = new.kl(old, observations, None).numpy()
    np.testing.assert_allclose(sample_kl, analytic, rtol=0.1, atol=0.01)
    assert (analytic > 0.01).all()


def test_analytic_entropy_matches_monte_carlo_and_closed_form():
    _, policy = _two_gaussians()
    observations = tf.random.stateless_normal([2, 4], seed=[3, 4])
    closed_form = 0.5 * 3 * np.log(2 * np.pi * np.e) + policy.log_std.numpy().sum()
    np.testing.assert_allclose(policy.entropy(observations).numpy(), closed_form, rtol=1e-5)
    many = tf.repeat(observations, 20000, axis=0)
    actions, log_probs = policy.sample(many)
    np.testing.assert_allclose(-log_probs.numpy().mean(), closed_form, rtol=0.02)


def test_samples_have_the_policy_mean_and_std():
    policy = GaussianPolicy(4, 2, None, seed=0, mean_init_scale=1.0)
    policy.log_std.assign([np.log(0.5), np.log(2.0)])
    observations = tf.zeros([50000, 4]) + [[0.1, -0.2, 0.3, 0.4]]
    actions, _ = policy.sample(observations)
    mean = policy.deterministic_action(observations[:1]).numpy()[0]
    np.testing.assert_allclose(actions.numpy().mean(axis=0), mean, atol=0.03)
    np.testing.assert_allclose(actions.numpy().std(axis=0), [0.5, 2.0], rtol=0.02)


def test_a_fixed_log_std_is_not_trainable_and_keeps_std_one():
    policy = GaussianPolicy(4, 3, None, seed=0, log_std="fixed")
    assert all(variable is not policy.log_std for variable in policy.trainable_variables)
    assert len(policy.trainable_variables) == len(policy.mean_net.trainable_variables)
    observations = tf.zeros([2, 4])
    np.testing.assert_allclose(policy.distribution(observations).stddev().numpy(), 1.0)


def _learner(algorithm: str, policy_config):
    """A learner of `algorithm` on InvertedPendulum-v4 with small batches."""
    if algorithm == "trpo":
        from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner
        return TRPOLearner(TRPOConfig(env="InvertedPendulum-v4", timesteps_per_batch=512,
                                      policy=policy_config), run_dir=None)
    if algorithm == "acktr":
        from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
        return ACKTRLearner(ACKTRConfig(env="InvertedPendulum-v4", timesteps_per_batch=300,
                                        policy=policy_config), run_dir=None)
    from onpolicy_flows.ppo import PPOConfig, PPOLearner
    return PPOLearner(PPOConfig(env="InvertedPendulum-v4", timesteps_per_batch=256,
                                num_minibatches=4, policy=policy_config), run_dir=None)


@pytest.mark.parametrize("algorithm", ["trpo", "acktr", "ppo"])
def test_every_learner_keeps_a_fixed_std_at_one_and_trains_the_mean(algorithm):
    config = PolicyConfig(policy="gaussian", hidden_sizes=(16,), log_std="fixed")
    learner = _learner(algorithm, config)
    learner.logger.enabled = False
    before = [variable.numpy().copy() for variable in learner.policy.mean_net.variables]
    for _ in range(3):  # ACKTR's first iteration is its cold start; then K-FAC steps
        learner.iterate()
    after = [variable.numpy() for variable in learner.policy.mean_net.variables]
    learner.close()
    np.testing.assert_array_equal(learner.policy.log_std.numpy(), 0.0)
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))


def test_only_gaussian_policies_take_a_fixed_log_std():
    with pytest.raises(UserError, match="--log-std fixed applies to"):
        PolicyConfig(policy="flow", log_std="fixed")
