"""The paper's figures: the toy distributions of Figures 1 and 2, centre-of-mass
trajectories, learning curves and tables from run directories (Figures 3-5) and sweep plots
(Figures 6 and 7). May import `grids` (a sweep's members), `experiments`' own modules,
`replay` and below."""
