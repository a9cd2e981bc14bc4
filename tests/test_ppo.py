"""PPO: the clipped losses by hand, the update's starting point, learning with every policy
class, resuming with the normalisers, replays, and the original's defaults."""
import csv
import dataclasses
import io
import os

import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.envs.rollout import Segment
from onpolicy_flows.policies import POLICY_CLASSES
from onpolicy_flows.ppo import PPOConfig, PPOLearner, learn
from onpolicy_flows.ppo.objective import clipped_losses
from onpolicy_flows.ppo.vec_normalize import PRIOR_COUNT
from onpolicy_flows.replay.player import replay
from onpolicy_flows.runs.checkpoints import RunCheckpoints, find_checkpoint

ENV = "InvertedPendulum-v4"


def _config(policy="gaussian", batch=512, iterations=1, **settings):
    """Smaller batches than the original's 2048 (minibatches of 64 rows, as there)."""
    return PPOConfig(env=ENV, timesteps_per_batch=batch, num_minibatches=batch // 64,
                     num_timesteps=batch * iterations,
                     policy=dataclasses.replace(PPOConfig().policy, policy=policy), **settings)


def _learner(config):
    learner = PPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    return learner


def test_defaults_are_the_original_ones():
    """run_ppo_gaussian.py and ppo2.learn / Model (onpolicybaselines), ppo2's MlpPolicy and
    VecNormalize (baselines)."""
    config = PPOConfig()
    assert (config.timesteps_per_batch, config.num_minibatches, config.epochs) == (2048, 32, 10)
    assert (config.learning_rate, config.adam_epsilon, config.max_grad_norm) == (3e-4, 1e-5, 0.5)
    assert (config.clip_range, config.entcoeff, config.vf_coeff) == (0.2, 0.0, 0.5)
    assert (config.gamma, config.lam) == (0.99, 0.95)
    assert (config.obs_clip, config.reward_clip) == (10.0, 10.0)
    assert config.vf_hidden_sizes == config.policy.hidden_sizes == (64, 64)
    assert config.policy.mean_init_scale == 0.01
    assert config.minibatch_size == 64 and config.num_timesteps == 1_000_000


def test_the_batch_must_split_into_minibatches_and_environments():
    with pytest.raises(UserError, match="multiple of --num-minibatches"):
        PPOConfig(timesteps_per_batch=1000, num_minibatches=32)
    with pytest.raises(UserError, match="multiple of --envs-per-rank"):
        PPOConfig(timesteps_per_batch=2048, envs_per_rank=3)


def test_clipped_losses_by_hand():
    """Ratios clipped both ways, for advantages of both signs; ppo2's pessimistic value loss.
    Rows whose clipped term wins get no gradient."""
    ratios = np.array([1.5, 1.5, 0.5, 0.5, 1.1])
    advantages = np.array([1.0, -1.0, -1.0, 1.0, 2.0])
    old_log_probs = np.array([-1.0, 0.5, -2.0, 0.0, 1.0])
    old_values = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    values = np.array([1.5, 1.5, -0.1, -0.5, 0.5])
    returns = np.array([2.0, 1.0, -1.0, 0.0, 0.3])
    constant = lambda array: tf.constant(array, tf.float32)  # noqa: E731
    log_probs = tf.Variable(old_log_probs + np.log(ratios), dtype=tf.float32)
    predictions = tf.Variable(values, dtype=tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        policy_loss, value_loss, approxkl, clipfrac = clipped_losses(
            log_probs, constant(old_log_probs), constant(advantages), predictions,
            constant(old_values), constant(returns), 0.2)
    # -A r against -A clip(r, 0.8, 1.2), the larger of each pair:
    # [max(-1.5, -1.2), max(1.5, 1.2), max(0.5, 0.8), max(-0.5, -0.8), max(-2.2, -2.2)]
    assert float(policy_loss) == pytest.approx((-1.2 + 1.5 + 0.8 - 0.5 - 2.2) / 5)
    # clipped rows 0 and 2 (the clip binds): no gradient; the others -A r / n
    np.testing.assert_allclose(tape.gradient(policy_loss, log_probs),
                               [0.0, 1.5 / 5, 0.0, -0.5 / 5, -2.2 / 5], atol=1e-6)
    # (V - R)^2 against (V_old + clip(V - V_old, -0.2, 0.2) - R)^2, the larger of each pair:
    # [max(0.25, 0.64), max(0.25, 0.04), 0.81 (inside the clip), max(0.25, 0.04),
    #  max(0.04, 0.01)]
    assert float(value_loss) == pytest.approx(0.5 * (0.64 + 0.25 + 0.81 + 0.25 + 0.04) / 5)
    np.testing.assert_allclose(tape.gradient(value_loss, predictions),
                               [0.0, 0.5 / 5, 0.9 / 5, -0.5 / 5, 0.2 / 5], atol=1e-6)
    assert float(approxkl) == pytest.approx(0.5 * np.mean(np.log(ratios) ** 2))
    assert float(clipfrac) == pytest.approx(4 / 5)


def test_the_update_starts_at_ratio_one_with_the_statistics_acting_used_next():
    """The batch's log-densities and values are those of the networks about to be trained:
    before the first step every ratio is 1 (nothing clipped, no KL) and the value loss is
    plain squared error. The normalisers hold the batch's statistics."""
    learner = _learner(_config(batch=256))
    segment = learner.collector.collect()
    learner.obs_normalizer.update(Segment.flat(segment.observations))
    rewards = learner.return_normalizer.scale(segment.rewards, segment.episode_ends)
    batch = learner._batch(segment, rewards)
    loss, stats = learner.update.losses(
        batch.observations, batch.actions, batch.advantages, batch.returns, batch.values,
        batch.log_probs, 0.2)
    policy_loss, value_loss, _, approxkl, clipfrac = stats.numpy()
    assert abs(policy_loss) < 1e-5 and approxkl < 1e-10 and clipfrac == 0
    assert value_loss == pytest.approx(0.5 * np.mean((batch.values - batch.returns) ** 2),
                                       rel=1e-5)
    assert float(loss) == pytest.approx(policy_loss + 0.5 * value_loss, abs=1e-6)
    assert float(learner.obs_normalizer.count) == pytest.approx(PRIOR_COUNT + 256)
    np.testing.assert_allclose(learner.obs_normalizer.mean.numpy(),
                               Segment.flat(segment.observations).mean(axis=0), rtol=1e-4,
                               atol=1e-6)
    learner.close()


@pytest.mark.parametrize("policy", POLICY_CLASSES)
def test_ppo_learns_inverted_pendulum(policy):
    """From about 8 steps of balancing to several times that in 15 iterations of 512 steps
    (EpRewMean averages the last 100 episodes, so it lags the policy)."""
    learner = _learner(_config(policy, iterations=15))
    rows = [learner.iterate() for _ in range(15)]
    learner.close()
    first, last = rows[0]["EpRewMean"], rows[-1]["EpRewMean"]
    assert last > 4 * first and last > 40, [round(row["EpRewMean"]) for row in rows]


def _progress(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        return list(csv.DictReader(file))


def _restored(config, run_dir) -> PPOLearner:
    learner = _learner(config)
    RunCheckpoints(run_dir, learner.checkpoint_objects()).restore(find_checkpoint(run_dir))
    return learner


def test_resume_continues_from_the_saved_normalisers_and_optimiser(tmp_path):
    """Two iterations, then a resumed third: the observation and return statistics, Adam's
    step count and the counters go on from the checkpoint instead of starting over."""
    config = _config(batch=128, iterations=2, epochs=2, save_every=1, logdir=str(tmp_path))
    learn(config)
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path)]
    saved = _restored(config, run_dir)
    assert float(saved.obs_normalizer.count) == pytest.approx(PRIOR_COUNT + 2 * 128)
    assert float(saved.return_normalizer.returns_rms.count) == pytest.approx(
        PRIOR_COUNT + 2 * 128)
    assert float(saved.return_normalizer.returns_rms.std.numpy()[0]) != pytest.approx(1.0)
    assert int(saved.optimizer.step_count) == 2 * 2 * 2  # iterations x epochs x minibatches
    saved.close()

    longer = dataclasses.replace(config, num_timesteps=3 * 128)
    assert len(learn(longer, run_dir=run_dir, resume=True)) == 1
    resumed = _restored(longer, run_dir)
    assert float(resumed.obs_normalizer.count) == pytest.approx(PRIOR_COUNT + 3 * 128)
    assert float(resumed.return_normalizer.returns_rms.count) == pytest.approx(
        PRIOR_COUNT + 3 * 128)
    assert int(resumed.optimizer.step_count) == 3 * 2 * 2
    rows = _progress(run_dir)
    assert [float(row["Iteration"]) for row in rows] == [1, 2, 3]
    assert float(rows[-1]["TimestepsSoFar"]) == 3 * 128
    resumed.close()


def test_replay_of_a_ppo_run(tmp_path):
    """run.enjoy's path: the learner rebuilt from config.json acts with the saved policy and
    observation statistics."""
    learn(_config("beta", batch=128, iterations=1, epochs=1, logdir=str(tmp_path)))
    (run_dir,) = [entry.path for entry in os.scandir(tmp_path)]
    results = replay(run_dir, None, episodes=2, seed=0, deterministic=True)
    assert len(results) == 2 and all(length >= 1 for _, length in results)


@pytest.mark.parametrize("envs_per_rank", [1, 2])
def test_same_seed_gives_the_same_progress_csv(tmp_path, envs_per_rank):
    rows = []
    for attempt in range(2):
        learn(_config("gmm", batch=128, iterations=2, epochs=2, envs_per_rank=envs_per_rank,
                      seed=5, logdir=str(tmp_path / str(attempt))))
        (run_dir,) = [entry.path for entry in os.scandir(tmp_path / str(attempt))]
        rows.append([{key: value for key, value in row.items()
                      if key not in ("TimeElapsed", "fps")} for row in _progress(run_dir)])
        monitors = sorted(name for name in os.listdir(run_dir) if name.startswith("monitor"))
        assert monitors == [f"monitor.{index}.csv" for index in range(envs_per_rank)]
    assert len(rows[0]) == 2 and rows[0] == rows[1]


def test_compiling_the_actor_ahead_changes_nothing():
    """With a spare core the actor compiles on a background thread while the update traces
    (`CompiledActor.compile_while_tracing`); the iterations log what they log without."""
    rows = []
    for ahead in (True, False):
        learner = _learner(_config("gaussian", batch=128, iterations=2, epochs=1, seed=4))
        learner._compile_ahead = ahead
        rows.append([{key: value for key, value in learner.iterate().items()
                      if key not in ("TimeElapsed", "fps", "TimeLeft")} for _ in range(2)])
        learner.close()
    assert rows[0] == rows[1]


def test_per_step_normalisation_feeds_the_networks_what_the_envs_normalised(tmp_path):
    """--normalizer-updates per-step: the statistics count every step and reset, the policy
    and value function do not normalise again, and a replay normalises raw observations with
    the saved statistics; it takes one env, as the original."""
    config = _config(iterations=2, normalizer_updates="per-step", reset_running_return=False)
    learner = _learner(config)
    before = learner.obs_normalizer.count.numpy()
    for _ in range(2):
        learner.iterate()
    # every step and reset but an episode's last observation
    assert learner.obs_normalizer.count.numpy() - before == 2 * 512
    assert learner.policy.obs_normalizer is None
    assert learner.value_function.obs_normalizer is None
    observation = learner.env.reset(seed=0)[0]
    act = learner.evaluation_actor(deterministic=True)
    expected = learner.policy.deterministic_action(
        learner.obs_normalizer.normalize(observation[None].astype(np.float32))).numpy()[0]
    np.testing.assert_allclose(act(observation), expected, rtol=1e-4, atol=1e-5)
    learner.close()
    with pytest.raises(UserError, match="--envs-per-rank 1"):
        _config(normalizer_updates="per-step", envs_per_rank=2)
