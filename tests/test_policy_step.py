"""The TRPO step's pieces against explicit linear algebra: both Fisher-vector products, the
step's size, and the paths that leave the policy unchanged."""
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.policies.flow import FlowPolicy
from onpolicy_flows.policies.gaussian import GaussianPolicy
from onpolicy_flows.policies.gmm import GMMPolicy
from onpolicy_flows.trpo_mpi.policy_step import (
    PolicyBatch,
    StepSettings,
    TRPOObjective,
    trpo_step,
)

OBS_DIM, ACT_DIM = 3, 2


def _pair(kind, seed=0, layer_norm_hessian="exact"):
    """A policy with weights redrawn away from the near-identity init, and its old copy."""
    def build(name):
        if kind == "gaussian":
            return GaussianPolicy(OBS_DIM, ACT_DIM, None, seed, hidden_sizes=(4,), name=name)
        if kind == "gmm":
            return GMMPolicy(OBS_DIM, ACT_DIM, None, seed, num_components=2,
                             hidden_sizes=(4,), name=name)
        return FlowPolicy(OBS_DIM, ACT_DIM, None, seed, num_layers=1,
                          layer_norm_hessian=layer_norm_hessian, name=name)
    policy, old = build("policy"), build("old")
    rng = np.random.default_rng(seed)
    for variable in policy.trainable_variables:
        variable.assign(0.3 * rng.standard_normal(variable.shape).astype(np.float32))
    objective = TRPOObjective(policy, old, entcoeff=0.0)
    objective.old_params.set(objective.params.get())
    return policy, objective


def _batch(policy, size=12, seed=1):
    rng = np.random.default_rng(seed)
    observations = rng.standard_normal((size, OBS_DIM)).astype(np.float32)
    actions = policy.sample(observations)[0].numpy()
    advantages = rng.standard_normal(size).astype(np.float32)
    old_log_probs = policy.log_prob(observations, actions).numpy()
    return PolicyBatch(observations, actions, advantages, old_log_probs)


def _mean_kl(objective, batch):
    log_ratio = objective.policy.log_prob(batch.observations, batch.actions) \
        - batch.old_log_probs
    return tf.reduce_mean(objective.policy.kl(objective.old_policy, batch.observations,
                                              batch.actions, log_ratio))


def _explicit_kl_hessian(objective, batch) -> np.ndarray:
    """[P, P] Hessian of the mean KL estimate, by differentiating its gradient per entry."""
    variables = objective.params.variables
    with tf.GradientTape(persistent=True) as outer:
        with tf.GradientTape() as inner:
            kl = _mean_kl(objective, batch)
        gradient = flatten(inner.gradient(kl, variables,
                                          unconnected_gradients=tf.UnconnectedGradients.ZERO))
    hessian = outer.jacobian(gradient, variables, experimental_use_pfor=False,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return np.concatenate([tf.reshape(block, [gradient.shape[0], -1]).numpy()
                           for block in hessian], axis=1)


def _explicit_scores(objective, batch) -> np.ndarray:
    """[n, P]: the gradient of each sample's log-density."""
    with tf.GradientTape() as tape:
        log_probs = objective.policy.log_prob(batch.observations, batch.actions)
    jacobian = tape.jacobian(log_probs, objective.params.variables,
                             unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return np.concatenate([tf.reshape(block, [len(batch.actions), -1]).numpy()
                           for block in jacobian], axis=1)


@pytest.mark.parametrize("kind", ["gaussian", "gmm"])
def test_kl_hessian_vector_product_equals_the_explicit_hessian(kind):
    policy, objective = _pair(kind)
    batch = _batch(policy)
    hessian = _explicit_kl_hessian(objective, batch)
    vector = np.random.default_rng(2).standard_normal(objective.params.size)
    product = objective.fisher_vector_product("kl-hessian", batch, vector)
    np.testing.assert_allclose(product, hessian @ vector, rtol=1e-3,
                               atol=1e-4 * np.abs(hessian @ vector).max())
    assert np.abs(product).max() > 1e-3


def _product_and_finite_differences(objective, batch):
    """The flow's kl-hessian product with a unit vector, and central differences of the KL
    gradient along it (the flow is too large for an explicit Hessian)."""
    vector = np.random.default_rng(3).standard_normal(objective.params.size)
    vector /= np.linalg.norm(vector)
    base = objective.params.get().astype(np.float64)

    def kl_gradient(params):
        objective.params.set(params.astype(np.float32))
        with tf.GradientTape() as tape:
            kl = _mean_kl(objective, batch)
        return flatten(tape.gradient(kl, objective.params.variables,
                                     unconnected_gradients=tf.UnconnectedGradients.ZERO)
                       ).numpy().astype(np.float64)

    epsilon = 1e-3
    finite = (kl_gradient(base + epsilon * vector) - kl_gradient(base - epsilon * vector)) \
        / (2 * epsilon)
    objective.params.set(base.astype(np.float32))
    return objective.fisher_vector_product("kl-hessian", batch, vector), finite


def test_flow_kl_hessian_vector_product_equals_finite_differences_of_the_gradient():
    """Exercises second derivatives through LayerNorm."""
    policy, objective = _pair("flow")
    product, finite = _product_and_finite_differences(objective, _batch(policy))
    assert np.linalg.norm(product - finite) < 0.01 * np.linalg.norm(finite)  # 0.2% here


def test_the_original_layer_norm_hessian_changes_second_derivatives_only():
    """--layer-norm-hessian original (the original's LayerNorm, whose variance stops the
    gradient through the mean): the same losses, gradient and log-densities, a
    Fisher-vector product off the finite differences (23% here)."""
    exact_policy, exact = _pair("flow")
    _, original = _pair("flow", layer_norm_hessian="original")
    batch = _batch(exact_policy)
    data = (batch.observations, batch.actions, batch.advantages)
    for a, b in zip(exact.losses_and_gradient(*data), original.losses_and_gradient(*data)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    product, finite = _product_and_finite_differences(original, batch)
    assert np.linalg.norm(product - finite) > 0.05 * np.linalg.norm(finite)


def test_objective_traced_for_the_batch_shape_computes_what_the_any_shape_one_does():
    """TRPO traces its objective for its fixed batch (and its subsampled Fisher batch); the
    numbers must be those of the objective that accepts any batch size."""
    policy, any_shape = _pair("flow")
    fixed_shape = TRPOObjective(policy, any_shape.old_policy, entcoeff=0.0, batch_size=12,
                                fvp_subsample=5)
    batch = _batch(policy)
    fvp_batch = batch.subsample(5)  # 3 of the 12 rows
    vector = np.random.default_rng(4).standard_normal(any_shape.params.size)
    data = (batch.observations, batch.actions, batch.advantages)
    for a, b in zip(any_shape.losses_and_gradient(*data), fixed_shape.losses_and_gradient(*data)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    for rule in ("kl-hessian", "score"):
        np.testing.assert_allclose(any_shape.fisher_vector_product(rule, fvp_batch, vector),
                                   fixed_shape.fisher_vector_product(rule, fvp_batch, vector),
                                   rtol=1e-4, atol=1e-5)
    with pytest.raises((ValueError, TypeError)):  # traced for 12 rows: 11 are refused
        fixed_shape.losses(batch.observations[:11], batch.actions[:11],
                           batch.advantages[:11], batch.old_log_probs[:11])


@pytest.mark.parametrize("kind", ["gaussian", "gmm", "flow"])
def test_score_fisher_vector_product_equals_the_mean_outer_product_of_scores(kind):
    policy, objective = _pair(kind)
    batch = _batch(policy, size=8)
    scores = _explicit_scores(objective, batch).astype(np.float64)  # [n, P]
    vector = np.random.default_rng(4).standard_normal(objective.params.size)
    expected = scores.T @ (scores @ vector) / len(scores)
    product = objective.fisher_vector_product("score", batch, vector)
    np.testing.assert_allclose(product, expected, rtol=1e-3,
                               atol=1e-4 * np.abs(expected).max())
    # positive semi-definite, unlike the sample KL's Hessian
    assert vector @ product >= 0


def _settings(**changes):
    values = dict(max_kl=0.01, cg_iters=40, cg_damping=0.1, fvp_subsample=1,
                  max_backtracks=10)
    values.update(changes)
    return StepSettings(**values)


def test_accepted_full_step_has_the_quadratic_kl_of_max_kl():
    """0.5 s^T (H + damping I) s = max_kl for the step s taken at step size 1."""
    policy, objective = _pair("gaussian")
    batch = _batch(policy, size=64)
    before = objective.params.get().astype(np.float64)
    messages = []
    stats = trpo_step(objective, PolicyBatch(batch.observations, batch.actions,
                                             batch.advantages), _settings(), messages.append)
    assert stats["step_accepted"] == 1 and messages[-1] == "Stepsize OK!"
    assert sum(message.startswith("Expected") for message in messages) == 1  # no halving
    step = objective.params.get().astype(np.float64) - before
    objective.params.set(before.astype(np.float32))
    hessian = _explicit_kl_hessian(objective, batch)
    damped = hessian + 0.1 * np.eye(len(step))
    assert 0.5 * step @ damped @ step == pytest.approx(0.01, rel=1e-3)


def test_failed_line_search_restores_the_old_parameters():
    policy, objective = _pair("flow")
    batch = _batch(policy)
    before = objective.params.get()
    real_losses = objective.mean_losses
    objective.mean_losses = lambda b: real_losses(b) * np.nan  # every trial is non-finite
    stats = trpo_step(objective, batch, _settings(max_backtracks=3))
    np.testing.assert_array_equal(objective.params.get(), before)
    assert stats["step_accepted"] == 0


def test_zero_gradient_and_non_positive_curvature_skip_the_step():
    policy, objective = _pair("gmm")
    before = objective.params.get()
    zero_advantages = _batch(policy)
    zero_advantages.advantages = np.zeros_like(zero_advantages.advantages)
    messages = []
    stats = trpo_step(objective, zero_advantages, _settings(), messages.append)
    assert stats["step_accepted"] == 0 and messages == ["Got zero gradient: not updating"]
    objective.fisher_vector_product = lambda rule, batch, vector: -10.0 * vector
    messages.clear()
    stats = trpo_step(objective, _batch(policy), _settings(), messages.append)
    assert stats["step_accepted"] == 0
    assert messages == ["Fisher quadratic form is not positive: not updating"]
    np.testing.assert_array_equal(objective.params.get(), before)


def test_entropy_at_actions_estimates_the_entropy_of_the_new_policy():
    """-(pi/pi_old) log pi at actions from pi_old, against a fresh-sample estimate of pi's
    entropy (the GMM has no closed form)."""
    policy, objective = _pair("gmm")
    old = objective.old_policy
    observations = np.repeat(np.random.default_rng(5).standard_normal((4, OBS_DIM)), 20000,
                             axis=0).astype(np.float32)
    actions, old_log_probs = old.sample(observations)
    for variable in policy.trainable_variables:  # move pi away from pi_old
        variable.assign_add(0.05 * tf.ones_like(variable))
    log_probs = policy.log_prob(observations, actions)
    estimate = policy.entropy_at_actions(observations, log_probs, log_probs - old_log_probs)
    fresh = -policy.sample(observations)[1]
    np.testing.assert_allclose(estimate.numpy().reshape(4, -1).mean(axis=1),
                               fresh.numpy().reshape(4, -1).mean(axis=1), atol=0.05)


def test_step_with_a_fixed_log_std_is_the_step_without_it_in_the_parameter_vector():
    """The fixed-std Gaussian's step equals the natural-gradient step solved by hand in the
    learned-std Gaussian's parameter space with the log-std's rows and columns removed."""
    def objective_of(log_std):
        build = lambda name: GaussianPolicy(OBS_DIM, ACT_DIM, None, 0, hidden_sizes=(4,),
                                            log_std=log_std, name=name)
        policy, old = build("policy"), build("old")
        rng = np.random.default_rng(0)
        for variable in policy.mean_net.trainable_variables:
            variable.assign(0.3 * rng.standard_normal(variable.shape).astype(np.float32))
        objective = TRPOObjective(policy, old, entcoeff=0.0)
        objective.old_params.set(objective.params.get())
        return policy, objective

    learned_policy, learned = objective_of("learned")
    fixed_policy, fixed = objective_of("fixed")
    batch = _batch(learned_policy, size=64)
    kept = np.concatenate([np.full(int(np.prod(v.shape)), v is not learned_policy.log_std)
                           for v in learned.params.variables])
    assert fixed.params.size == kept.sum() == learned.params.size - ACT_DIM
    _, gradient, _ = learned.losses_and_gradient(batch.observations, batch.actions,
                                                 batch.advantages)
    gradient = gradient.numpy().astype(np.float64)[kept]
    hessian = _explicit_kl_hessian(learned, batch)[np.ix_(kept, kept)] + 0.1 * np.eye(kept.sum())
    direction = np.linalg.solve(hessian, gradient)
    expected = direction / np.sqrt(0.5 * direction @ hessian @ direction / 0.01)

    before = fixed.params.get().astype(np.float64)
    stats = trpo_step(fixed, PolicyBatch(batch.observations, batch.actions, batch.advantages),
                      _settings())
    assert stats["step_accepted"] == 1
    np.testing.assert_allclose(fixed.params.get() - before, expected, rtol=2e-3, atol=2e-5)
    np.testing.assert_array_equal(fixed_policy.log_std.numpy(), np.zeros(ACT_DIM))
