"""Non-finite numbers stop a run where they enter it, before they reach a normaliser, an
advantage or a policy, with a message that says where they came from."""
import numpy as np

from onpolicy_flows.common import mpi
from onpolicy_flows.common.errors import UserError


def require_finite_from_env(value, quantity: str, env, env_step: int, env_index: int) -> None:
    """Raises UserError if `value` (an observation or a reward of `env`) is not finite;
    `env_step` counts this env's steps in this process (0 for a reset's observation)."""
    if not np.isfinite(value).all():
        name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        raise UserError(f"{name} returned a non-finite {quantity} at its step {env_step} on "
                        f"rank {mpi.rank()} (env {env_index}); the run stops and its latest "
                        "checkpoint is the last good one")


def require_finite_actions(actions: np.ndarray) -> None:
    """Raises UserError if the policy sampled non-finite actions [batch, act_dim]."""
    if not np.isfinite(actions).all():
        raise UserError(f"the policy produced a non-finite action on rank {mpi.rank()}; the "
                        "run stops and its latest checkpoint is the last good one")
