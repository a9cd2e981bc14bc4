"""ACKTR (actor-critic with Kronecker-factored trust region) for continuous control.
May import `policies`, `runs`, `envs` and `common`."""
from onpolicy_flows.acktr.acktr import ACKTRLearner, learn
from onpolicy_flows.acktr.config import ACKTRConfig
from onpolicy_flows.acktr.kfac import KFACOptimizer

__all__ = ["ACKTRConfig", "ACKTRLearner", "KFACOptimizer", "learn"]
