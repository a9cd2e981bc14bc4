"""TRPO end to end on small tasks: one update respects the trust region, and learning works."""
import csv
import io
import os

import numpy as np
import pytest

from onpolicy_flows.common.errors import UserError
from onpolicy_flows.envs.rollout import Segment
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner, learn
from onpolicy_flows.trpo_mpi.policy_step import PolicyBatch, trpo_step


def _learner(policy, env="InvertedPendulum-v4", batch=1024, iterations=1, seed=0):
    config = TRPOConfig(env=env, seed=seed, timesteps_per_batch=batch,
                        num_timesteps=batch * iterations, policy=PolicyConfig(policy=policy))
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    return learner


@pytest.mark.parametrize("policy", ["gaussian", "gmm", "flow"])
def test_one_update_stays_in_the_trust_region_and_improves_the_surrogate(policy):
    learner = _learner(policy, env="Pendulum-v1", batch=512)
    segment = learner.collector.collect()
    _, _, advantages = learner._estimate_advantages(segment)
    advantages = ((advantages - advantages.mean()) / advantages.std()).astype(np.float32)
    observations, actions = Segment.flat(segment.observations), Segment.flat(segment.actions)
    batch = PolicyBatch(observations, actions, advantages)
    params_before = learner.objective.params.get()
    old_log_probs = learner.policy.log_prob(observations, actions).numpy()
    surrogate_before = learner.objective.mean_losses(
        PolicyBatch(observations, actions, advantages, old_log_probs))[3]
    stats = trpo_step(learner.objective, batch, learner.step_settings)
    assert stats["step_accepted"] == 1
    assert not np.array_equal(learner.objective.params.get(), params_before)
    max_kl = learner.config.max_kl
    # The step's KL measure (analytic for the Gaussian, the original's estimate at the
    # collected actions otherwise), recomputed with the old policy restored independently.
    learner.objective.old_params.set(params_before)
    measured = learner.policy.kl(learner.old_policy, batch.observations, batch.actions)
    assert float(np.mean(measured)) <= 1.5 * max_kl
    assert float(np.mean(measured)) == pytest.approx(stats["meankl"], abs=1e-5)
    assert stats["surrgain"] >= surrogate_before
    # The true KL, estimated with fresh actions from the old policy, is small and positive.
    states = np.repeat(batch.observations, 16, axis=0)
    fresh_actions, old_log_probs = learner.old_policy.sample(states)
    new_log_probs = learner.policy.log_prob(states, np.array(fresh_actions))
    true_kl = float(np.mean(old_log_probs - new_log_probs))
    assert 0 < true_kl < 3 * max_kl
    learner.close()


@pytest.mark.parametrize("policy", ["gaussian", "gmm", "flow"])
def test_trpo_learns_inverted_pendulum(policy):
    """From about 8 steps of balancing to several times that in 14 iterations."""
    learner = _learner(policy, iterations=14)
    rows = [learner.iterate() for _ in range(14)]
    learner.close()
    first, last = rows[0]["EpRewMean"], rows[-1]["EpRewMean"]
    assert last > 4 * first and last > 40, [round(row["EpRewMean"]) for row in rows]


@pytest.mark.parametrize("policy", ["beta", "tanh-gaussian"])
def test_bounded_policies_improve_inverted_pendulum(policy):
    """About 6-7 steps of balancing at first; TRPO at least doubles that within 6
    iterations, inside the trust region."""
    config = TRPOConfig(env="InvertedPendulum-v4", timesteps_per_batch=1024,
                        num_timesteps=6 * 1024, policy=PolicyConfig(policy=policy))
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    rows = [learner.iterate() for _ in range(6)]
    learner.close()
    assert rows[-1]["EpRewMean"] > 2 * rows[0]["EpRewMean"], [row["EpRewMean"] for row in rows]
    assert all(row["meankl"] <= 1.5 * config.max_kl for row in rows)


def _progress_without_time(run_dir):
    with open(os.path.join(run_dir, "progress.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        del row["TimeElapsed"]
    return rows


@pytest.mark.parametrize("envs_per_rank", [1, 3])
def test_same_seed_gives_the_same_progress_csv(tmp_path, envs_per_rank):
    rows = []
    for attempt in range(2):
        config = TRPOConfig(env="Pendulum-v1", seed=5, timesteps_per_batch=258,
                            num_timesteps=3 * 258, envs_per_rank=envs_per_rank,
                            policy=PolicyConfig(policy="gmm"),
                            logdir=str(tmp_path / str(attempt)))
        learn(config)
        (run_dir,) = [entry.path for entry in os.scandir(tmp_path / str(attempt))]
        rows.append(_progress_without_time(run_dir))
        monitors = sorted(name for name in os.listdir(run_dir) if name.startswith("monitor"))
        assert monitors == [f"monitor.{index}.csv" for index in range(envs_per_rank)]
    assert len(rows[0]) == 3 and rows[0] == rows[1]


def test_environments_of_a_rank_run_their_own_episodes():
    """Three envs stepped in lock-step: each contributes batch / 3 steps, seeded apart, and
    the iteration counts all of them."""
    config = TRPOConfig(env="Pendulum-v1", timesteps_per_batch=600, num_timesteps=600,
                        envs_per_rank=3, policy=PolicyConfig(policy="gaussian"))
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    segment = learner.collector.collect()
    assert segment.observations.shape == (3, 200, 3) and segment.num_steps == 600
    first_observations = segment.observations[:, 0]
    assert len({tuple(row) for row in first_observations.round(6)}) == 3
    # Pendulum's episodes last 200 steps: each env finishes exactly one in its 200 steps
    assert len(segment.episode_lengths) == 3 and set(segment.episode_lengths) == {200}
    row = learner.iterate()
    assert row["TimestepsSoFar"] == 600
    learner.close()


def test_envs_per_rank_must_divide_the_batch():
    with pytest.raises(UserError, match="multiple of --envs-per-rank"):
        TRPOConfig(timesteps_per_batch=1000, envs_per_rank=3)


def test_preparing_the_step_in_the_background_changes_nothing(tmp_path, monkeypatch):
    """The first calls made on a background thread (TRPOObjective.prepare) leave every
    logged number as a run without them; and the step reuses their traces."""
    from onpolicy_flows.common import mpi
    from onpolicy_flows.trpo_mpi.policy_step import TRPOObjective

    monkeypatch.setattr(mpi, "ranks_on_this_host", lambda: 0)  # as if a core were free

    def run(name):
        config = TRPOConfig(env="Pendulum-v1", seed=3, timesteps_per_batch=256,
                            num_timesteps=2 * 256, policy=PolicyConfig(policy="gmm"),
                            logdir=str(tmp_path / name))
        learn(config)
        (run_dir,) = [entry.path for entry in os.scandir(tmp_path / name)]
        return _progress_without_time(run_dir)

    prepared = run("prepared")
    learner = _learner("gmm", env="Pendulum-v1", batch=256)
    learner.iterate()
    objective = learner.objective
    for function in (objective.fisher_vector_products["kl-hessian"],
                     objective.losses_and_gradient, objective.losses):
        assert function.built
    assert not objective.fisher_vector_products["score"].built
    learner.close()
    monkeypatch.setattr(TRPOObjective, "prepare", lambda self, fisher: None)
    assert run("unprepared") == prepared


@pytest.mark.parametrize("rule", ["skip-step", "drop-batch"])
def test_a_batch_with_non_positive_curvature_is_skipped_or_dropped(rule):
    """skip-step: no policy step, but the value function is fitted and the iteration counted
    and logged. drop-batch (the original flow runner's `continue`): none of these."""
    config = TRPOConfig(env="Pendulum-v1", timesteps_per_batch=256, non_positive_fisher=rule,
                        policy=PolicyConfig(policy="flow", num_layers=1))
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    learner.iterate()
    learner.objective.fisher_vector_product = lambda rule, batch, vector: -10.0 * vector
    policy_before = learner.objective.params.get()
    values_before = learner.vf_optimizer.params.get()
    progress_before = [int(learner.progress.iteration), int(learner.progress.timesteps),
                       int(learner.progress.episodes)]
    row = learner.iterate()
    learner.close()
    np.testing.assert_array_equal(learner.objective.params.get(), policy_before)
    progress_after = [int(learner.progress.iteration), int(learner.progress.timesteps),
                      int(learner.progress.episodes)]
    if rule == "drop-batch":
        assert row is None and progress_after == progress_before
        np.testing.assert_array_equal(learner.vf_optimizer.params.get(), values_before)
    else:
        assert row["fisher_not_positive"] == 1 and row["step_accepted"] == 0
        assert progress_after == [2, 512, progress_before[2] + 1]  # one 200-step episode
        assert not np.array_equal(learner.vf_optimizer.params.get(), values_before)


def test_finished_episode_count_leaves_out_the_unfinished_episode():
    """The original's TimestepsSoFar: segments of 300 steps of 200-step Pendulum episodes
    count the episodes that end in them: 200 (steps 0-299), 400 more (episodes ending at
    steps 400 and 600), 200 more (at step 800), where the steps collected are 300 each."""
    config = TRPOConfig(env="Pendulum-v1", timesteps_per_batch=300,
                        timestep_count="finished-episodes")
    learner = TRPOLearner(config, run_dir=None)
    learner.logger.stdout = io.StringIO()
    rows = [learner.iterate() for _ in range(3)]
    learner.close()
    assert [row["TimestepsSoFar"] for row in rows] == [200, 600, 800]
    assert [row["EpisodesSoFar"] for row in rows] == [1, 3, 4]
