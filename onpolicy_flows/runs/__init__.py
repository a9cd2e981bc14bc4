"""The life of a training run: its directory and config.json, the command line, the loop that
every learner runs under (resume, checkpoints, clean stops), progress counters, the logger,
and the rollback of updates that leave non-finite parameters.
May import `common` and `envs`."""
