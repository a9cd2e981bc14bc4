"""The port's ACKTR policy updates against the original's, value for value.

tests/fixtures/golden_acktr_{flow,gaussian}.npz were recorded from the original code
(parity/record_golden_acktr.py: the original's flow `ACKTRImplicitPolicy` and baselines' acktr
`GaussianMlpPolicy` with their `KfacOptimizer`s, as acktr_cont builds them, on Ant-v4's
dimensions: observation pair 2 x 27, action 8). Each file holds five policy updates from the
original's initial weights, each on a batch of 200 rows of its own, with the original's
asynchronous eigen-decompositions run synchronously where its queue-runner thread would run
them. Here the recorded weights are loaded into the port's policy and `KFACOptimizer`, which
then runs the same five updates on its own (its own weights, velocities, statistics and step
size) and must reproduce, at every update: the log-densities, both losses, the gradients of
the loss and of the sampled (Fisher) loss, every K-FAC statistic (which statistics each
variable gets, with how many rows), the eigen-decompositions, the clipped preconditioned
step and its quadratic KL estimate, the weights after the step, the KL on the batch and the
adapted step size. Reads only the fixtures and this package.

The original's graph leaves the order of some ops of an update open (whether update 0 takes
the K-FAC optimiser's momentum step; whether a cold step's gradients read weights that the
same step already moved): the recorder keeps only runs that took the step, as the runner did
in every run measured, and that read the weights before the update (see its docstring).
"""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from onpolicy_flows.acktr.acktr import PolicyUpdate, adapted_stepsize
from onpolicy_flows.acktr.config import POLICY_WEIGHT_DECAY, ACKTRConfig
from onpolicy_flows.acktr.kfac import KFACOptimizer, dense_layers
from onpolicy_flows.common.networks import Dense, record_calls
from onpolicy_flows.policies.flow import FlowPolicy
from onpolicy_flows.policies.gaussian import GaussianPolicy

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")
POLICIES = ("flow", "gaussian")
DEFAULTS = ACKTRConfig()  # the original's step-size bounds (1e-8, 1) and desired KL


def load_golden(policy):
    data = np.load(os.path.join(FIXTURES, f"golden_acktr_{policy}.npz"))
    return {key: data[key] for key in data.files}, json.loads(str(data["meta"]))


def unpack(flat, entries):
    """{name: array} from a packed array and meta's [name, shape] entries."""
    arrays, at = {}, 0
    for name, shape in entries:
        size = int(np.prod(shape))
        arrays[name] = flat[at:at + size].reshape(shape)
        at += size
    assert at == flat.size
    return arrays


def _mlp_variables(mlp, prefix, dense_names, norm_names=()):
    """{original name: our variable} for an MLP whose layers the original named in order."""
    mapping = {}
    for dense, name in zip([*mlp.hidden, mlp.output], dense_names):
        mapping[f"{prefix}/{name}/{'kernel' if 'dense' in name else 'w'}:0"] = dense.kernel
        mapping[f"{prefix}/{name}/{'bias' if 'dense' in name else 'b'}:0"] = dense.bias
    for norm, name in zip(mlp.norms, norm_names):
        mapping[f"{prefix}/{name}/gamma:0"] = norm.scale
        mapping[f"{prefix}/{name}/beta:0"] = norm.offset
    return mapping


def build(policy_name, meta):
    """Our policy, its old copy and its optimizer with the original's settings, and
    {original variable name: our variable}."""
    obs_dim, act_dim = 2 * meta["ob_dim"], meta["ac_dim"]
    settings = meta["settings"]

    def make(name):
        if policy_name == "flow":
            return FlowPolicy(obs_dim, act_dim, None, seed=0, num_layers=meta["num_layers"],
                              num_units=meta["num_units"], name=name)
        return GaussianPolicy(obs_dim, act_dim, None, seed=0, hidden_sizes=(64, 64),
                              mean_init_scale=0.1, name=name)
    policy, old_policy = make("policy"), make("old_policy")
    if policy_name == "flow":
        base, dense, norms = "pi/normflowpi/policy", ("dense", "dense_1", "dense_2"), \
            ("LayerNorm", "LayerNorm_1")
        mapping = _mlp_variables(policy.state_embedding, f"{base}/statelayer", dense, norms)
        for index, (scale, shift) in enumerate(zip(policy.scale_nets, policy.shift_nets)):
            mapping.update(_mlp_variables(scale, f"{base}/Nlayer_{index}/s", dense, norms))
            mapping.update(_mlp_variables(shift, f"{base}/Nlayer_{index}/t", dense, norms))
    else:
        mapping = _mlp_variables(policy.mean_net, "pi", ("h1", "h2", "mean"))
        mapping["pi/logstd:0"] = policy.log_std
    assert sorted(mapping) == sorted(name for name, _ in meta["variables"])
    assert {id(v) for v in mapping.values()} == {id(v) for v in policy.trainable_variables}
    # the original declares weight decay only for the Gaussian's kernels (3e-4), which it
    # adds to their blocks' damping: our --weight-decay-damping, which --original sets
    decays = {value for value in settings["weight_decay"].values() if value}
    assert decays <= {POLICY_WEIGHT_DECAY}
    optimizer = KFACOptimizer(
        dense_layers(policy), policy.trainable_variables,
        learning_rate=settings["learning_rate"], momentum=settings["momentum"],
        clip_kl=settings["clip_kl"], damping=settings["damping"],
        stats_decay=settings["stats_decay"], kfac_update=settings["kfac_update"],
        cold_iter=settings["cold_iter"],
        weight_decay_damping=POLICY_WEIGHT_DECAY if decays else 0.0)
    return policy, old_policy, optimizer, mapping


def replay(policy_name):
    """Our values at every recorded update, next to the original's."""
    golden, meta = load_golden(policy_name)
    policy, old_policy, optimizer, mapping = build(policy_name, meta)
    initial = unpack(golden["var"], meta["variables"])
    for name, variable in mapping.items():
        variable.assign(initial[name])
    update = PolicyUpdate(policy, old_policy, optimizer)
    name_of = {id(v): name for name, v in mapping.items()}
    params = optimizer.params
    # the Normal's constant, which the original's flow drops from its log-density
    constant = 0.5 * meta["ac_dim"] * np.log(2 * np.pi) if policy_name == "flow" else 0.0
    updates = []
    for k in range(meta["updates"]):
        prefix = f"u{k}/"
        obs, actions, adv = (golden[prefix + key] for key in ("obs", "actions", "adv"))
        ours = dict(stepsize=float(optimizer.learning_rate.numpy()))
        with tf.GradientTape(persistent=True) as tape:
            with record_calls() as calls:
                loss, sampled_loss = update._losses(obs, actions, adv)
        ours["logp"] = policy.log_prob(obs, actions).numpy() + constant
        ours["value_statistic"] = update._statistics(obs, actions).numpy()
        ours["loss"], ours["loss_sampled"] = float(loss), float(sampled_loss) - constant
        gradients = tape.gradient(loss, params)
        ours["grad"] = {name_of[id(v)]: g.numpy() for v, g in zip(params, gradients)}
        ours["sgrad"] = {name_of[id(v)]: g.numpy()
                         for v, g in zip(params, tape.gradient(sampled_loss, params))}
        ours["stat_batch"] = [s.numpy() for s in
                              optimizer._batch_statistics(tape, sampled_loss, calls)]
        ours["rows"] = _rows(optimizer, calls, name_of)
        del tape
        # the learner's compiled step, run eagerly: old-policy copy, K-FAC update, KL
        step = update._step(tf.constant(obs), tf.constant(actions), tf.constant(adv))
        ours["vfv"], ours["kl"] = float(step[1]), float(step[2])
        ours["factor_step"] = int(optimizer.factor_updates.numpy())
        ours["eigen"] = [(block.eigenvalues.numpy(), block.eigenvectors.numpy())
                         for block in optimizer._blocks()]
        if ours["factor_step"] > 0:  # the clipped direction this update stepped along
            directions = optimizer.preconditioned(gradients)
            vfv = optimizer.learning_rate ** 2 * tf.add_n(
                [tf.reduce_sum(d * g) for d, g in zip(directions, gradients)])
            scale = float(tf.minimum(1.0, tf.sqrt(optimizer.clip_kl / vfv)))
            ours["scale"] = scale
            ours["precond"] = {name_of[id(v)]: scale * d.numpy()
                               for v, d in zip(params, directions)}
        ours["after"] = {name_of[id(v)]: v.numpy() for v in params}
        ours["velocity"] = {name_of[id(v)]: u.numpy()
                            for v, u in zip(params, optimizer.velocities)}
        ours["cold_velocity"] = {name_of[id(v)]: u.numpy()
                                 for v, u in zip(params, optimizer.cold_velocities)}
        ours["stat"] = [block.factor.numpy() for block in optimizer._blocks()]
        optimizer.learning_rate.assign(adapted_stepsize(
            ours["stepsize"], ours["kl"], meta["settings"]["desired_kl"],
            DEFAULTS.min_policy_stepsize, DEFAULTS.max_policy_stepsize))
        ours["stepsize_next"] = float(optimizer.learning_rate.numpy())
        updates.append(ours)
    return dict(golden=golden, meta=meta, updates=updates, optimizer=optimizer,
                name_of=name_of, initial=initial)


def _rows(optimizer, calls, name_of):
    """{original variable name: rows of its statistics} from our recorded calls."""
    rows = {}
    for call in calls:
        owner = call.owner
        variables = ([owner.kernel, owner.bias] if isinstance(owner, Dense) else
                     [owner] if isinstance(owner, tf.Variable) else [owner.scale, owner.offset])
        count = 1 if isinstance(owner, tf.Variable) else int(call.outputs.shape[0])
        for variable in variables:
            rows[name_of[id(variable)]] = rows.get(name_of[id(variable)], 0) + count
    return rows


@pytest.fixture(scope="module", params=POLICIES)
def replayed(request):
    return request.param, replay(request.param)


def block_names(run):
    """The original's statistics variable behind each of our blocks, in our block order
    (input blocks, grad blocks, vector blocks)."""
    optimizer, name_of, factors = run["optimizer"], run["name_of"], run["meta"]["factors"]
    kernels = [factors[name_of[id(layer.kernel)]] for layer in optimizer.layers]
    vectors = [factors[name_of[id(optimizer.params[at])]] for at in optimizer._vector_at]
    return ([f["fprop_stats"] for f in kernels] + [f["bprop_stats"] for f in kernels]
            + [f["bprop_stats"] for f in vectors])


def assert_close(ours, theirs, rtol, what, atol=0.0):
    """max |ours - theirs| <= rtol * max |theirs| + atol."""
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    assert ours.shape == theirs.shape, what
    error = np.abs(ours - theirs).max()
    bound = rtol * np.abs(theirs).max() + atol
    assert error <= bound, f"{what}: max error {error:.3g} > {bound:.3g}"


def test_each_variable_gets_the_original_blocks_with_its_rows(replayed):
    """Dense layers: an input and a gradient factor shared by kernel and bias; LayerNorm
    scales and offsets and the log-std: one gradient-only block each; rows: one per sample
    and call (the flow's scale nets run twice, 2 x 200 rows), the log-std's one row."""
    policy_name, run = replayed
    factors = run["meta"]["factors"]
    names = block_names(run)
    assert all(len(n) == 1 for n in names)
    flat = [n[0] for n in names]
    assert sorted(flat) == sorted(name for name, _ in run["meta"]["stats"])  # each once
    ours_rows = run["updates"][0]["rows"]
    for name, factor in factors.items():
        rows = factor["fprop_rows"] or factor["bprop_rows"]
        if rows is None:  # the Gaussian's batch dimension is dynamic: all 200 rows
            rows = run["meta"]["rows"]
        assert ours_rows[name] == rows, name
    if policy_name == "flow":
        scale_kernel = "pi/normflowpi/policy/Nlayer_0/s/dense/kernel:0"
        assert factors[scale_kernel]["fprop_calls"] == 2 and ours_rows[scale_kernel] == 400


@pytest.mark.parametrize("k", range(5))
def test_log_densities_losses_and_gradients(replayed, k):
    _, run = replayed
    ours, golden = run["updates"][k], run["golden"]
    prefix = f"u{k}/"
    variables = run["meta"]["variables"]
    assert_close(ours["logp"], golden[prefix + "logp"], 1e-5, "log pi")
    assert ours["loss"] == pytest.approx(float(golden[prefix + "loss"]), abs=1e-5)
    assert ours["loss_sampled"] == pytest.approx(float(golden[prefix + "loss_sampled"]),
                                                 abs=1e-4)
    for key in ("grad", "sgrad"):
        theirs = unpack(golden[prefix + key], variables)
        for name, value in theirs.items():
            assert_close(ours[key][name], value, 2e-3, f"{key} {name}", atol=1e-7)


@pytest.mark.parametrize("replayed", ["flow"], indirect=True)  # the Gaussian's: mean, std
def test_the_flows_value_function_feature_is_the_originals_log_density(replayed):
    """The original's flow feeds its value function the log-density it computes, without
    the Normal's constant."""
    _, run = replayed
    for k, ours in enumerate(run["updates"]):
        assert_close(ours["value_statistic"][:, 0], run["golden"][f"u{k}/logp"], 1e-5,
                     f"u{k}")


@pytest.mark.parametrize("k", range(5))
def test_kfac_statistics_of_every_block(replayed, k):
    _, run = replayed
    theirs = unpack(run["golden"][f"u{k}/stat_batch"], run["meta"]["stats"])
    for (name,), value in zip(block_names(run), run["updates"][k]["stat_batch"]):
        assert_close(value, theirs[name], 1e-3, name, atol=1e-7)


# Our run follows its own trajectory (its own weights, velocities, statistics, decompositions),
# so float32 differences accumulate over the five updates: values that depend on that state
# are compared to TRAJECTORY_RTOL of their largest entry; the decompositions and the
# preconditioned direction are also checked at the original's own recorded state, tightly.
TRAJECTORY_RTOL = 2e-3


@pytest.mark.parametrize("k", range(5))
def test_running_statistics(replayed, k):
    """The first cold_iter batches averaged with equal weights, then a moving average with
    decay 0.99: exactly so from the original's batch statistics, and as the original's own
    running statistics."""
    _, run = replayed
    golden, meta = run["golden"], run["meta"]
    settings = meta["settings"]
    theirs = unpack(golden[f"u{k}/stat"], meta["stats"])
    for index, ((name,), value) in enumerate(zip(block_names(run),
                                                 run["updates"][k]["stat"])):
        expected = np.zeros_like(value, np.float64)
        for j in range(k + 1):
            batch = unpack(golden[f"u{j}/stat_batch"], meta["stats"])[name]
            if j < settings["cold_iter"]:
                expected += batch / settings["cold_iter"]
            else:
                decay = settings["stats_decay"]
                expected = decay * expected + (1 - decay) * batch
        assert_close(value, expected, 1e-4, name, atol=1e-8)
        assert_close(value, theirs[name], TRAJECTORY_RTOL, name, atol=1e-8)


def _load_eigen(optimizer, run, k):
    """Our blocks set to the eigen-decompositions the original applied at update k."""
    stats, golden = run["meta"]["stats"], run["golden"]
    values = unpack(golden[f"u{k}/eigen_e"], [[n, s[:1]] for n, s in stats])
    vectors = unpack(golden[f"u{k}/eigen_Q"], stats)
    for (name,), block in zip(block_names(run), optimizer._blocks()):
        block.eigenvalues.assign(values[name])
        block.eigenvectors.assign(vectors[name])


def test_eigen_decompositions_on_the_original_schedule(replayed):
    """The original applies new decompositions at updates 2 and 4, of the statistics as
    updates 1 and 3 left them (its thread decomposes once the statistics count is even);
    updates 0 and 1 step without. Ours decomposes the same statistics to the same values."""
    _, run = replayed
    golden, stats = run["golden"], run["meta"]["stats"]
    steps = [int(golden[f"u{k}/factor_step"]) for k in range(run["meta"]["updates"])]
    assert steps == [0, 0, 1, 1, 2]
    assert [u["factor_step"] for u in run["updates"]] == steps
    optimizer = run["optimizer"]
    for k in (2, 4):
        values = unpack(golden[f"u{k}/eigen_e"], [[n, s[:1]] for n, s in stats])
        vectors = unpack(golden[f"u{k}/eigen_Q"], stats)
        decomposed = unpack(golden[f"u{k - 1}/stat"], stats)
        for (name,), block in zip(block_names(run), optimizer._blocks()):
            block.factor.assign(decomposed[name])
            block.decompose()
            e, q = block.eigenvalues.numpy(), block.eigenvectors.numpy()
            theirs = (vectors[name] * values[name]) @ vectors[name].T
            assert_close((q * e) @ q.T, theirs, 1e-4, f"u{k} {name}", atol=1e-8)
            assert_close(e, np.sort(values[name]), 1e-4, f"u{k} {name}", atol=1e-7)
        # and our own run decomposed its own statistics after update k - 1
        for (name,), (e, q) in zip(block_names(run), run["updates"][k]["eigen"]):
            assert_close((q * e) @ q.T, (vectors[name] * values[name]) @ vectors[name].T,
                         TRAJECTORY_RTOL, f"u{k} {name}", atol=1e-8)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_clipped_kfac_direction_and_its_kl_estimate(replayed, k):
    """At the original's gradient, decompositions and step size: the same direction, vFv and
    clip scale; in our own run (our statistics), the same to TRAJECTORY_RTOL."""
    _, run = replayed
    golden, meta = run["golden"], run["meta"]
    prefix = f"u{k}/"
    optimizer, name_of = run["optimizer"], run["name_of"]
    _load_eigen(optimizer, run, 4 if k == 4 else 2)
    gradient = unpack(golden[prefix + "grad"], meta["variables"])
    gradients = [tf.constant(gradient[name_of[id(v)]]) for v in optimizer.params]
    directions = optimizer.preconditioned(gradients)
    rate = float(golden[prefix + "stepsize"])
    vfv = rate ** 2 * sum(float(tf.reduce_sum(d * g)) for d, g in zip(directions, gradients))
    scale = min(1.0, np.sqrt(meta["settings"]["clip_kl"] / vfv))
    assert vfv == pytest.approx(float(golden[prefix + "vFv"]), rel=1e-4)
    assert scale == pytest.approx(float(golden[prefix + "scale"]), rel=1e-4)
    theirs = unpack(golden[prefix + "precond"], meta["variables"])
    for v, d in zip(optimizer.params, directions):
        name = name_of[id(v)]
        assert_close(scale * d.numpy(), theirs[name], 1e-3, name, atol=1e-7)
    ours = run["updates"][k]
    assert ours["vfv"] == pytest.approx(float(golden[prefix + "vFv"]), rel=TRAJECTORY_RTOL)
    for name, value in theirs.items():
        assert_close(ours["precond"][name], value, TRAJECTORY_RTOL, name, atol=1e-6)


@pytest.mark.parametrize("k", range(5))
def test_weights_and_velocities_after_each_update(replayed, k):
    """Updates 0 and 1 take the cold momentum-SGD step and the K-FAC optimiser's momentum
    step with the raw gradient (no decomposition yet); from update 2 on only the latter,
    preconditioned, its velocity still carrying those raw gradients. Each variable's step to
    1% of its largest entry, each velocity to TRAJECTORY_RTOL."""
    _, run = replayed
    variables = run["meta"]["variables"]
    golden, ours = run["golden"], run["updates"][k]
    before = (run["initial"] if k == 0 else unpack(golden[f"u{k - 1}/after"], variables))
    theirs = unpack(golden[f"u{k}/after"], variables)
    for name, value in theirs.items():
        step = value.astype(np.float64) - before[name]
        bound = 1e-2 * np.abs(step).max() + 2e-7
        assert np.abs(ours["after"][name] - value).max() <= bound, name
    for key in ("velocity", "cold_velocity"):
        for name, value in unpack(golden[f"u{k}/{key}"], variables).items():
            assert_close(ours[key][name], value, TRAJECTORY_RTOL, f"{key} {name}", atol=1e-7)


@pytest.mark.parametrize("k", range(5))
def test_kl_and_adapted_step_size(replayed, k):
    _, run = replayed
    ours, golden = run["updates"][k], run["golden"]
    prefix = f"u{k}/"
    assert ours["stepsize"] == pytest.approx(float(golden[prefix + "stepsize"]), rel=1e-6)
    assert ours["kl"] == pytest.approx(float(golden[prefix + "kl"]), abs=2e-5)
    assert ours["stepsize_next"] == pytest.approx(float(golden[prefix + "stepsize_next"]),
                                                  rel=1e-6)
