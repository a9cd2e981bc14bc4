"""TRPO hyperparameters. Defaults are the original's (`run_trpo_*.py` and `trpo_mpi.learn`)."""
import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Dict, Tuple

from onpolicy_flows.common.config import (
    bootstrap_truncation_option,
    logdir_option,
    option,
    require,
    save_every_option,
    summed_timesteps_option,
)
from onpolicy_flows.envs.factory import env_kwargs_option, env_name_in_paths, env_option
from onpolicy_flows.envs.rank_envs import (
    envs_per_rank_option,
    rank_seed_option,
    require_envs_per_rank,
)
from onpolicy_flows.policies import POLICY_CLASSES, PolicyConfig
from onpolicy_flows.runs.progress import TIMESTEP_COUNTS
from onpolicy_flows.trpo_mpi.policy_step import FISHER_RULES, NON_POSITIVE_FISHER


@dataclass(frozen=True)
class TRPOConfig:
    ALGORITHM: ClassVar[str] = "trpo"
    POLICIES: ClassVar[Tuple[str, ...]] = POLICY_CLASSES

    env: str = env_option()
    env_kwargs: dict = env_kwargs_option()
    seed: int = rank_seed_option()
    num_timesteps: int = summed_timesteps_option()
    timesteps_per_batch: int = option(
        1024, "env steps per rank per iteration (split evenly over --envs-per-rank)")
    envs_per_rank: int = envs_per_rank_option()
    max_kl: float = option(0.01, "KL radius of each policy step")
    cg_iters: int = option(10, "conjugate-gradient iterations")
    cg_damping: float = option(0.1, "damping added to the Fisher-vector product")
    fvp_subsample: int = option(5, "Fisher-vector products use every n-th sample")
    max_backtracks: int = option(10, "line-search halvings before the step is abandoned")
    fisher: str = option(
        "kl-hessian", "matrix of the natural-gradient step: the Hessian of the sample KL "
        "(the original's) or the sample Fisher of the score vectors (positive semi-definite; "
        "not in the original)", choices=FISHER_RULES)
    non_positive_fisher: str = option(
        "skip-step", "a batch whose step direction has a non-positive Fisher quadratic form: "
        "skip the policy step only, or drop the whole batch (no value-function fit, no log "
        "row, its steps and episodes not counted), as the original's flow runner did",
        choices=NON_POSITIVE_FISHER)
    timestep_count: str = option(
        "collected", "what TimestepsSoFar (and so --num-timesteps) counts: every step "
        "collected, or only the steps of finished episodes, as the original did (it then runs "
        "for more env steps than --num-timesteps)", choices=TIMESTEP_COUNTS)
    gamma: float = option(0.99, "discount")
    lam: float = option(0.98, "GAE lambda")
    bootstrap_truncation: bool = bootstrap_truncation_option()
    entcoeff: float = option(0.0, "entropy bonus coefficient in the surrogate")
    vf_hidden_sizes: tuple = option((32, 32), "tanh hidden layers of the value function")
    vf_iters: int = option(5, "value-function epochs per iteration")
    vf_stepsize: float = option(1e-3, "value-function Adam step size")
    vf_batch_size: int = option(64, "value-function minibatch size")
    policy: PolicyConfig = dataclasses.field(default_factory=PolicyConfig)
    logdir: str = logdir_option()
    save_every: int = save_every_option()

    def __post_init__(self):
        require(self.num_timesteps > 0, "--num-timesteps must be positive")
        require(self.timesteps_per_batch > 0, "--timesteps-per-batch must be positive")
        require_envs_per_rank(self.envs_per_rank, self.timesteps_per_batch)
        require(self.max_kl > 0, "--max-kl must be positive")
        require(self.cg_iters > 0, "--cg-iters must be positive")
        require(self.cg_damping >= 0, "--cg-damping must be >= 0")
        require(self.fvp_subsample >= 1, "--fvp-subsample must be >= 1")
        require(self.max_backtracks >= 1, "--max-backtracks must be >= 1")
        require(self.fisher in FISHER_RULES,
                f"--fisher must be one of {', '.join(FISHER_RULES)}, not {self.fisher!r}")
        require(self.non_positive_fisher in NON_POSITIVE_FISHER,
                f"--non-positive-fisher must be one of {', '.join(NON_POSITIVE_FISHER)}")
        require(self.timestep_count in TIMESTEP_COUNTS,
                f"--timestep-count must be one of {', '.join(TIMESTEP_COUNTS)}")
        require(0 <= self.gamma <= 1, "--gamma must be in [0, 1]")
        require(0 <= self.lam <= 1, "--lam must be in [0, 1]")
        require(self.vf_iters >= 0, "--vf-iters must be >= 0")
        require(self.vf_stepsize > 0, "--vf-stepsize must be positive")
        require(self.save_every >= 1, "--save-every must be >= 1")
        require(0 < self.vf_batch_size <= self.timesteps_per_batch,
                "--vf-batch-size must be in [1, timesteps-per-batch]")

    @staticmethod
    def original_flags(policy: str) -> Dict[str, object]:
        """The flags (names without dashes) that `--original` sets for `policy`: what the
        original's TRPO runners computed (docs/divergences.md)."""
        flags = dict(bootstrap_truncation=False, timestep_count="finished-episodes")
        if policy == "gaussian":  # baselines' variable filter left the log-std untrained
            flags["log_std"] = "fixed"
        elif policy == "gmm":
            flags["gmm_log_density"] = "original"
        elif policy == "flow":  # its runner's `continue`; tf.contrib's layer_norm
            flags.update(non_positive_fisher="drop-batch", layer_norm_hessian="original")
        return flags

    @property
    def run_name(self) -> str:
        return f"trpo-{env_name_in_paths(self.env)}-{self.policy.policy}-seed{self.seed}"
