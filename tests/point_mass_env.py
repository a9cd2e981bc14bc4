"""A user's own environment, for the tests of `--env point_mass_env:PointMass-v0`: importing
this module registers PointMass-v0 with gymnasium, as a user's package would."""
import gymnasium as gym
import numpy as np

TIME_STEP = 0.1  # seconds per env step


class PointMass(gym.Env):
    """A unit mass on a line, pushed towards `target`. Observation [position, velocity,
    target]; action: a force in [-1, 1]; reward -(position - target)^2 -
    ctrl_cost_weight * force^2; each episode is cut after `episode_steps` steps."""

    def __init__(self, target: float = 0.5, ctrl_cost_weight: float = 0.1,
                 episode_steps: int = 50, render_mode=None):
        self.target = target
        self.ctrl_cost_weight = ctrl_cost_weight
        self.episode_steps = episode_steps
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.velocity, self.steps = self.np_random.uniform(-1, 1), 0.0, 0
        return self._observation(), {}

    def step(self, action):
        force = float(np.clip(action[0], -1.0, 1.0))
        self.velocity += TIME_STEP * force
        self.position += TIME_STEP * self.velocity
        self.steps += 1
        reward = -(self.position - self.target) ** 2 - self.ctrl_cost_weight * force ** 2
        return self._observation(), reward, False, self.steps >= self.episode_steps, {}

    def _observation(self):
        return np.array([self.position, self.velocity, self.target], np.float32)


gym.register("PointMass-v0", entry_point=PointMass)
