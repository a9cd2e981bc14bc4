"""TRPO end to end on small tasks: one update respects the trust region, and learning works."""
import io

import numpy as np
import pytest

from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner
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
    batch = PolicyBatch(segment.observations, segment.actions, advantages)
    params_before = learner.objective.params.get()
    surrogate_before = learner.objective.mean_losses(batch)[3]
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
