"""Which policy to build, as settings (no TensorFlow here, so that the tools that only read
runs' settings, such as run.reproduce, start at once)."""
from dataclasses import dataclass
from typing import Tuple

from onpolicy_flows.common.config import option, require

LOG_STDS = ("learned", "fixed")  # the (tanh-)Gaussian's log-std: trained, or fixed at 0
GMM_LOG_DENSITIES = ("mixture", "original")  # the GMM's: the mixture's, or the original's
LAYER_NORM_HESSIANS = ("exact", "original")  # the flow's LayerNorm second derivatives
POLICY_CLASSES = ("gaussian", "gmm", "flow", "beta", "tanh-gaussian")


@dataclass(frozen=True)
class PolicyConfig:
    """Which policy class, and its sizes (defaults: the original TRPO's)."""
    policy: str = option("gaussian", "policy class", choices=POLICY_CLASSES)
    hidden_sizes: Tuple[int, ...] = option(
        (32, 32), "tanh hidden layers of the (tanh-)Gaussian mean net, the GMM trunk and the "
                  "Beta's concentration net")
    mean_init_scale: float = option(
        0.01, "(tanh-)Gaussian and Beta: column norm of the net's initial output layer "
              "(ACKTR: 0.1)")
    log_std: str = option(
        "learned", "(tanh-)Gaussian: learned, or fixed at its initial 0 (std 1; not trained, "
                   "outside the Fisher and the step), as the original's TRPO Gaussian was",
        choices=LOG_STDS)
    num_components: int = option(2, "GMM: number of equally weighted components K")
    gmm_log_density: str = option(
        "mixture", "GMM: the log-density of ratios, KL and entropy: mixture (the density of "
                   "the sampled mixture), or original, the mean of the component "
                   "log-densities as in the original code; to measure that difference",
        choices=GMM_LOG_DENSITIES)
    num_layers: int = option(
        4, "flow: number of coupling PAIRS (alternating masks); the chain has 2 x num-layers "
           "affine couplings, as in the original code (the paper's K counts couplings)")
    num_units: int = option(3, "flow: hidden units of each coupling's s and t nets")
    layer_norm_hessian: str = option(
        "exact", "flow: second derivatives through LayerNorm (TRPO's Fisher-vector product): "
                 "exact, or original, whose variance stops the gradient through the mean "
                 "(the original's tf.contrib layer_norm; values and first derivatives are "
                 "the same); to measure that difference", choices=LAYER_NORM_HESSIANS)

    def __post_init__(self):
        require(self.policy in POLICY_CLASSES,
                f"--policy must be one of {', '.join(POLICY_CLASSES)}, not {self.policy!r}")
        require(len(self.hidden_sizes) > 0 and min(self.hidden_sizes) > 0,
                "--hidden-sizes must be one or more positive integers")
        require(self.mean_init_scale > 0, "--mean-init-scale must be positive")
        require(self.log_std in LOG_STDS,
                f"--log-std must be one of {', '.join(LOG_STDS)}, not {self.log_std!r}")
        require(self.log_std == "learned" or self.policy in ("gaussian", "tanh-gaussian"),
                f"--log-std fixed applies to the gaussian and tanh-gaussian policies, not "
                f"{self.policy}")
        require(self.num_components >= 1, "--num-components must be >= 1")
        require(self.gmm_log_density in GMM_LOG_DENSITIES,
                f"--gmm-log-density must be one of {', '.join(GMM_LOG_DENSITIES)}")
        require(self.num_layers >= 1, "--num-layers must be >= 1")
        require(self.num_units >= 1, "--num-units must be >= 1")
        require(self.layer_norm_hessian in LAYER_NORM_HESSIANS,
                f"--layer-norm-hessian must be one of {', '.join(LAYER_NORM_HESSIANS)}")
