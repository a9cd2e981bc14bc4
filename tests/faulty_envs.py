"""A user's buggy environment, for the fault tests: `--env faulty_envs:NanAfter-v0
--env-kwargs '{"env_id": "Pendulum-v1", "after": 3000, "quantity": "observation"}'` behaves
as `env_id` until its `after`-th step, then returns NaN as its observation or reward."""
import gymnasium as gym
import numpy as np


class NanAfter(gym.Wrapper):
    def __init__(self, env_id: str = "Pendulum-v1", after: int = 3000,
                 quantity: str = "observation", render_mode=None):
        super().__init__(gym.make(env_id, render_mode=render_mode))
        self.after = after
        self.quantity = quantity
        self.steps = 0

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        if self.steps >= self.after:
            if self.quantity == "observation":
                observation = np.full_like(observation, np.nan)
            else:
                reward = float("nan")
        return observation, reward, terminated, truncated, info


gym.register("NanAfter-v0", entry_point=NanAfter, max_episode_steps=200)
