"""VecNormalize's observation and return normalisation against direct computations."""
import numpy as np
import pytest

from onpolicy_flows.ppo.vec_normalize import (
    EPSILON,
    PRIOR_COUNT,
    ReturnNormalizer,
    observation_normalizer,
)


def _prior_moments(samples: np.ndarray):
    """Mean and variance of `samples` [n, ...] pooled with a prior of mean 0 and variance 1
    weighted as PRIOR_COUNT samples (VecNormalize's RunningMeanStd(epsilon=1e-4))."""
    count = PRIOR_COUNT + len(samples)
    mean = samples.sum(axis=0) / count
    variance = (PRIOR_COUNT + np.square(samples).sum(axis=0)) / count - mean ** 2
    return mean, variance


def test_observations_are_standardised_with_running_statistics_and_clipped():
    rng = np.random.default_rng(0)
    first, second = 3.0 + 2.0 * rng.standard_normal((2, 300, 4))
    normalizer = observation_normalizer(4, clip=10.0)
    normalizer.update(first)
    normalizer.update(second)
    mean, variance = _prior_moments(np.concatenate([first, second]))
    np.testing.assert_allclose(normalizer.mean.numpy(), mean, rtol=1e-10)
    np.testing.assert_allclose(normalizer.std.numpy(), np.sqrt(variance + EPSILON), rtol=1e-10)
    observations = np.array([[3.0, 3.0, 100.0, -100.0]], np.float32)
    expected = np.clip((observations - mean) / np.sqrt(variance + EPSILON), -10, 10)
    np.testing.assert_allclose(normalizer.normalize(observations).numpy(), expected, rtol=1e-5)
    assert normalizer.normalize(observations).numpy()[0, 2:].tolist() == [10.0, -10.0]


@pytest.mark.parametrize("reset", [True, False])
def test_rewards_are_divided_by_the_std_of_the_discounted_return(reset):
    """Two environments, two segments: the discounted return runs on across the segments
    and restarts after each episode end (or, as the original's VecNormalize, never); every
    reward of a segment is divided by the std of all returns so far (the prior included)
    and clipped."""
    gamma, clip = 0.9, 2.5
    rng = np.random.default_rng(1)
    rewards = rng.uniform(-1.0, 3.0, size=(2, 2, 40))  # [segment, env, step]
    rewards[1, 0, 5] = 60.0  # far out: its scaled value is clipped
    ends = rng.random((2, 2, 40)) < 0.08
    normalizer = ReturnNormalizer(num_envs=2, gamma=gamma, clip=clip,
                                  reset_at_episode_end=reset)
    scaled = [normalizer.scale(rewards[index], ends[index]) for index in range(2)]

    returns = np.zeros((2, 80))  # each environment's steps of both segments in order
    flat_rewards = np.concatenate([rewards[0], rewards[1]], axis=1)
    flat_ends = np.concatenate([ends[0], ends[1]], axis=1)
    for env in range(2):
        running = 0.0
        for t in range(80):
            running = gamma * running + flat_rewards[env, t]
            returns[env, t] = running
            if flat_ends[env, t] and reset:
                running = 0.0
    for index, seen in enumerate((returns[:, :40], returns)):
        _, variance = _prior_moments(seen.reshape(-1))
        expected = np.clip(rewards[index] / np.sqrt(variance + EPSILON), -clip, clip)
        np.testing.assert_allclose(scaled[index], expected, rtol=1e-9)
    assert scaled[1][0, 5] == clip
    np.testing.assert_allclose(normalizer.running_returns,
                               np.where(flat_ends[:, -1] & reset, 0.0, returns[:, -1]))
    assert float(normalizer.returns_rms.count) == pytest.approx(PRIOR_COUNT + 160)


def test_per_step_normalisation_is_the_original_vecnormalize_on_one_env():
    """Every observation (the reset's too, not an episode's last) joins the statistics before
    it is standardised with them; every reward extends a running return that never
    restarts, joins its statistics, and is divided by their std; the Monitor's raw episode
    return passes."""
    import gymnasium as gym

    from onpolicy_flows.envs.factory import make_env
    from onpolicy_flows.ppo.vec_normalize import StepNormalization
    gamma, clip = 0.99, 10.0
    raw = make_env("Pendulum-v1", seed=3, env_kwargs={"max_episode_steps": 5})
    wrapped = StepNormalization(make_env("Pendulum-v1", seed=3,
                                         env_kwargs={"max_episode_steps": 5}),
                                observation_normalizer(3, clip),
                                ReturnNormalizer(1, gamma, clip, reset_at_episode_end=False))
    seen, returns, running = [raw.reset(seed=3)[0]], [], 0.0
    normalised = [wrapped.reset(seed=3)[0]]
    mean, variance = _prior_moments(np.array(seen))
    np.testing.assert_allclose(normalised[0], (seen[0] - mean) / np.sqrt(variance + EPSILON),
                               rtol=1e-3, atol=1e-3)
    rng = np.random.default_rng(0)
    for step in range(8):
        action = rng.uniform(-2, 2, size=1).astype(np.float32)
        observation, reward, terminated, truncated, info = raw.step(action)
        got, scaled, *_, wrapped_info = wrapped.step(action)
        if not truncated:
            seen.append(observation)
        running = gamma * running + reward
        returns.append(running)
        mean, variance = _prior_moments(np.array(seen))
        np.testing.assert_allclose(got, np.clip((observation - mean) /
                                                np.sqrt(variance + EPSILON), -clip, clip),
                                   rtol=1e-3, atol=1e-3)  # float32 over a small std
        _, return_variance = _prior_moments(np.array(returns))
        assert scaled == pytest.approx(np.clip(reward / np.sqrt(return_variance + EPSILON),
                                               -clip, clip), rel=1e-6)
        if truncated:  # the fifth step: the raw episode return reaches info
            assert wrapped_info["episode"]["r"] == pytest.approx(info["episode"]["r"])
            seen.append(raw.reset()[0])
            normalised.append(wrapped.reset()[0])
    assert isinstance(wrapped, gym.Wrapper)
