"""PPO (clipped surrogate, ppo2's defaults) with MPI-parallel workers."""
from onpolicy_flows.ppo.config import PPOConfig
from onpolicy_flows.ppo.ppo import PPOLearner, learn
