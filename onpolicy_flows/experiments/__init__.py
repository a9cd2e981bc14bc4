"""Experiment tooling for the paper's figures: reading run directories, learning curves,
reference results, the toy distributions of Figures 1 and 2, and hyperparameter sweeps."""
