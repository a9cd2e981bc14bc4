"""Shared numerics and foundations: MPI, networks, the value function, running statistics,
MpiAdam, GAE, minibatches, flat parameters, compiled functions and their trace cache; config
dataclasses and flags, errors, safe file writing, quiet imports, durations as text.
May import nothing else of the package: every other folder builds on it."""
