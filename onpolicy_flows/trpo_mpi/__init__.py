"""TRPO with MPI-parallel workers."""
from onpolicy_flows.trpo_mpi.config import TRPOConfig
from onpolicy_flows.trpo_mpi.trpo import TRPOLearner, learn
