"""Seeds and TensorFlow's threading, set once per process before any TF op runs."""
import random

import numpy as np
import tensorflow as tf

RANK_SEED_STRIDE = 10000  # per-rank seed = seed + 10000 * rank, as in the original
ENV_SEED_STRIDE = 100  # a rank's i-th environment: its rank seed + 100 * i
MAX_ENVS_PER_RANK = RANK_SEED_STRIDE // ENV_SEED_STRIDE


def rank_seed(seed: int, rank: int) -> int:
    return seed + RANK_SEED_STRIDE * rank


def value_function_seed(seed: int) -> int:
    """The seed of a value function's weights (from the base seed) or noise (from a rank's
    seed): a 32-bit draw from the stream (seed, 1), so that it is no other run's policy seed
    (seed + 1 would give run s's value function the initial weights of run s + 1's policy)."""
    return int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])


def env_seed(seed: int, rank: int, index: int) -> int:
    """Seed of environment `index` of `rank`; environment 0 has the rank's seed."""
    return rank_seed(seed, rank) + ENV_SEED_STRIDE * index


def resumed_seed(seed: int, iteration: int) -> int:
    """A rank's seed for its random streams after resuming at `iteration`."""
    return seed + 1_000_003 * iteration


def reseed_after_resume(policy, seed: int, iteration: int) -> np.random.Generator:
    """After every rank restored rank 0's state at `iteration`: gives `policy` (a
    `policies.base.Policy`) this rank's own noise stream for the resumed run and returns a
    minibatch generator seeded alike."""
    seed = resumed_seed(seed, iteration)
    policy.noise.reset_from_seed(seed)
    return np.random.default_rng(seed)


def seed_everything(seed: int) -> None:
    """Seeds Python's, numpy's and TensorFlow's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf.random.set_seed(seed)


def configure_tensorflow_threads(threads: int = 1) -> None:
    """One intra- and one inter-op thread per MPI rank by default (ranks share the cores).

    Must run before the first TF op; later calls are ignored by TensorFlow with an error we
    swallow, so that tests running several learners in one process work.
    """
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        pass
