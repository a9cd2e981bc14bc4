"""PPO hyperparameters. Defaults are the original's: `other_baselines/ppo_*/run_ppo_*.py` of
onpolicybaselines, the `ppo2.learn` and `Model` it calls, baselines' ppo2 `MlpPolicy` and its
`VecNormalize` (docs/divergences.md lists where this port differs)."""
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
from onpolicy_flows.ppo.vec_normalize import NORMALIZER_UPDATES


@dataclass(frozen=True)
class PPOConfig:
    ALGORITHM: ClassVar[str] = "ppo"
    POLICIES: ClassVar[Tuple[str, ...]] = POLICY_CLASSES

    env: str = env_option()
    env_kwargs: dict = env_kwargs_option()
    seed: int = rank_seed_option()
    num_timesteps: int = summed_timesteps_option()
    timesteps_per_batch: int = option(
        2048, "env steps per rank per iteration (ppo2's nsteps; split evenly over "
              "--envs-per-rank)")
    envs_per_rank: int = envs_per_rank_option()
    num_minibatches: int = option(
        32, "minibatches per epoch; each rank's batch is split into this many")
    epochs: int = option(10, "passes over the batch per iteration")
    learning_rate: float = option(3e-4, "Adam step size (constant, as in the original)")
    adam_epsilon: float = option(1e-5, "Adam epsilon")
    max_grad_norm: float = option(
        0.5, "the rank-averaged gradient of the whole loss is rescaled to at most this "
             "global norm")
    clip_range: float = option(
        0.2, "probability ratios are clipped to [1 - c, 1 + c], value predictions to "
             "c around the old ones")
    entcoeff: float = option(0.0, "entropy bonus coefficient in the loss")
    vf_coeff: float = option(0.5, "value-loss coefficient in the loss")
    gamma: float = option(0.99, "discount (also of the returns that scale the rewards)")
    lam: float = option(0.95, "GAE lambda")
    bootstrap_truncation: bool = bootstrap_truncation_option()
    normalizer_updates: str = option(
        "per-batch", "when the observation and return statistics take new data: once per "
        "batch after collecting it (the policy and value function normalise raw observations "
        "themselves), or at every env step as the original's VecNormalize did (one env, one "
        "process; the networks then see the observations normalised while acting)",
        choices=NORMALIZER_UPDATES)
    reset_running_return: bool = option(
        True, "restart the discounted return that scales the rewards at every episode end "
              "(--no-reset-running-return: let it run on across episodes, as the original's "
              "VecNormalize did)")
    obs_clip: float = option(10.0, "standardised observations are clipped to [-c, c]")
    reward_clip: float = option(
        10.0, "rewards divided by the running std of the discounted return are clipped to "
              "[-c, c]")
    vf_hidden_sizes: tuple = option(
        (64, 64), "tanh hidden layers of the value function (separate from the policy's)")
    policy: PolicyConfig = dataclasses.field(
        default_factory=lambda: PolicyConfig(hidden_sizes=(64, 64)))
    logdir: str = logdir_option()
    save_every: int = save_every_option()

    def __post_init__(self):
        require(self.num_timesteps > 0, "--num-timesteps must be positive")
        require(self.timesteps_per_batch > 0, "--timesteps-per-batch must be positive")
        require_envs_per_rank(self.envs_per_rank, self.timesteps_per_batch)
        require(self.num_minibatches >= 1, "--num-minibatches must be >= 1")
        require(self.timesteps_per_batch % self.num_minibatches == 0,
                f"--timesteps-per-batch ({self.timesteps_per_batch}) must be a multiple of "
                f"--num-minibatches ({self.num_minibatches})")
        require(self.epochs >= 1, "--epochs must be >= 1")
        require(self.learning_rate > 0, "--learning-rate must be positive")
        require(self.adam_epsilon > 0, "--adam-epsilon must be positive")
        require(self.max_grad_norm > 0, "--max-grad-norm must be positive")
        require(self.clip_range > 0, "--clip-range must be positive")
        require(self.vf_coeff >= 0, "--vf-coeff must be >= 0")
        require(0 <= self.gamma <= 1, "--gamma must be in [0, 1]")
        require(0 <= self.lam <= 1, "--lam must be in [0, 1]")
        require(self.normalizer_updates in NORMALIZER_UPDATES,
                f"--normalizer-updates must be one of {', '.join(NORMALIZER_UPDATES)}")
        require(self.normalizer_updates == "per-batch" or self.envs_per_rank == 1,
                "--normalizer-updates per-step normalises one env, as the original: use "
                "--envs-per-rank 1")
        require(self.obs_clip > 0, "--obs-clip must be positive")
        require(self.reward_clip > 0, "--reward-clip must be positive")
        require(len(self.vf_hidden_sizes) > 0 and min(self.vf_hidden_sizes) > 0,
                "--vf-hidden-sizes must be one or more positive integers")
        require(self.save_every >= 1, "--save-every must be >= 1")

    @property
    def minibatch_size(self) -> int:
        """Rows per minibatch on each rank."""
        return self.timesteps_per_batch // self.num_minibatches

    @staticmethod
    def original_flags(policy: str) -> Dict[str, object]:
        """The flags (names without dashes) that `--original` sets, for every policy: what
        the original's ppo2 under its VecNormalize computed (docs/divergences.md)."""
        return dict(bootstrap_truncation=False, normalizer_updates="per-step",
                    reset_running_return=False)

    @property
    def run_name(self) -> str:
        return f"ppo-{env_name_in_paths(self.env)}-{self.policy.policy}-seed{self.seed}"
