"""Builds the policy a `PolicyConfig` names."""
from typing import Optional

from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.policies.base import Policy
from onpolicy_flows.policies.beta import BetaPolicy
from onpolicy_flows.policies.box import Bounds, action_box
from onpolicy_flows.policies.config import PolicyConfig
from onpolicy_flows.policies.flow import FlowPolicy
from onpolicy_flows.policies.gaussian import GaussianPolicy
from onpolicy_flows.policies.gmm import GMMPolicy
from onpolicy_flows.policies.tanh_gaussian import TanhGaussianPolicy


def make_policy(config: PolicyConfig, obs_dim: int, act_dim: int,
                obs_normalizer: Optional[RunningMeanStd], seed: int, name: str,
                action_bounds: Optional[Bounds] = None) -> Policy:
    """Builds the policy that `config` names. The same seed gives the same initial weights.
    `action_bounds` (low, high) [act_dim] is the box the bounded classes (beta,
    tanh-gaussian) put their actions in: TRPO passes the env's action box; without it, [-1, 1],
    where ACKTR's policies act (its collector maps [-1, 1] onto the env's box). The other
    classes ignore it."""
    if config.policy == "beta":
        return BetaPolicy(obs_dim, act_dim, obs_normalizer, seed,
                          action_box(action_bounds, act_dim),
                          hidden_sizes=config.hidden_sizes,
                          output_init_scale=config.mean_init_scale, name=name)
    if config.policy == "tanh-gaussian":
        return TanhGaussianPolicy(obs_dim, act_dim, obs_normalizer, seed,
                                  action_box(action_bounds, act_dim),
                                  hidden_sizes=config.hidden_sizes,
                                  mean_init_scale=config.mean_init_scale,
                                  log_std=config.log_std, name=name)
    if config.policy == "gaussian":
        return GaussianPolicy(obs_dim, act_dim, obs_normalizer, seed,
                              hidden_sizes=config.hidden_sizes,
                              mean_init_scale=config.mean_init_scale, log_std=config.log_std,
                              name=name)
    if config.policy == "gmm":
        return GMMPolicy(obs_dim, act_dim, obs_normalizer, seed,
                         num_components=config.num_components,
                         hidden_sizes=config.hidden_sizes,
                         log_density=config.gmm_log_density, name=name)
    return FlowPolicy(obs_dim, act_dim, obs_normalizer, seed, num_layers=config.num_layers,
                      num_units=config.num_units, layer_norm_hessian=config.layer_norm_hessian,
                      name=name)
