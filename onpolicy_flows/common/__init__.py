"""Pieces shared by every algorithm: MPI, statistics, optimisers, advantages, envs, logging."""
