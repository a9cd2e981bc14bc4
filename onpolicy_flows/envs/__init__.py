"""Environments and the experience drawn from them: making monitored gymnasium envs (the
paper's ids, pybullet's, the user's own), a rank's envs, fixed-length rollout segments, and
the checks that stop non-finite numbers where they enter.
May import `common` only."""
