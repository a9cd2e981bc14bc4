"""TRPO with MPI-parallel workers. May import `policies`, `runs`, `envs` and `common`."""
from onpolicy_flows.trpo_mpi.config import TRPOConfig
from onpolicy_flows.trpo_mpi.trpo import TRPOLearner, learn

__all__ = ["TRPOConfig", "TRPOLearner", "learn"]
