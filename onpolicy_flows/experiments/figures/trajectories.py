"""Centre-of-mass trajectories of replayed policies (the paper's Figure 2(c), Ant)."""
from typing import List

import numpy as np

from onpolicy_flows.replay.player import load_learner, play_episode


def centre_of_mass_paths(run_dir: str, episodes: int, seed: int,
                         max_steps: int) -> List[np.ndarray]:
    """(x, y) of the whole body's centre of mass after each step, one [steps + 1, 2] array
    per episode, for the latest checkpoint of `run_dir` acting with sampling noise."""
    learner = load_learner(run_dir)
    act = learner.evaluation_actor(deterministic=False)
    env = learner.env
    paths = []
    try:
        for episode in range(episodes):
            paths.append(np.array([_centre_of_mass(env) for _ in play_episode(
                env, act, seed + episode, max_steps)]))
    finally:
        learner.close()
    return paths


def _centre_of_mass(env) -> np.ndarray:
    """[2]: x, y of the centre of mass of the world body's subtree (the whole model)."""
    return np.array(env.unwrapped.data.subtree_com[0][:2])
