"""ACKTR hyperparameters. Defaults are the original's (`run_acktr_normflow.py`,
`acktr_cont.learn`, and the K-FAC settings of its policy and `NeuralNetValueFunction`)."""
import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Dict, Tuple

from onpolicy_flows.common.config import (
    bootstrap_truncation_option,
    logdir_option,
    option,
    require,
    save_every_option,
)
from onpolicy_flows.envs.factory import env_kwargs_option, env_name_in_paths, env_option
from onpolicy_flows.policies import PolicyConfig

ACKTR_POLICIES = ("gaussian", "flow", "beta", "tanh-gaussian")
# The L2 coefficient baselines' ACKTR Gaussian gives its policy's kernels; it enters only the
# damping of their K-FAC blocks (`weight_decay_damping`), not the policy's loss.
POLICY_WEIGHT_DECAY = 3e-4
TIMESTEP_COUNTS = ("collected", "batch-size")


@dataclass(frozen=True)
class ACKTRConfig:
    ALGORITHM: ClassVar[str] = "acktr"
    POLICIES: ClassVar[Tuple[str, ...]] = ACKTR_POLICIES

    env: str = env_option()
    env_kwargs: dict = env_kwargs_option()
    seed: int = option(0, "seed of the environment, the networks and the sampling noise")
    num_timesteps: int = option(1_000_000, "stop after this many env steps")
    timesteps_per_batch: int = option(
        2500, "collect whole episodes until MORE than this many steps per iteration")
    gamma: float = option(0.99, "discount")
    lam: float = option(0.97, "GAE lambda")
    bootstrap_truncation: bool = bootstrap_truncation_option()
    cut_policy_batch: bool = option(
        False, "the policy's step and its KL use only the first --timesteps-per-batch steps "
               "of the batch (--timesteps-per-batch / ranks on each rank), as the original's "
               "flow ACKTR with its static shapes; "
               "the value function still fits the whole batch")
    timestep_count: str = option(
        "collected", "what TimestepsSoFar (and so --num-timesteps) counts: the steps "
        "collected, or --timesteps-per-batch per iteration, as the original's flow ACKTR",
        choices=TIMESTEP_COUNTS)
    weight_decay_damping: bool = option(
        False, "add each Dense layer's L2 coefficient to the damping of its K-FAC block, as "
               "the original did: the value function's --vf-weight-decay, and "
               f"{POLICY_WEIGHT_DECAY} for the policy's layers of every class but the flow "
               "(the original declared it for its Gaussian; its flow declared none)")
    obs_clip: float = option(10.0, "the observation filter clips standardised values here")
    desired_kl: float = option(
        0.002, "target KL per iteration: the policy's learning rate is divided by 1.5 above "
               "2x this, multiplied by 1.5 below half of it")
    policy_stepsize: float = option(0.03, "initial K-FAC learning rate of the policy")
    min_policy_stepsize: float = option(1e-8, "lower bound of the adapted learning rate")
    max_policy_stepsize: float = option(1.0, "upper bound of the adapted learning rate")
    kfac_momentum: float = option(0.9, "K-FAC momentum (policy and value function)")
    policy_damping: float = option(1e-2, "policy K-FAC damping")
    policy_clip_kl: float = option(0.01, "policy K-FAC bound on each step's quadratic KL")
    policy_stats_decay: float = option(0.99, "policy K-FAC moving-average decay of A and G")
    policy_kfac_update: int = option(2, "policy: eigen-decompose the factors every n steps")
    policy_cold_iter: int = option(1, "policy: plain momentum-SGD steps before K-FAC")
    vf_hidden_sizes: tuple = option((64, 64), "ELU hidden layers of the value function")
    vf_iters: int = option(25, "value-function K-FAC steps per iteration (full batch)")
    vf_stepsize: float = option(1e-3, "value-function K-FAC learning rate")
    vf_damping: float = option(0.1, "value-function K-FAC damping")
    vf_clip_kl: float = option(0.3, "value-function K-FAC bound on each step's quadratic KL")
    vf_stats_decay: float = option(0.95, "value-function K-FAC moving-average decay")
    vf_kfac_update: int = option(2, "value function: eigen-decompose every n steps")
    vf_cold_iter: int = option(50, "value function: plain momentum-SGD steps before K-FAC")
    vf_weight_decay: float = option(3e-4, "L2 coefficient on the value function's kernels")
    policy: PolicyConfig = dataclasses.field(
        default_factory=lambda: PolicyConfig(hidden_sizes=(64, 64), mean_init_scale=0.1))
    logdir: str = logdir_option()
    save_every: int = save_every_option()

    def __post_init__(self):
        require(self.save_every >= 1, "--save-every must be >= 1")
        require(self.policy.policy in ACKTR_POLICIES,
                f"ACKTR supports --policy {' or '.join(ACKTR_POLICIES)}, "
                f"not {self.policy.policy!r}")
        require(self.num_timesteps > 0, "--num-timesteps must be positive")
        require(self.timesteps_per_batch > 0, "--timesteps-per-batch must be positive")
        require(0 <= self.gamma <= 1, "--gamma must be in [0, 1]")
        require(0 <= self.lam <= 1, "--lam must be in [0, 1]")
        require(self.timestep_count in TIMESTEP_COUNTS,
                f"--timestep-count must be one of {', '.join(TIMESTEP_COUNTS)}")
        require(self.obs_clip > 0, "--obs-clip must be positive")
        require(self.desired_kl > 0, "--desired-kl must be positive")
        require(0 < self.min_policy_stepsize <= self.policy_stepsize
                <= self.max_policy_stepsize,
                "need 0 < --min-policy-stepsize <= --policy-stepsize <= --max-policy-stepsize")
        require(0 <= self.kfac_momentum < 1, "--kfac-momentum must be in [0, 1)")
        for prefix in ("policy", "vf"):
            flag = "--" + prefix.replace("_", "-")
            require(getattr(self, f"{prefix}_damping") > 0, f"{flag}-damping must be positive")
            require(getattr(self, f"{prefix}_clip_kl") > 0, f"{flag}-clip-kl must be positive")
            require(0 <= getattr(self, f"{prefix}_stats_decay") < 1,
                    f"{flag}-stats-decay must be in [0, 1)")
            require(getattr(self, f"{prefix}_kfac_update") >= 1,
                    f"{flag}-kfac-update must be >= 1")
            require(getattr(self, f"{prefix}_cold_iter") >= 1, f"{flag}-cold-iter must be >= 1")
        require(len(self.vf_hidden_sizes) > 0 and min(self.vf_hidden_sizes) > 0,
                "--vf-hidden-sizes must be one or more positive integers")
        require(self.vf_iters >= 0, "--vf-iters must be >= 0")
        require(self.vf_stepsize > 0, "--vf-stepsize must be positive")
        require(self.vf_weight_decay >= 0, "--vf-weight-decay must be >= 0")

    @staticmethod
    def original_flags(policy: str) -> Dict[str, object]:
        """The flags (names without dashes) that `--original` sets for `policy`: what
        baselines' ACKTR (the Gaussian) and the original's flow ACKTR computed
        (docs/divergences.md)."""
        flags = dict(bootstrap_truncation=False, weight_decay_damping=True)
        if policy == "flow":  # its static 2500-row placeholders, and its count
            flags.update(cut_policy_batch=True, timestep_count="batch-size")
        return flags

    @property
    def run_name(self) -> str:
        return f"acktr-{env_name_in_paths(self.env)}-{self.policy.policy}-seed{self.seed}"
