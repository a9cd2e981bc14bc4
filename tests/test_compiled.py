"""common/compiled.py: the XLA flags it sets leave a user's own settings alone, and the
graph optimiser switch holds for its block only and computes what the optimised call does."""
import os

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import compiled as compiled_module
from onpolicy_flows.common.compiled import compiled, graph_optimizer_off


def test_classic_emitters_are_added_to_the_users_flags_unless_they_name_them(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    compiled_module._prefer_classic_xla_cpu_emitters()
    assert compiled_module.CLASSIC_EMITTERS_FLAG in os.environ["XLA_FLAGS"]
    assert "--xla_dump_to=/tmp/x" in os.environ["XLA_FLAGS"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true")
    compiled_module._prefer_classic_xla_cpu_emitters()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_use_fusion_emitters=true"


def test_xla_keeps_executables_in_the_trace_cache_unless_told_otherwise(monkeypatch,
                                                                        tmp_path):
    monkeypatch.setenv("ONPOLICY_FLOWS_TRACE_CACHE", str(tmp_path))
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_auto_jit=0")
    compiled_module._keep_xla_executables()
    assert os.environ["TF_XLA_FLAGS"] == \
        f"--tf_xla_auto_jit=0 --tf_xla_persistent_cache_directory={tmp_path / 'xla'}"
    monkeypatch.setenv("TF_XLA_FLAGS", "--tf_xla_persistent_cache_directory=/elsewhere")
    compiled_module._keep_xla_executables()
    assert os.environ["TF_XLA_FLAGS"] == "--tf_xla_persistent_cache_directory=/elsewhere"
    monkeypatch.setenv("ONPOLICY_FLOWS_TRACE_CACHE", "off")
    monkeypatch.delenv("TF_XLA_FLAGS")
    compiled_module._keep_xla_executables()
    assert "TF_XLA_FLAGS" not in os.environ


def test_graph_optimizer_off_holds_for_its_block_and_computes_the_same():
    function = compiled(lambda x: tf.reduce_sum(tf.exp(x) * 2.0 + x * 0.0),
                        input_signature=[tf.TensorSpec([None], tf.float32)])
    x = tf.constant(np.linspace(-1.0, 1.0, 7), tf.float32)
    before = tf.config.optimizer.get_experimental_options()
    optimised = function(x).numpy()
    with graph_optimizer_off():
        assert tf.config.optimizer.get_experimental_options()["disable_meta_optimizer"]
        unoptimised = function(x).numpy()
    assert tf.config.optimizer.get_experimental_options() == before
    np.testing.assert_allclose(unoptimised, optimised, rtol=1e-6)
