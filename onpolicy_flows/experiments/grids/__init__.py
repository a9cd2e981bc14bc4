"""Declared grids of training runs (`<grid>.json` here) and bringing them up to date: launching
members, resuming them, harvesting finished ones into results/, and Figure 6/7 sweeps.
May import `experiments`' own modules and below, not `figures` or `results`."""
