"""The port's INITIAL parameters are drawn from the same distributions as the original's.

The golden parity tests (test_parity_trpo.py, test_parity_acktr.py) load the original's
weights, so they cannot see how the port initialises its own.
tests/fixtures/initial_distributions_original.npz (parity/record_initial_distributions.py,
whose docstring lists its keys) describes the original's initial parameters, measured from
its five runners (seeds 0-9, each runner's own train() stopped once its weights were
initialised, on TRPO Hopper-v4's spaces, observation 11 and action 3, and ACKTR Ant-v4's,
observation pair 2 x 27 and action 8): for every variable group (the original's variable
names, the flow's couplings pooled as Nlayer_*) the constant all its values had, or the
deciles of its values pooled over the seeds and their number per seed; and the flows' initial
entropy estimate on the original's scale (which drops (d/2) log 2 pi).

Here the port's policy and value function are built for the same seeds as its learners build
them (trpo.py, acktr.py: the policy from the seed, the value function from
`value_function_seed(seed)`, the configs' defaults; `test_built_as_the_learners_build_them`
checks this against the learners themselves for one seed: a learner per seed would take twice
as long). Every group must have the original's number of values and the original's constant,
or a distribution whose empirical CDF at the original's inner deciles is within the two-sample
Kolmogorov-Smirnov bound at level 0.1% for n values on either side, KS_COEFFICIENT
sqrt(2 / n), plus 1/n (the original's own CDF at its deciles is within 1/n of 10%, ..., 90%).
The flows' entropy estimates, averaged over the seeds, must agree within ENTROPY_TOLERANCE.
Needs only the fixture and this package.
"""
import dataclasses
import functools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.acktr.acktr import (
    ACKTRLearner,
    PolicyUpdate,
    make_policy_optimizer,
    make_value_function,
    value_feature_dim,
)
from onpolicy_flows.acktr.config import ACKTRConfig
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.seeding import value_function_seed
from onpolicy_flows.common.value_function import ValueFunction
from onpolicy_flows.policies.factory import make_policy
from onpolicy_flows.trpo_mpi.config import TRPOConfig
from onpolicy_flows.trpo_mpi.trpo import TRPOLearner

REFERENCE = Path(__file__).parent / "fixtures" / "initial_distributions_original.npz"
CASES = {"trpo_flow": ("trpo", "flow"), "trpo_gmm": ("trpo", "gmm"),
         "trpo_gaussian": ("trpo", "gaussian"), "acktr_flow": ("acktr", "flow"),
         "acktr_gaussian": ("acktr", "gaussian")}
INNER_DECILES = np.linspace(0.1, 0.9, 9)  # the fixture's deciles but its minimum and maximum
KS_COEFFICIENT = 1.95  # two-sample Kolmogorov-Smirnov critical value at level 0.001
ENTROPY_TOLERANCE = 0.03  # about 7 standard errors of the difference of two 10-seed means
ENTROPY_OBSERVATION_SEED = 1234  # the recorder's observations ~ N(0, 1)
LEARNER_CHECK_SEED = 3  # any seed: test_built_as_the_learners_build_them
ENTROPY_ROWS = 1024  # ours: the first 1024 of the recorder's 1024 (TRPO) or 2500 (ACKTR)


@pytest.fixture(scope="module")
def reference() -> dict:
    """{key: array} of the fixture (keys: parity/record_initial_distributions.py)."""
    with np.load(REFERENCE) as data:
        return {key: data[key] for key in data.files}


def dimensions(reference: dict, case: str) -> tuple:
    """(the policy's input dimension, act_dim) of `case`: ACKTR's policy sees the current
    and the previous observation."""
    obs_dim, act_dim = (int(reference[f"meta/{case}/{key}"]) for key in ("obs_dim", "act_dim"))
    return (obs_dim if CASES[case][0] == "trpo" else 2 * obs_dim), act_dim


def learner_config(case: str, seed: int):
    """The learner's default configuration with `case`'s policy class."""
    algorithm, kind = CASES[case]
    config_class = TRPOConfig if algorithm == "trpo" else ACKTRConfig
    return config_class(seed=seed,
                        policy=dataclasses.replace(config_class().policy, policy=kind))


def trpo_models(config: TRPOConfig, obs_dim: int, act_dim: int) -> tuple:
    """(policy, value function) as TRPOLearner builds them."""
    normalizer = RunningMeanStd(obs_dim)
    policy = make_policy(config.policy, obs_dim, act_dim, normalizer, seed=config.seed,
                         name="policy")
    value_function = ValueFunction(obs_dim, normalizer, config.vf_hidden_sizes,
                                   seed=value_function_seed(config.seed))
    return policy, value_function


@functools.cache
def acktr_feature_dim(case: str, pair_dim: int, act_dim: int) -> int:
    """The width of ACKTR's value-function input for `case`, measured as ACKTRLearner
    measures it; built once per case."""
    config = learner_config(case, 0)
    policy, old_policy = (make_policy(config.policy, pair_dim, act_dim, None, seed=config.seed,
                                      name=name) for name in ("policy", "old_policy"))
    update = PolicyUpdate(policy, old_policy, make_policy_optimizer(config, policy))
    return value_feature_dim(update, pair_dim, act_dim)


def acktr_models(config: ACKTRConfig, case: str, pair_dim: int, act_dim: int) -> tuple:
    """(policy, value function) as ACKTRLearner builds them."""
    policy = make_policy(config.policy, pair_dim, act_dim, None, seed=config.seed,
                         name="policy")
    return policy, make_value_function(config, acktr_feature_dim(case, pair_dim, act_dim))


def build(case: str, seed: int, reference: dict) -> tuple:
    """(policy, value function) of `case` for `seed`, as its learner builds them."""
    config = learner_config(case, seed)
    if CASES[case][0] == "trpo":
        return trpo_models(config, *dimensions(reference, case))
    return acktr_models(config, case, *dimensions(reference, case))


def _dense(groups: dict, name: str, dense, kernel: str = "w", bias: str = "b") -> None:
    """Adds a Dense layer's kernel [in, out] and bias [out] as the original's `name`/w, /b
    (or the tf.layers names kernel, bias)."""
    groups.setdefault(f"{name}/{kernel}", []).append(dense.kernel)
    groups.setdefault(f"{name}/{bias}", []).append(dense.bias)


def _layer_mlp(groups: dict, prefix: str, mlp) -> None:
    """The original's model.Layer: dense, LayerNorm, dense_1, LayerNorm_1, dense_2."""
    for index, (dense, norm) in enumerate(zip(mlp.hidden, mlp.norms)):
        suffix = f"_{index}" if index else ""
        _dense(groups, f"{prefix}/dense{suffix}", dense, "kernel", "bias")
        groups.setdefault(f"{prefix}/LayerNorm{suffix}/gamma", []).append(norm.scale)
        groups.setdefault(f"{prefix}/LayerNorm{suffix}/beta", []).append(norm.offset)
    _dense(groups, f"{prefix}/dense_{len(mlp.hidden)}", mlp.output, "kernel", "bias")


def _mlp(groups: dict, mlp, names) -> None:
    """A plain MLP whose layers the original names `names` (hidden ones, then the output)."""
    for name, dense in zip(names, [*mlp.hidden, mlp.output]):
        _dense(groups, name, dense)


def policy_groups(policy, case: str) -> dict:
    """{the original's group name: [variables]} of a policy."""
    algorithm, kind = CASES[case]
    groups = {}
    if kind == "flow":
        for scale, shift in zip(policy.scale_nets, policy.shift_nets):
            _layer_mlp(groups, "Nlayer_*/s", scale)
            _layer_mlp(groups, "Nlayer_*/t", shift)
        _layer_mlp(groups, "statelayer", policy.state_embedding)
    elif kind == "gmm":
        _mlp(groups, policy.trunk, ("polfc1", "polfc2"))
        for k, head in enumerate(policy.mean_heads):
            _dense(groups, f"polfinal_{k}", head)
            groups[f"logstd_{k}"] = [policy.log_stds[k]]
    else:
        names = ("polfc1", "polfc2", "polfinal") if algorithm == "trpo" else ("h1", "h2", "mean")
        _mlp(groups, policy.mean_net, [f"pi/{name}" for name in names])
        groups["pi/logstd"] = [policy.log_std]
    return groups


def parameter_groups(policy, value_function, case: str) -> dict:
    """{the original's group name: [values] (arrays)} of a policy and its value function."""
    groups = policy_groups(policy, case)
    if CASES[case][0] == "trpo":
        _mlp(groups, value_function.net, ("pi/vffc1", "pi/vffc2", "pi/vffinal"))
    else:
        _mlp(groups, value_function.net, ("vf/h1", "vf/h2", "vf/hfinal"))
    return {name: [np.asarray(v) for v in variables] for name, variables in groups.items()}


@pytest.fixture(scope="module")
def built(reference) -> dict:
    """{case: [(policy, value function) per seed of the fixture]}."""
    return {case: [build(case, int(seed), reference) for seed in reference["meta/seeds"]]
            for case in CASES}


def distribution_mismatch(values: np.ndarray, reference: dict, key: str,
                          num_seeds: int) -> str:
    """'' if `values` (ours, pooled over the seeds) fit the original's group `key`, else why."""
    constant = reference.get(f"{key}/constant")
    if constant is not None:
        return "" if np.all(values == constant) else f"not all {float(constant)}"
    original_count = int(reference[f"{key}/count_per_seed"]) * num_seeds
    if values.size != original_count:
        return f"{values.size // num_seeds} values per seed, the original's " \
               f"{original_count // num_seeds}"
    deciles = reference[f"{key}/deciles"]  # [11]: minimum, 10%, ..., 90%, maximum
    cdf = np.searchsorted(np.sort(values), deciles[1:-1], side="right") / values.size
    distance = float(np.max(np.abs(cdf - INNER_DECILES)))
    bound = KS_COEFFICIENT * np.sqrt(2.0 / values.size) + 1.0 / values.size
    if distance <= bound:
        return ""
    return f"CDF at the original's deciles off by {distance:.3f} (bound {bound:.3f}); " \
           f"ours {np.quantile(values, np.linspace(0, 1, 11)).round(5)}, the original's " \
           f"{deciles.round(5)}"


@pytest.mark.parametrize("case", CASES)
def test_initial_parameters_match_the_originals_distributions(case, reference, built):
    """Every group of the original's variables, pooled over the seeds (module docstring)."""
    expected = {key[len(case) + 1:].rsplit("/", 1)[0] for key in reference
                if key.startswith(case + "/") and "entropy" not in key}
    runs = [parameter_groups(policy, value_function, case)
            for policy, value_function in built[case]]
    assert set(runs[0]) == expected, "groups differ from the original's variables"
    failures = []
    for group in sorted(expected):
        values = np.concatenate([np.ravel(a) for groups in runs for a in groups[group]])
        mismatch = distribution_mismatch(values, reference, f"{case}/{group}", len(runs))
        if mismatch:
            failures.append(f"{group}: {mismatch}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", ["trpo_flow", "acktr_flow"])
def test_initial_flow_entropy_on_the_originals_scale(case, reference, built):
    """The original's: -mean log pi of its own samples (10 per state) at 1024 (TRPO) or
    2500 (ACKTR) observations ~ N(0, 1); ours at the first ENTROPY_ROWS of them."""
    obs_dim = dimensions(reference, case)[0]
    observations = np.random.RandomState(ENTROPY_OBSERVATION_SEED) \
        .standard_normal((ENTROPY_ROWS, obs_dim)).astype(np.float32)  # [rows, obs_dim]
    ours = [float(tf.reduce_mean(policy.entropy(observations)))
            - policy.original_log_density_shift for policy, _ in built[case]]
    original = reference[f"{case}/entropy_original_scale"]  # [seeds]
    assert abs(np.mean(ours) - np.mean(original)) < ENTROPY_TOLERANCE, (ours, original)


class SpacesOnly(gym.Env):
    """An environment with what a learner reads when it is built: its spaces and a reset."""

    def __init__(self, obs_dim: int, act_dim: int):
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (act_dim,), np.float32)

    def reset(self, *, seed=None, options=None):
        return np.zeros(self.observation_space.shape, np.float32), {}


@pytest.mark.parametrize("case", CASES)
def test_built_as_the_learners_build_them(case, reference):
    """This file's `build` gives the learner's own initial weights."""
    obs_dim, act_dim = (int(reference[f"meta/{case}/{key}"]) for key in ("obs_dim", "act_dim"))
    learner_class = TRPOLearner if CASES[case][0] == "trpo" else ACKTRLearner
    learner = learner_class(learner_config(case, LEARNER_CHECK_SEED), None,
                            env=SpacesOnly(obs_dim, act_dim))
    policy, value_function = build(case, LEARNER_CHECK_SEED, reference)
    for ours, theirs in ((policy, learner.policy),
                         (value_function.net, learner.value_function.net)):
        assert len(ours.trainable_variables) == len(theirs.trainable_variables)
        for built_variable, learner_variable in zip(ours.trainable_variables,
                                                    theirs.trainable_variables):
            np.testing.assert_array_equal(built_variable.numpy(), learner_variable.numpy())
