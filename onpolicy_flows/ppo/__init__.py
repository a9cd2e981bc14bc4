"""PPO (clipped surrogate, ppo2's defaults) with MPI-parallel workers.
May import `policies`, `runs`, `envs` and `common`."""
from onpolicy_flows.ppo.config import PPOConfig
from onpolicy_flows.ppo.ppo import PPOLearner, learn

__all__ = ["PPOConfig", "PPOLearner", "learn"]
