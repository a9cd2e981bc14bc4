"""Parity with the original code itself: one TRPO iteration of each policy class against
golden values recorded from the paper's code (`parity/record_golden.py`, which documents every
key of `tests/fixtures/golden_trpo_<policy>.npz`). Its "step" cases (CASES) are run here:
the three policies' iterations (the GMM's line search halves its step once) and the flow's
`golden_trpo_flow_backtrack.npz`, whose line search halves its step BACKTRACKS times; the
"negative" cases (non-positive Fisher quadratic form) in test_parity_trpo_negative.py.

Each test loads the original's weights into this package's policy, value function and
observation filter (one mapping function per policy below), feeds the recorded batch and
noise, and compares. Our objects are configured as the original ran: the Gaussian with
`log_std="fixed"`, the GMM with `gmm_log_density="original"`, the flow with
`layer_norm_hessian="original"`.

Tolerances (measured differences in brackets, the largest of the three policies): both
sides compute in float32 with different operation orders and kernels, so they agree to
float32 rounding amplified by depth and by conjugate gradient. Relative to the largest entry
of the expected value: forward values (actions, log-densities, entropies) 5e-5 [4e-6, the
flow's actions after 8 couplings]; first derivatives (the surrogate's and the value
function's gradients) and Fisher-vector products 1e-4 [7e-6]; what passes through CG (the
direction, shs, lm, the accepted step, the new parameters, the surrogate after the step)
5e-3 [4e-4: 10 CG iterations on the ill-conditioned sample-KL Hessian amplify the products'
rounding ~25x]; the sample KL after the step 2e-4 absolute (2% of max_kl) [1.4e-5]; the
value function's parameters after Adam 2e-6 absolute [1.8e-7]; the filter's float64
statistics 1e-12 relative. Every bound is about ten times the difference measured, except
the line search's surrogate improvements, which trpo_step logs to 3 decimals (1e-3).

Known differences (docs/divergences.md, parity/README.md) are asserted as relations:
  * the flow's log-density (and its entropy estimate) drops log N's constant (d/2) log 2 pi;
  * the entropy logged by our TRPO objective comes from the batch's actions; the original's
    from fresh samples: `Policy.entropy` is compared instead, with the original's noise fed;
  * the GMM's logged "entropy" is not an entropy estimate: see `test_entropy`.
"""
import contextlib
from pathlib import Path
from typing import Dict, List, Optional, Tuple
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.mpi_adam import MpiAdam
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.value_function import ValueFunction
from onpolicy_flows.policies import PolicyConfig
from onpolicy_flows.policies.factory import make_policy
from onpolicy_flows.trpo_mpi.cg import conjugate_gradient
from onpolicy_flows.trpo_mpi.policy_step import (
    PolicyBatch,
    StepSettings,
    TRPOObjective,
    trpo_step,
)
from onpolicy_flows.trpo_mpi.trpo import _standardise

tfd = tfp.distributions

FIXTURES = Path(__file__).parent / "fixtures"
POLICIES = ("flow", "gmm", "gaussian")
# run's cases: (policy, fixture, whether our CG reproduces the original's direction); the
# ids of the first three are the policies'
STEP_CASES = {"flow": ("flow", "golden_trpo_flow.npz", True),
              "gmm": ("gmm", "golden_trpo_gmm.npz", True),
              "gaussian": ("gaussian", "golden_trpo_gaussian.npz", True),
              "flow_backtrack": ("flow", "golden_trpo_flow_backtrack.npz", False)}
LOSS_NAMES = ("optimgain", "meankl", "entloss", "surrgain", "entropy")
HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)
FVP_SUBSAMPLE = 5  # the original's Fisher-vector products use rows [::5]
# tolerances (module docstring)
FORWARD, DERIVATIVE, AFTER_CG = 5e-5, 1e-4, 5e-3
FROM_RECORDED_DIRECTION = DERIVATIVE  # the step from the original's own direction
STEP_TOLERANCE = {"our CG direction": AFTER_CG,
                  "the original's direction": FROM_RECORDED_DIRECTION}
KL_AFTER_STEP, VALUE_FUNCTION = 2e-4, 2e-6

# --------------------------------------------------------------------------------------
# The original's variable names -> ours. An entry (original name, our variable, row): the
# original's array is our whole variable (row None) or row `row` of it, reshaped to fit.
Correspondence = List[Tuple[str, tf.Variable, Optional[int]]]


def _dense(scope: str, dense, kernel: str = "w", bias: str = "b") -> Correspondence:
    return [(f"{scope}/{kernel}:0", dense.kernel, None), (f"{scope}/{bias}:0", dense.bias, None)]


def _layer_mlp(scope: str, mlp) -> Correspondence:
    """The original's `model.Layer` (tf.layers.dense `dense`, contrib LayerNorm `LayerNorm`,
    `dense_1`, `LayerNorm_1`, output `dense_2`) -> our MLP with layer norm."""
    entries = []
    for index, (dense, norm) in enumerate(zip(mlp.hidden, mlp.norms)):
        suffix = f"_{index}" if index else ""
        entries += _dense(f"{scope}/dense{suffix}", dense, "kernel", "bias")
        entries += [(f"{scope}/LayerNorm{suffix}/gamma:0", norm.scale, None),
                    (f"{scope}/LayerNorm{suffix}/beta:0", norm.offset, None)]
    return entries + _dense(f"{scope}/dense_{len(mlp.hidden)}", mlp.output, "kernel", "bias")


def flow_correspondence(policy) -> Correspondence:
    """`TRPOImplicitPolicy`: coupling i's s and t nets are pi/policy/Nlayer_i/{s,t}, the
    state embedding pi/policy/statelayer."""
    entries = []
    for index, (scale, shift) in enumerate(zip(policy.scale_nets, policy.shift_nets)):
        entries += _layer_mlp(f"pi/policy/Nlayer_{index}/s", scale)
        entries += _layer_mlp(f"pi/policy/Nlayer_{index}/t", shift)
    return entries + _layer_mlp("pi/policy/statelayer", policy.state_embedding)


def gmm_correspondence(policy) -> Correspondence:
    """`TRPOGMMPolicy`: trunk polfc1, polfc2 (our trunk's hidden and output layers, tanh
    after both); head k polfinal_k; log-std k logstd_k [1, d] = row k of our log_stds."""
    scope = "pi/policy/forward"
    entries = _dense(f"{scope}/polfc1", policy.trunk.hidden[0])
    entries += _dense(f"{scope}/polfc2", policy.trunk.output)
    for k, head in enumerate(policy.mean_heads):
        entries += _dense(f"{scope}/polfinal_{k}", head)
        entries.append((f"{scope}/logstd_{k}:0", policy.log_stds, k))
    return entries


def gaussian_correspondence(policy) -> Correspondence:
    """baselines' ppo1 `MlpPolicy`: polfc1, polfc2, polfinal; pi/logstd [1, d] (not trained
    by the original, nor by ours with log_std="fixed")."""
    net = policy.mean_net
    return (_dense("pi/polfc1", net.hidden[0]) + _dense("pi/polfc2", net.hidden[1])
            + _dense("pi/polfinal", net.output) + [("pi/logstd:0", policy.log_std, None)])


def value_correspondence(value_function, scope: str) -> Correspondence:
    """vffc1, vffc2, vffinal under pi/value (flow, GMM) or pi (Gaussian)."""
    net = value_function.net
    return (_dense(f"{scope}/vffc1", net.hidden[0]) + _dense(f"{scope}/vffc2", net.hidden[1])
            + _dense(f"{scope}/vffinal", net.output))


def filter_correspondence(normalizer: RunningMeanStd, scope="pi/obfilter") -> Correspondence:
    return [(f"{scope}/runningsum:0", normalizer.sum, None),
            (f"{scope}/runningsumsq:0", normalizer.sumsq, None),
            (f"{scope}/count:0", normalizer.count, None)]


POLICY_CORRESPONDENCE = {"flow": flow_correspondence, "gmm": gmm_correspondence,
                         "gaussian": gaussian_correspondence}
VALUE_SCOPE = {"flow": "pi/value", "gmm": "pi/value", "gaussian": "pi"}


def ours_from_original(entries: Correspondence,
                       values: Dict[str, np.ndarray]) -> List[Tuple[tf.Variable, np.ndarray]]:
    """Our variables' values from the original's {name: array}; every variable of ours in
    `entries` is filled completely (test_every_variable_is_mapped_once checks the rest)."""
    assembled = {}
    for name, variable, row in entries:
        target = assembled.setdefault(id(variable), (variable, np.full(variable.shape, np.nan)))[1]
        if row is None:
            target[...] = values[name].reshape(target.shape)
        else:
            target[row] = values[name].reshape(target.shape[1:])
    for variable, value in assembled.values():
        assert not np.isnan(value).any(), f"{variable.name} not fully mapped"
    return list(assembled.values())


def assign(entries: Correspondence, values: Dict[str, np.ndarray]) -> None:
    for variable, value in ours_from_original(entries, values):
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))


def split_flat(golden: dict, key: str, flat: np.ndarray) -> Dict[str, np.ndarray]:
    """An original flat vector (gradient, direction, ...) as {variable name: array}, by the
    recorded offsets `key`/<name> and the variables' shapes."""
    pieces = {}
    for entry, (start, stop) in ((k, v) for k, v in golden.items() if k.startswith(key + "/")):
        name = entry[len(key) + 1:]
        pieces[name] = flat[start:stop].reshape(golden[f"init/{name}"].shape)
    return pieces


def to_our_flat(entries: Correspondence, variables, pieces: Dict[str, np.ndarray]) -> np.ndarray:
    """The original's flat vector, as {name: array}, in the order of our flat `variables`."""
    in_flat = [entry for entry in entries if entry[0] in pieces]  # not the fixed log-std
    by_variable = {id(v): value for v, value in ours_from_original(in_flat, pieces)}
    return np.concatenate([by_variable[id(v)].ravel() for v in variables]).astype(np.float32)


# --------------------------------------------------------------------------------------
# Fed noise: our policies draw through TFP distributions; within `fed_noise` they draw the
# recorded noise instead.
class FedNormal(tfd.Normal):
    """loc + scale * FedNormal.noise (broadcast to [n, *batch_shape]) instead of draws."""
    noise = None

    def _sample_n(self, n, seed=None):
        loc, scale = tf.convert_to_tensor(self.loc), tf.convert_to_tensor(self.scale)
        return loc + scale * tf.constant(FedNormal.noise, loc.dtype)


class FedCategorical(tfd.Categorical):
    """FedCategorical.indices [n, *batch_shape] instead of draws."""
    indices = None

    def _sample_n(self, n, seed=None):
        return tf.constant(FedCategorical.indices, tf.int32)


@contextlib.contextmanager
def fed_noise(policy, normal: np.ndarray, components: Optional[np.ndarray] = None):
    """Within, `policy`'s distributions sample the standard normal noise `normal`
    [n, batch, act_dim] (and the GMM its component indices `components` [n, batch])."""
    build = policy._distribution

    def with_fed_noise(features):
        dist = build(features)
        if hasattr(dist, "bijector"):  # the flow: N(0, I) through a chain
            base = dist.distribution.distribution
            return tfd.TransformedDistribution(
                tfd.Independent(FedNormal(base.loc, base.scale), 1), dist.bijector)
        if isinstance(dist, tfd.MixtureSameFamily):  # the GMM: components [batch, K, d]
            parts = dist.components_distribution.distribution
            return type(dist)(FedCategorical(logits=dist.mixture_distribution.logits),
                              tfd.Independent(FedNormal(parts.loc, parts.scale), 1))
        parts = dist.distribution  # the Gaussian
        return tfd.Independent(FedNormal(parts.loc, parts.scale), 1)

    is_gmm = components is not None
    FedNormal.noise = normal[:, :, None, :] if is_gmm else normal
    FedCategorical.indices = components
    try:
        with mock.patch.object(policy, "_distribution", with_fed_noise):
            yield
    finally:
        FedNormal.noise = FedCategorical.indices = None


class RecordedOrder:
    """Stands in for ValueFunction.fit's numpy Generator: its permutations are the
    original's recorded minibatch orders, one per epoch."""

    def __init__(self, orders):
        self.orders = list(orders)

    def permutation(self, num_rows):
        order = self.orders.pop(0)
        assert len(order) == num_rows
        return order


# --------------------------------------------------------------------------------------
def assert_close(actual, expected, tolerance: float, what: str, atol: float = 0.0):
    """|actual - expected| <= tolerance * max|expected| + atol, entrywise."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    bound = tolerance * np.abs(expected).max() + atol
    error = np.abs(actual - expected).max()
    assert error <= bound, f"{what}: max difference {error:.3g} > {bound:.3g}"


class Reproduction:
    """Our objects loaded with the original's weights at the start of its iteration, and
    everything recomputed from the golden batch and noise, in the order of the original's
    iteration: sample, update the filter, gradient, Fisher products, CG, step, value fit."""

    def __init__(self, kind: str, fixture: Optional[str] = None, cg_reproducible: bool = True):
        fixture = fixture or f"golden_trpo_{kind}.npz"
        self.cg_reproducible = cg_reproducible
        with np.load(FIXTURES / fixture, allow_pickle=False) as data:
            self.golden = {key: data[key] for key in data.files}
        g = self.golden
        self.kind, self.fixture = kind, fixture
        obs_dim, self.act_dim = int(g["meta/obs_dim"]), int(g["meta/act_dim"])
        self.normalizer = RunningMeanStd(obs_dim)
        self.policy, self.old_policy = (
            make_policy(self.config(), obs_dim, self.act_dim, self.normalizer, seed=0,
                        name=name) for name in ("policy", "old_policy"))
        self.value_function = ValueFunction(obs_dim, self.normalizer, (32, 32), seed=1)
        self.entries = POLICY_CORRESPONDENCE[kind](self.policy)
        self.vf_entries = value_correspondence(self.value_function, VALUE_SCOPE[kind])
        self.filter_entries = filter_correspondence(self.normalizer)
        self.init = self.recorded("init")
        self.vf_variables = [v for v, _ in ours_from_original(self.vf_entries, self.init)]
        for entries in (self.entries, POLICY_CORRESPONDENCE[kind](self.old_policy),
                        self.vf_entries, self.filter_entries):
            assign(entries, self.init)
        rows = len(g["batch/actions"])
        self.objective = TRPOObjective(self.policy, self.old_policy, 0.0, batch_size=rows,
                                       fvp_subsample=FVP_SUBSAMPLE)
        self.params_before = self.objective.params.get()
        self.out = {}
        self.compute()

    def config(self) -> PolicyConfig:
        """Ours, configured as the original ran."""
        g = self.golden
        if self.kind == "flow":
            return PolicyConfig(policy="flow", num_layers=int(g["meta/num_layers"]),
                                num_units=int(g["meta/num_units"]),
                                layer_norm_hessian="original")
        if self.kind == "gmm":
            return PolicyConfig(policy="gmm", num_components=int(g["meta/num_components"]),
                                gmm_log_density="original")
        return PolicyConfig(policy="gaussian", log_std="fixed")

    def policy_flat(self, flat: np.ndarray) -> np.ndarray:
        """A recorded flat policy vector, in our parameter order."""
        return to_our_flat(self.entries, self.objective.params.variables,
                           split_flat(self.golden, "policy_flat", flat))

    def recorded(self, prefix: str) -> Dict[str, np.ndarray]:
        """{original variable name: array} of the recorded `prefix`/<name> entries."""
        return {key[len(prefix) + 1:]: value for key, value in self.golden.items()
                if key.startswith(prefix + "/")}

    def vf_values(self, prefix: str) -> List[np.ndarray]:
        """The recorded value-function variables under `prefix`, as ours (vf_variables)."""
        return [value for _, value in ours_from_original(self.vf_entries,
                                                         self.recorded(prefix))]

    def compute(self):
        g, policy, objective, out = self.golden, self.policy, self.objective, self.out
        observations, actions = g["batch/observations"], g["batch/actions"]
        advantages, returns = g["batch/advantages"], g["batch/returns"]
        # acting: the batch's actions were drawn before the filter took the batch
        action_noise = {"normal": g["noise/actions"][None]}
        if self.kind == "gmm":
            action_noise["components"] = g["noise/action_components"][None]
        with fed_noise(policy, **action_noise):
            out["actions"] = policy.sample(observations)[0].numpy()
        self.normalizer.update(observations)
        out["filter"] = [v.numpy() for _, v, _ in self.filter_entries]
        # at the pre-step parameters
        out["log_prob"] = policy.log_prob(observations, actions).numpy()
        out["entropy"] = self.entropy(observations)
        objective.old_params.set(self.params_before)
        losses, gradient, old_log_probs = objective.losses_and_gradient(
            observations, actions, advantages)
        out["losses"], out["gradient"] = losses.numpy(), gradient.numpy()
        fvp_batch = PolicyBatch(observations, actions, advantages,
                                old_log_probs.numpy()).subsample(FVP_SUBSAMPLE)
        out["fvp_rows"] = len(fvp_batch.actions)
        damping = float(g["meta/cg_damping"])

        def fisher_vector_product(vector):
            return objective.fisher_vector_product("kl-hessian", fvp_batch, vector) \
                + damping * vector
        out["fvp"] = np.stack([fisher_vector_product(self.policy_flat(vector))
                               for vector in g["fvp/vectors"]])
        out["direction"] = direction = conjugate_gradient(
            fisher_vector_product, out["gradient"], int(g["meta/cg_iters"]))
        out["shs"] = 0.5 * direction.dot(fisher_vector_product(direction))
        with np.errstate(invalid="ignore"):  # NaN where shs < 0, as in the original's GMM
            out["lm"] = np.sqrt(out["shs"] / float(g["meta/max_kl"]))
        # the original's direction: our Fisher product and quadratic form there
        recorded_direction = self.policy_flat(g["cg/direction"])
        out["fisher_recorded_direction"] = fisher_vector_product(recorded_direction)
        out["shs_recorded_direction"] = 0.5 * recorded_direction.dot(
            out["fisher_recorded_direction"])
        out["gradient_curvature"] = out["gradient"].dot(fisher_vector_product(out["gradient"]))
        # the whole step, by our trpo_step: from our CG's direction, then from the original's
        batch = PolicyBatch(observations, actions, advantages, old_log_probs.numpy())
        settings = StepSettings(float(g["meta/max_kl"]), int(g["meta/cg_iters"]), damping,
                                FVP_SUBSAMPLE, max_backtracks=10)
        fed = self.take_step(settings, batch, recorded_direction, fisher_vector_product)
        own = self.take_step(settings, batch, None, fisher_vector_product)
        out["steps"] = {"our CG direction": own, "the original's direction": fed}
        out.update(own)  # stats, messages, improvements, params_after, entropy_after
        if "vf/orders" not in g:  # the flow's dropped batch: no value-function fit
            return
        # the value function: the recorded minibatch orders, one epoch, then the rest
        vf, batch_size = self.value_function, int(g["meta/vf_batch_size"])
        first_rows = g["vf/orders"][0][:batch_size]
        out["vf_first_gradient"] = vf.loss_gradient(observations[first_rows],
                                                    returns[first_rows]).numpy()
        optimizer, orders = MpiAdam(vf.net.trainable_variables), RecordedOrder(g["vf/orders"])
        stepsize, epochs = float(g["meta/vf_stepsize"]), len(g["vf/orders"])
        vf.fit(optimizer, observations, returns, 1, batch_size, stepsize, orders)
        out["vf_epoch1"] = [v.numpy() for v in self.vf_variables]
        vf.fit(optimizer, observations, returns, epochs - 1, batch_size, stepsize, orders)
        out["vf_last_epoch"] = [v.numpy() for v in self.vf_variables]
        out["epochs"] = epochs

    def take_step(self, settings: StepSettings, batch: PolicyBatch,
                  direction: Optional[np.ndarray], fisher_vector_product) -> dict:
        """Our trpo_step from the parameters before the step, its conjugate gradient replaced
        by `direction` unless None; what it returned and logged, the parameters and entropy
        after it, and (where shs > 0) optimgain..entropy at each of the original's trial step
        sizes times this full step. Leaves the parameters after the step."""
        g, objective = self.golden, self.objective
        objective.params.set(self.params_before)
        messages = []
        replaced = contextlib.nullcontext() if direction is None else mock.patch(
            "onpolicy_flows.trpo_mpi.policy_step.conjugate_gradient",
            lambda *args, **kwargs: direction.copy())
        with replaced:
            stats = trpo_step(objective, PolicyBatch(batch.observations, batch.actions,
                                                     batch.advantages), settings,
                              messages.append)
        step = {"stats": stats, "messages": messages,
                "improvements": [float(message.split("Actual: ")[1]) for message in messages
                                 if message.startswith("Expected")],  # one per trial, %.3f
                "params_after": objective.params.get(),
                "entropy_after": self.entropy(batch.observations)}
        objective.params.set(self.params_before)  # the Fisher products are taken there
        if direction is None:
            direction = conjugate_gradient(fisher_vector_product, self.out["gradient"],
                                           settings.cg_iters)  # trpo_step's
        shs = 0.5 * direction.dot(fisher_vector_product(direction))
        if shs > 0 and "linesearch/stepsizes" in g:
            full_step = direction / np.sqrt(shs / settings.max_kl)
            step["trial_losses"] = []
            for stepsize in g["linesearch/stepsizes"]:
                objective.params.set((self.params_before + stepsize * full_step)
                                     .astype(np.float32))
                step["trial_losses"].append(objective.mean_losses(batch))
        objective.params.set(step["params_after"])
        return step

    def step_paths(self):
        """(label, take_step's result) of the steps to compare with the original's: from
        the original's direction always, from our CG's where it reproduces it."""
        steps = self.out["steps"]
        return [(label, steps[label]) for label in steps
                if self.cg_reproducible or label == "the original's direction"]

    def entropy(self, observations) -> Optional[float]:
        """Mean of our `Policy.entropy` over the batch, the flow's samples drawn from the
        original's entropy noise (the Gaussian's is closed form); None for the GMM."""
        g, policy = self.golden, self.policy
        if self.kind == "gmm":
            return None  # nothing of ours matches what the original computes (test_entropy)
        if self.kind == "gaussian":
            return float(tf.reduce_mean(policy.entropy(observations)))
        samples = int(g["meta/entropy_samples"])
        noise = g["noise/entropy"].reshape(samples, len(observations), self.act_dim)
        with fed_noise(policy, noise):
            return float(tf.reduce_mean(policy.entropy(observations)))


@pytest.fixture(scope="module", params=list(STEP_CASES))
def run(request) -> Reproduction:
    return Reproduction(*STEP_CASES[request.param])


# --------------------------------------------------------------------------------------
def test_every_variable_is_mapped_once(run):
    """Each original pi/ variable has exactly one place in ours and every variable of ours
    (policy, value function, filter) gets one; the flat vectors' layouts agree in size."""
    entries = run.entries + run.vf_entries + run.filter_entries
    names = [name for name, _, _ in entries]
    assert sorted(names) == sorted(run.init), set(names) ^ set(run.init)
    ours = {id(v) for _, v, _ in entries}
    expected = {id(v) for v in run.policy.trainable_variables
                + run.value_function.trainable_variables} \
        | {id(v) for v in run.normalizer.variables}
    if run.kind == "gaussian":
        expected.add(id(run.policy.log_std))  # not trainable, as in the original's step
    assert ours == expected
    assert run.objective.params.size == len(run.golden["gradient"])


def test_observation_filter(run):
    """The running statistics after adding the batch (float64)."""
    g = run.golden
    for name, value in zip(("runningsum", "runningsumsq", "count"), run.out["filter"]):
        np.testing.assert_allclose(value, g[f"obfilter_updated/{name}"], rtol=1e-12)


def test_advantage_standardisation(run):
    """Ours divides by std + 1e-8, the original by std: equal to float32 rounding."""
    g = run.golden
    assert_close(_standardise(g["batch/advantages_raw"]), g["batch/advantages"], 1e-6,
                 "standardised advantages")


def test_actions_from_noise(run):
    """Policy.sample with the original's acting noise gives the original's actions."""
    assert_close(run.out["actions"], run.golden["batch/actions"], FORWARD, "actions")


def test_log_densities(run):
    """log pi(a|s) of the batch; the flow's original drops (d/2) log 2 pi."""
    expected = run.golden["log_prob"]
    if run.kind == "flow":
        expected = expected - run.act_dim * HALF_LOG_2PI
    assert_close(run.out["log_prob"], expected, FORWARD, "log pi(a|s)")


def test_entropy(run):
    """Before and after the step (Reproduction.step_paths). Flow: our Policy.entropy with
    the original's 10 samples per state = the original's + (d/2) log 2 pi. Gaussian: both
    closed form. GMM: see `original_gmm_entropy`."""
    g, out = run.golden, run.out
    before, after = g["losses/before"][4], g["after_step/losses"][4]
    if run.kind == "gmm":
        for parameters, expected in ((run.params_before, before),
                                     *((step["params_after"], after)
                                       for _, step in run.step_paths())):
            run.objective.params.set(parameters)
            assert_close(original_gmm_entropy(run), expected, FORWARD, "GMM logged entropy")
        return
    shift = run.act_dim * HALF_LOG_2PI if run.kind == "flow" else 0.0
    assert_close(out["entropy"], before + shift, FORWARD, "entropy before the step")
    for label, step in run.step_paths():
        assert_close(step["entropy_after"], after + shift, FORWARD,
                     f"entropy after the step from {label}")


def original_gmm_entropy(run) -> float:
    """What the original GMM logs as `entropy`, from our densities: it is not an entropy
    estimate. Its forward sample `exp(logstd_final) * noise + mean_final` multiplies the
    selected std [B, 1, d] by the noise [B, d], so the sample is [B, B, d]:
    y_ij = mean_{k_i}(s_i) + std_{k_i} eps_j for every pair of rows; `build_entropy` then
    subtracts the means [B, d] of every state j, averages the component log-densities
    (the original's density) over all pairs (i, j), and negates the negative
    log-densities it computed once more:  mean_ij log pi_orig(y_ij | s_j)  (about -4.3 on
    this batch, where the entropy of the policy is about +2.7)."""
    g, policy = run.golden, run.policy
    observations = g["batch/observations"]
    rows = len(observations)
    noise = np.broadcast_to(g["noise/entropy_sample"][:, None, :], (rows, rows, run.act_dim))
    components = np.broadcast_to(g["noise/entropy_component"][None, :], (rows, rows))
    dist = policy.distribution(observations)
    with fed_noise(policy, noise, components):  # draw n = j of state i: y_ji
        samples = policy.distribution(observations).sample(rows)  # [j, i, d]
    pairs = tf.transpose(samples, [1, 0, 2])  # [i, j, d]: evaluated at state j
    return float(tf.reduce_mean(dist.log_prob(pairs)))


def test_surrogate_and_gradient(run):
    g, out = run.golden, run.out
    for index in (0, 1, 2, 3):  # optimgain, meankl (0), entloss (0), surrgain
        assert_close(out["losses"][index], g["losses/before"][index], 0.0,
                     LOSS_NAMES[index], atol=1e-6)
    assert_close(out["gradient"], run.policy_flat(g["gradient"]), DERIVATIVE, "gradient")


def test_fisher_vector_products(run):
    """KL-Hessian products on rows [::5] plus damping 0.1 v, for two fixed vectors."""
    g, out = run.golden, run.out
    assert out["fvp_rows"] == int(g["meta/fvp_rows"])
    for ours, theirs in zip(out["fvp"], g["fvp/products"]):
        assert_close(ours, run.policy_flat(theirs), DERIVATIVE, "Fisher-vector product")


def test_conjugate_gradient_and_step_size(run):
    """10 CG iterations (damping 0.1), then shs = 0.5 d.(F + 0.1) d and lm = sqrt(shs/max_kl).
    At the original's direction d: our (F + 0.1) d and shs. Our own CG's direction, shs and
    lm where it reproduces the original's; where it does not (the flow's backtrack case), the
    reason: the sample KL's Hessian is indefinite, already along the gradient (g.(F + 0.1) g
    < 0, CG's first curvature), so CG amplifies float32 rounding without bound (a relative
    perturbation of 1e-7 of the gradient changes its direction by tens of percent)."""
    g, out = run.golden, run.out
    assert_close(out["fisher_recorded_direction"], run.policy_flat(g["step/fisher_direction"]),
                 DERIVATIVE, "(F + 0.1) d at the original's direction")
    assert_close(out["shs_recorded_direction"], g["step/shs"], DERIVATIVE,
                 "shs at the original's direction")
    if not run.cg_reproducible:
        assert out["gradient_curvature"] < 0
        return
    assert_close(out["direction"], run.policy_flat(g["cg/direction"]), AFTER_CG, "direction")
    assert_close(out["shs"], g["step/shs"], AFTER_CG, "shs")
    assert_close(out["lm"], g["step/lm"], AFTER_CG, "lm")


def test_line_search_and_new_parameters(run):
    """Our trpo_step, as a whole (Reproduction.step_paths: from our CG's direction where it
    reproduces the original's, and from the original's direction): the same trials (their
    surrogate improvements, which it logs to 3 decimals), the same accepted step and
    parameters, the same sample KL and surrogate after the step. The GMM's line search
    halves its first step once, the flow's backtrack case at least once."""
    g = run.golden
    improvements = g["linesearch/losses"][:, 0] - g["losses/before"][0]
    accepted_step = g["linesearch/stepsizes"][-1] * g["step/full_step"]
    new_parameters = to_our_flat(run.entries, run.objective.params.variables,
                                 run.recorded("after_step"))
    after = dict(zip(LOSS_NAMES, g["after_step/losses"]))
    for label, step in run.step_paths():
        tolerance = STEP_TOLERANCE[label]
        assert len(step["improvements"]) == len(improvements), label
        assert_close(step["improvements"], improvements, 0.0,
                     f"logged improvements from {label}", atol=1e-3)
        assert step["stats"]["step_accepted"] == g["linesearch/accepted"], label
        assert_close(step["params_after"] - run.params_before, run.policy_flat(accepted_step),
                     tolerance, f"accepted step from {label}")
        assert_close(step["params_after"], new_parameters, tolerance,
                     f"new parameters from {label}")
        assert_close(step["stats"]["meankl"], after["meankl"], 0.0, f"meankl from {label}",
                     atol=KL_AFTER_STEP)
        for name in ("surrgain", "optimgain"):
            assert_close(step["stats"][name], after[name], tolerance, f"{name} from {label}")


# trpo_step's (and the original's) log line for each verdict of a line-search trial
VERDICT_MESSAGES = {"Got non-finite value of losses -- bad!": "non-finite",
                    "violated KL constraint. shrinking step.": "KL over 1.5 max_kl",
                    "surrogate didn't improve. shrinking step.": "no improvement",
                    "Stepsize OK!": "accepted"}


def original_verdicts(golden: dict) -> List[str]:
    """The verdict of each recorded trial, by the original's rule."""
    before, max_kl = golden["losses/before"][0], float(golden["meta/max_kl"])
    verdicts = []
    for surrogate, kl, *_ in golden["linesearch/losses"]:
        verdicts.append("non-finite" if not np.isfinite([surrogate, kl]).all()
                        else "KL over 1.5 max_kl" if kl > 1.5 * max_kl
                        else "no improvement" if surrogate - before < 0 else "accepted")
    return verdicts


def our_verdicts(messages: List[str]) -> List[str]:
    return [VERDICT_MESSAGES[message] for message in messages if message in VERDICT_MESSAGES]


def test_every_line_search_trial(run):
    """Each trial of the original's line search (step sizes 1, 1/2, ...): optimgain,
    surrgain and the sample KL at the full step times its size (Reproduction.step_paths),
    and the verdict our trpo_step logged for it (KL over 1.5 max_kl, no improvement,
    accepted). The backtrack case's first trial is rejected for its KL."""
    g = run.golden
    expected = g["linesearch/losses"]
    for label, step in run.step_paths():
        tolerance = STEP_TOLERANCE[label]
        assert len(step["trial_losses"]) == len(expected), label
        for index, (ours, theirs) in enumerate(zip(step["trial_losses"], expected)):
            for name in ("optimgain", "surrgain"):
                column = LOSS_NAMES.index(name)
                assert_close(ours[column], theirs[column], tolerance,
                             f"trial {index} from {label}: {name}")
            assert_close(ours[1], theirs[1], tolerance, f"trial {index} from {label}: meankl",
                         atol=KL_AFTER_STEP)
        assert our_verdicts(step["messages"]) == original_verdicts(g), label
    if run.fixture == STEP_CASES["flow_backtrack"][1]:
        assert len(expected) >= 2 and original_verdicts(g)[0] == "KL over 1.5 max_kl"


def assert_value_function_fit(run: "Reproduction"):
    """MpiAdam (step 1e-3) on minibatches of 64 in the original's order: the first
    minibatch's gradient, the parameters after one epoch and after all five."""
    g, out = run.golden, run.out
    flat = to_our_flat(run.vf_entries, run.value_function.net.trainable_variables,
                       split_flat(g, "vf_flat", g["vf/first_gradient"]))
    assert_close(out["vf_first_gradient"], flat, DERIVATIVE, "value-function gradient")
    for key, epoch in (("vf_epoch1", 1), ("vf_last_epoch", out["epochs"])):
        for ours, theirs in zip(out[key], run.vf_values(f"vf/epoch{epoch}")):
            assert_close(ours, theirs, 0.0, f"value function after epoch {epoch}",
                         atol=VALUE_FUNCTION)


def test_value_function_fit(run):
    assert_value_function_fit(run)
