"""The algorithms a run directory can hold, by the name its config.json records."""
from onpolicy_flows.acktr import ACKTRConfig, ACKTRLearner
from onpolicy_flows.ppo import PPOConfig, PPOLearner
from onpolicy_flows.trpo_mpi import TRPOConfig, TRPOLearner

CONFIG_CLASSES = {TRPOConfig.ALGORITHM: TRPOConfig, ACKTRConfig.ALGORITHM: ACKTRConfig,
                  PPOConfig.ALGORITHM: PPOConfig}
LEARNER_CLASSES = {TRPOConfig.ALGORITHM: TRPOLearner, ACKTRConfig.ALGORITHM: ACKTRLearner,
                   PPOConfig.ALGORITHM: PPOLearner}
