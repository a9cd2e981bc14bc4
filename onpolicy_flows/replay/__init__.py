"""Replaying a saved run: rebuild its learner from config.json and a checkpoint (`player`,
`algorithms`), act, and record episodes into videos rendered in a process of their own.
May import the algorithms (`trpo_mpi`, `acktr`, `ppo`) and everything they import."""
