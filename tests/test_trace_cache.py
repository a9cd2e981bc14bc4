"""common/trace_cache.py: a graph loaded from the cache computes what the traced one did,
with the loading run's own variables; entries are told apart by every setting a graph
depends on; damaged, missing or unwritable caches cost a trace, never a wrong graph."""
import gc
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.framework.func_graph import FuncGraph

from onpolicy_flows.common import trace_cache
from onpolicy_flows.common.trace_cache import (
    CACHE_ENV,
    SUFFIX,
    TracedFunction,
    describe,
)
from onpolicy_flows.policies.flow import FlowPolicy
from onpolicy_flows.policies.gaussian import GaussianPolicy
from onpolicy_flows.policies.gmm import GMMPolicy
from onpolicy_flows.trpo_mpi.policy_step import PolicyBatch, TRPOObjective

OBS_DIM, ACT_DIM = 3, 2


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "traces"
    monkeypatch.setenv(CACHE_ENV, str(directory))
    return directory


def _objective(kind, entcoeff=0.0, num_units=3):
    """A TRPO objective whose policy and old policy hold different random weights (so that
    a capture handed the wrong variable shows in the numbers)."""
    def build(name, seed):
        if kind == "gaussian":
            return GaussianPolicy(OBS_DIM, ACT_DIM, None, seed, hidden_sizes=(4,), name=name)
        if kind == "gmm":
            return GMMPolicy(OBS_DIM, ACT_DIM, None, seed, num_components=2,
                             hidden_sizes=(4,), name=name)
        return FlowPolicy(OBS_DIM, ACT_DIM, None, seed, num_layers=1, num_units=num_units,
                          name=name)
    policy, old = build("policy", 0), build("old", 1)
    rng = np.random.default_rng(5)
    for variable in policy.trainable_variables + old.trainable_variables:
        variable.assign(0.3 * rng.standard_normal(variable.shape).astype(np.float32))
    return TRPOObjective(policy, old, entcoeff=entcoeff, batch_size=8)


def _everything(objective):
    """Every function of the objective on one fixed batch: a list of arrays."""
    rng = np.random.default_rng(2)
    batch = PolicyBatch(rng.standard_normal((8, OBS_DIM)).astype(np.float32),
                        rng.standard_normal((8, ACT_DIM)).astype(np.float32),
                        rng.standard_normal(8).astype(np.float32),
                        rng.standard_normal(8).astype(np.float32))
    vector = rng.standard_normal(objective.params.size).astype(np.float32)
    losses, gradient, log_probs = objective.losses_and_gradient(
        batch.observations, batch.actions, batch.advantages)
    return [losses.numpy(), gradient.numpy(), log_probs.numpy(),
            objective.losses(batch.observations, batch.actions, batch.advantages,
                             batch.old_log_probs).numpy(),
            objective.fisher_vector_product("kl-hessian", batch, vector),
            objective.fisher_vector_product("score", batch, vector),
            objective.params.get()]


def _functions(objective):
    """The objective's cached functions (the score rule's forward-mode pass calls nested
    graph functions, which an entry does not hold: it is traced in every run)."""
    return [objective.losses, objective.losses_and_gradient,
            objective.fisher_vector_products["kl-hessian"]]


@pytest.mark.parametrize("kind", ["gaussian", "gmm", "flow"])
def test_a_loaded_objective_computes_exactly_what_the_traced_one_did(cache, kind):
    traced = _objective(kind)
    expected = _everything(traced)
    assert not any(function.loaded_from_cache for function in _functions(traced))
    assert len(list(cache.glob("*" + SUFFIX))) == 3 + 1  # and reading the parameters

    loaded = _objective(kind)  # new variables, same values
    results = _everything(loaded)
    assert all(function.loaded_from_cache for function in _functions(loaded))
    for result, reference in zip(results, expected):
        np.testing.assert_array_equal(result, reference)


def test_another_process_loads_what_this_one_traced(cache, repo_root):
    """Keys must be the same in every process (nothing in them may be an id or a counter)."""
    script = (
        "import numpy as np; from onpolicy_flows.policies.flow import FlowPolicy;"
        "from onpolicy_flows.policies.base import CompiledActor;"
        "from onpolicy_flows.common.running_mean_std import RunningMeanStd;"
        "policy = FlowPolicy(4, 2, RunningMeanStd(4), 3, num_layers=1);"
        "actor = CompiledActor(policy, batch_size=2); actor.sync();"
        "actions = actor(np.ones((2, 4), np.float32));"
        "print(actor._act.loaded_from_cache, actions.tolist())")
    environment = {**os.environ, CACHE_ENV: str(cache)}
    runs = [subprocess.run([sys.executable, "-c", script], cwd=repo_root, check=True,
                           capture_output=True, text=True, env=environment).stdout.split(" ", 1)
            for _ in range(2)]
    assert [loaded for loaded, _ in runs] == ["False", "True"]
    assert runs[0][1] == runs[1][1]  # the same draws from the same seed


def test_descriptions_differ_exactly_where_graphs_may():
    def flow(seed=0, num_units=3, layer_norm_hessian="exact"):
        return FlowPolicy(OBS_DIM, ACT_DIM, None, seed, num_layers=1, num_units=num_units,
                          layer_norm_hessian=layer_norm_hessian)
    assert describe(flow()) == describe(flow(seed=1))  # weights are values, not structure
    assert describe(flow()) != describe(flow(num_units=4))
    assert describe(flow()) != describe(flow(layer_norm_hessian="original"))
    assert describe(np.zeros(3)) != describe(np.array([0.0, 0.0, 1e-9]))
    assert describe((flow(), 0.0)) != describe((flow(), 0.01))


def test_a_different_setting_is_traced_not_loaded(cache):
    _everything(_objective("flow"))
    for changed in (_objective("flow", entcoeff=0.01), _objective("flow", num_units=4)):
        _everything(changed)
        assert not any(function.loaded_from_cache for function in _functions(changed))


THREE = [tf.TensorSpec([3], tf.float32)]


def _function_of(variable, name="double"):
    def double(x):
        return 2.0 * x + variable
    double.__name__ = double.__qualname__ = name
    return double


def test_a_damaged_entry_is_traced_again_and_rewritten(cache):
    variable = tf.Variable([1.0, 2.0, 3.0])
    TracedFunction(_function_of(variable), THREE, "", [variable]).build()
    (entry,) = cache.glob("*" + SUFFIX)
    entry.write_bytes(entry.read_bytes()[:-40])  # cut short, as by a full disk
    with pytest.warns(UserWarning, match="unreadable entry"):
        again = TracedFunction(_function_of(variable), THREE, "", [variable])
        np.testing.assert_allclose(again(np.ones(3, np.float32)), [3.0, 4.0, 5.0])
    assert not again.loaded_from_cache
    third = TracedFunction(_function_of(variable), THREE, "", [variable])
    third.build()
    assert third.loaded_from_cache


def test_no_entry_without_a_cache_or_for_what_another_run_cannot_rebuild(cache,
                                                                         monkeypatch):
    variable = tf.Variable([1.0, 2.0, 3.0])
    constant = tf.constant([5.0, 5.0, 5.0])  # an eager tensor is not a variable
    captures_a_tensor = TracedFunction(_function_of(constant, "plus_constant"), THREE, "",
                                       [variable])
    np.testing.assert_allclose(captures_a_tensor(np.ones(3, np.float32)), [7.0, 7.0, 7.0])

    def plus_python(x):  # its callable is known to this process only
        return x + tf.numpy_function(lambda value: value + 1.0, [variable], tf.float32)
    calls_python = TracedFunction(plus_python, THREE, "", [variable])
    np.testing.assert_allclose(calls_python(np.ones(3, np.float32)), [3.0, 4.0, 5.0])
    assert not cache.exists()
    monkeypatch.setenv(CACHE_ENV, "off")
    off = TracedFunction(_function_of(variable), THREE, "", [variable])
    np.testing.assert_allclose(off(np.ones(3, np.float32)), [3.0, 4.0, 5.0])
    assert not cache.exists()


def test_an_unwritable_cache_warns_and_the_function_still_works(tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "a_file" / "traces"))
    variable = tf.Variable([1.0, 2.0, 3.0])
    with pytest.warns(UserWarning, match="cannot write"):
        function = TracedFunction(_function_of(variable), THREE, "", [variable])
        np.testing.assert_allclose(function(np.zeros(3, np.float32)), [1.0, 2.0, 3.0])


def test_a_traced_graph_is_kept_as_its_definition_alone(cache):
    """Tracing's Python graph objects are freed once the definition is taken (peak memory
    of start-up); what cannot be cached keeps its traced function alive, to call it."""
    variable = tf.Variable([1.0, 2.0, 3.0])
    constant = tf.constant([5.0, 5.0, 5.0])
    cached = TracedFunction(_function_of(variable, "cacheable"), THREE, "", [variable])
    uncached = TracedFunction(_function_of(constant, "uncacheable"), THREE, "", [variable])
    cached.build()
    uncached.build()
    gc.collect()
    graphs = [obj.name for obj in gc.get_objects() if isinstance(obj, FuncGraph)]
    assert "cacheable" not in graphs and "uncacheable" in graphs
    np.testing.assert_allclose(cached(np.ones(3, np.float32)), [3.0, 4.0, 5.0])
    np.testing.assert_allclose(uncached(np.ones(3, np.float32)), [7.0, 7.0, 7.0])


def test_inputs_are_checked_against_the_signature(cache):
    variable = tf.Variable([1.0, 2.0, 3.0])
    function = TracedFunction(_function_of(variable), THREE, "", [variable])
    with pytest.raises(ValueError, match="shape"):
        function(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="takes 1 inputs"):
        function(np.ones(3, np.float32), np.ones(3, np.float32))


def test_entries_unused_for_a_month_are_pruned_when_one_is_written(cache):
    cache.mkdir(parents=True)
    stale, recent = cache / ("stale" + SUFFIX), cache / ("recent" + SUFFIX)
    for entry in (stale, recent):
        entry.write_bytes(b"{}\n")
    month_ago = time.time() - (trace_cache.PRUNE_AFTER_DAYS + 1) * 86400
    os.utime(stale, (month_ago, month_ago))
    variable = tf.Variable([1.0, 2.0, 3.0])
    TracedFunction(_function_of(variable), THREE, "", [variable]).build()
    assert not stale.exists() and recent.exists()


def test_without_the_graph_optimiser_a_function_computes_the_same_and_the_context_is_left_alone(
        cache):
    variable = tf.Variable(np.linspace(-1.0, 1.0, 3), dtype=tf.float32)

    def function(x):
        return tf.exp(x) * 2.0 + x * 0.0 + variable
    function.__qualname__ = "exp_twice"
    options = tf.config.optimizer.get_experimental_options()
    x = np.array([0.5, -0.25, 1.0], np.float32)
    optimised = TracedFunction(function, THREE, "", [variable])(x).numpy()
    plain = TracedFunction(function, THREE, "", [variable], graph_optimizer=False)
    np.testing.assert_allclose(plain(x).numpy(), optimised, rtol=1e-6)
    for graph_optimizer in (True, False):
        attributes = dict(zip(*[iter(trace_cache._call_attributes(
            trace_cache.context.context(), graph_optimizer))] * 2))
        config = config_pb2.ConfigProto.FromString(attributes["config_proto"])
        assert config.graph_options.rewrite_options.disable_meta_optimizer != graph_optimizer
    assert tf.config.optimizer.get_experimental_options() == options  # nothing global
