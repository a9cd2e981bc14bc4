"""ACKTR: the observation filter (and its merge over MPI ranks), action scaling, one iteration
per policy with its step-size adaptation, and a short learning run on InvertedPendulum."""
import io

import numpy as np
import pytest

from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
from onpolicy_flows.acktr.rollout import scale_actions
from onpolicy_flows.acktr.zfilter import ZFilter, _merge
from onpolicy_flows.policies import PolicyConfig


def acktr_config(policy: str, **overrides) -> ACKTRConfig:
    policy_config = PolicyConfig(policy=policy, hidden_sizes=(64, 64), mean_init_scale=0.1,
                                 num_layers=1)
    return ACKTRConfig(**dict(dict(env="InvertedPendulum-v4", timesteps_per_batch=300,
                                   policy=policy_config), **overrides))


def test_zfilter_matches_batch_statistics_and_survives_store_load():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((50, 3)) * [1.0, 5.0, 0.1] + [2.0, -1.0, 0.0]
    obs_filter = ZFilter(3, clip=10.0)
    for row in data[:-1]:
        obs_filter(row)
    obs_filter.store()
    restored = ZFilter(3, clip=10.0)
    for target, source in zip(restored.variables, obs_filter.variables):
        target.assign(source)
    restored.load()
    out = restored(data[-1])
    expected = (data[-1] - data.mean(0)) / (data.std(0, ddof=1) + 1e-8)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert np.abs(restored(np.full(3, 1e6), update=False)).max() == pytest.approx(10.0)


def test_actions_map_from_unit_box_and_clip():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 1.0])
    np.testing.assert_allclose(scale_actions(np.array([-1.0, 1.0]), low, high), [-2.0, 1.0])
    np.testing.assert_allclose(scale_actions(np.array([0.0, 0.0]), low, high), [0.0, 0.5])
    np.testing.assert_allclose(scale_actions(np.array([3.0, -5.0]), low, high), [2.0, 0.0])


@pytest.mark.parametrize("policy", ["gaussian", "flow"])
def test_one_iteration_runs_and_adapts_the_step_size(policy):
    config = acktr_config(policy)
    learner = ACKTRLearner(config, run_dir=None)
    try:
        before = float(learner.policy_optimizer.learning_rate.numpy())
        params_before = [v.numpy().copy() for v in learner.policy.trainable_variables]
        logged = learner.iterate()
        after = float(learner.policy_optimizer.learning_rate.numpy())
        assert logged["TimestepsSoFar"] > config.timesteps_per_batch
        assert np.isfinite(logged["KL"]) and logged["KL"] != 0  # flow: a sample estimate
        assert any(not np.array_equal(b, v.numpy()) for b, v in
                   zip(params_before, learner.policy.trainable_variables))
        if logged["KL"] > 2 * config.desired_kl:
            assert after == pytest.approx(before / 1.5)
        elif logged["KL"] < config.desired_kl / 2:
            assert after == pytest.approx(before * 1.5)
        else:
            assert after == before
        learner.policy_optimizer.learning_rate.assign(0.03)
        learner._adapt_stepsize(kl=10 * config.desired_kl)
        assert float(learner.policy_optimizer.learning_rate.numpy()) == pytest.approx(0.02)
        learner._adapt_stepsize(kl=0.0)
        learner._adapt_stepsize(kl=0.0)
        assert float(learner.policy_optimizer.learning_rate.numpy()) == pytest.approx(0.045)
    finally:
        learner.close()


def test_value_targets_bootstrap_only_on_truncation():
    learner = ACKTRLearner(acktr_config("gaussian"), run_dir=None)
    try:
        episodes = learner.collector.collect(learner.config.timesteps_per_batch)
        observations = np.concatenate([e.observations for e in episodes])
        actions = np.concatenate([e.actions for e in episodes])
        features, final_features = learner._value_features(episodes, observations, actions)
        _, _, targets = learner._estimate_advantages(episodes, features, final_features)
        final_values = learner.value_function.predict(final_features).numpy()
        start = 0
        for episode, final_value in zip(episodes, final_values):
            discounts = 0.99 ** np.arange(len(episode))
            expected = np.sum(discounts * episode.rewards)
            if not episode.terminated:
                expected += 0.99 ** len(episode) * final_value
            assert targets[start] == pytest.approx(expected, rel=1e-5)
            start += len(episode)
    finally:
        learner.close()


def test_zfilter_merge_of_two_parts_equals_the_statistics_of_their_union():
    """What `store()` does under MPI: the filter's statistics and each rank's new
    observations merge into the statistics of all of them."""
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((n, 2)) * 3.0 + 1.0 for n in (1, 7, 12)]
    filters = []
    for part in parts:
        part_filter = ZFilter(2)
        for row in part:
            part_filter.push(row)
        filters.append((part_filter._count, part_filter._mean, part_filter._sum_sq_dev))
    count, mean, sum_sq_dev = _merge(_merge(filters[0], filters[1]), filters[2])
    everything = np.concatenate(parts)
    assert count == len(everything)
    np.testing.assert_allclose(mean, everything.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(sum_sq_dev / (count - 1), everything.var(axis=0, ddof=1),
                               rtol=1e-12)


def test_gaussian_acktr_learns_inverted_pendulum():
    """A random policy balances for ~5-10 steps; ACKTR reaches a mean episode return (=
    length) of at least 100 within 25k steps."""
    learner = ACKTRLearner(acktr_config("gaussian", timesteps_per_batch=500, seed=1),
                           run_dir=None)
    learner.logger.enabled = False
    try:
        history = [learner.iterate()]
        while history[-1]["TimestepsSoFar"] < 25_000 and history[-1]["EpRewMean"] < 100:
            history.append(learner.iterate())
    finally:
        learner.close()
    assert history[0]["EpRewMean"] < 30
    assert history[-1]["EpRewMean"] >= 100


@pytest.mark.parametrize("policy", ["gaussian", "tanh-gaussian", "flow"])
def test_value_function_sees_the_policy_statistics_on_the_originals_scale(policy):
    """The Gaussian: its mean and std; other classes: log pi(a|s), shifted by the constant
    the original's log-density lacks, which only the flow's does (the base Normal's)."""
    config = PolicyConfig(policy=policy, hidden_sizes=(64, 64))
    learner = ACKTRLearner(ACKTRConfig(env="InvertedPendulum-v4", timesteps_per_batch=300,
                                       policy=config), run_dir=None)
    try:
        policy_ = learner.policy
        observations = np.random.default_rng(0).normal(size=(5, policy_.obs_dim))
        observations = observations.astype(np.float32)
        actions = policy_.sample_actions(observations)
        statistics = learner.policy_update._statistics(observations, actions).numpy()
        distribution = policy_.distribution(observations)
        if policy == "gaussian":
            expected = np.concatenate([distribution.mean(), distribution.stddev()], axis=1)
        else:
            expected = distribution.log_prob(actions).numpy()[:, None]
        if policy == "flow":  # minus the base Normal's log-density at its mode
            base_at_mode = distribution.distribution.log_prob(np.zeros((1, policy_.act_dim)))
            expected = expected - base_at_mode.numpy()[:, None]
        np.testing.assert_allclose(statistics, expected, rtol=1e-6, atol=1e-6)
    finally:
        learner.close()


@pytest.mark.parametrize("policy", ["beta", "tanh-gaussian"])
def test_bounded_policies_step_with_k_fac(policy):
    """The cold-start iteration, then one K-FAC iteration: every parameter (the
    tanh-Gaussian's log-std included) moves, the KL is small and finite."""
    config = PolicyConfig(policy=policy, hidden_sizes=(64, 64), mean_init_scale=0.1)
    learner = ACKTRLearner(ACKTRConfig(env="InvertedPendulum-v4", timesteps_per_batch=300,
                                       policy=config), run_dir=None)
    learner.logger.enabled = False
    before = [variable.numpy().copy() for variable in learner.policy.trainable_variables]
    rows = [learner.iterate() for _ in range(2)]
    after = learner.policy.trainable_variables
    learner.close()
    assert all(not np.array_equal(b, a.numpy()) for b, a in zip(before, after))
    assert 0 < rows[-1]["KL"] < 0.1 and np.isfinite(rows[-1]["entropy"])


def test_compiling_the_actor_ahead_changes_nothing():
    """With a spare core the actor compiles on a background thread while the K-FAC step
    traces (`CompiledActor.compile_while_tracing`); the iterations log what they log
    without."""
    rows = []
    for ahead in (True, False):
        learner = ACKTRLearner(acktr_config("gaussian", seed=4), run_dir=None)
        learner.logger.stdout = io.StringIO()
        learner._compile_ahead = ahead
        rows.append([{key: value for key, value in learner.iterate().items()
                      if key not in ("TimeElapsed", "TimeLeft")} for _ in range(2)])
        learner.close()
    assert rows[0] == rows[1]


def test_original_flags_cut_the_policy_batch_count_its_size_and_end_truncated_episodes():
    """--cut-policy-batch: the step sees the first timesteps_per_batch rows only;
    --timestep-count batch-size: TimestepsSoFar grows by timesteps_per_batch;
    --no-bootstrap-truncation: a truncated episode's targets are its discounted returns."""
    config = acktr_config("flow", timesteps_per_batch=300, cut_policy_batch=True,
                          timestep_count="batch-size", bootstrap_truncation=False,
                          env_kwargs={"max_episode_steps": 3})
    learner = ACKTRLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    seen = []
    step = learner.policy_update.step
    learner.policy_update.step = lambda *batch: seen.append(len(batch[0])) or step(*batch)
    rows = [learner.iterate() for _ in range(2)]
    assert seen == [300, 300]
    assert [row["TimestepsSoFar"] for row in rows] == [300, 600]
    episodes = learner.collector.collect(100)
    observations = np.concatenate([e.observations for e in episodes])
    actions = np.concatenate([e.actions for e in episodes])
    features, finals = learner._value_features(episodes, observations, actions)
    _, _, targets = learner._estimate_advantages(episodes, features, finals)
    learner.close()
    assert any(not episode.terminated for episode in episodes)  # cut by the time limit
    start = 0
    for episode in episodes:
        discounted = [sum(config.gamma ** k * r for k, r in enumerate(episode.rewards[t:]))
                      for t in range(len(episode))]
        np.testing.assert_allclose(targets[start:start + len(episode)], discounted, rtol=1e-4)
        start += len(episode)


@pytest.mark.parametrize("policy,policy_extra", [("gaussian", 3e-4), ("flow", 0.0)])
def test_weight_decay_damping_raises_the_dense_blocks_damping_as_the_original(policy,
                                                                              policy_extra):
    learner = ACKTRLearner(acktr_config(policy, weight_decay_damping=True), run_dir=None)
    learner.close()
    assert learner.policy_optimizer.weight_decay_damping == policy_extra
    assert learner.value_function.optimizer.weight_decay_damping == 3e-4
    plain = ACKTRLearner(acktr_config(policy), run_dir=None)
    plain.close()
    assert plain.policy_optimizer.weight_decay_damping == 0.0
    assert plain.value_function.optimizer.weight_decay_damping == 0.0
