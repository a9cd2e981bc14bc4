"""Runs of different seeds start from independent weights: no network of one run is seeded
like a network of another."""
import numpy as np

from onpolicy_flows.common.seeding import value_function_seed
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner


def hidden_kernels(module) -> list:
    return [variable.numpy() for variable in module.trainable_variables
            if variable.shape.rank == 2 and variable.shape[1] == 32]


def test_a_runs_value_function_is_not_the_next_seeds_policy():
    """TRPO's policy and value function share their hidden sizes (2 x 32 on a Gaussian):
    run 0's value-function kernels must not be run 1's policy kernels (as with seed + 1)."""
    learners = [TRPOLearner(TRPOConfig(env="InvertedPendulum-v4", seed=seed), run_dir=None)
                for seed in (0, 1)]
    try:
        value_function = hidden_kernels(learners[0].value_function.net)
        next_policy = hidden_kernels(learners[1].policy)
        assert value_function and next_policy
        for mine, theirs in zip(value_function, next_policy):
            assert mine.shape != theirs.shape or not np.allclose(mine, theirs)
            if mine.shape == theirs.shape:
                assert abs(np.corrcoef(mine.ravel(), theirs.ravel())[0, 1]) < 0.2
    finally:
        for learner in learners:
            learner.close()


def test_value_function_seeds_are_no_small_seed():
    seeds = {value_function_seed(seed) for seed in range(1000)}
    assert len(seeds) == 1000 and min(seeds) > 10**6
