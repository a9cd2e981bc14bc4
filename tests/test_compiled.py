"""common/compiled.py: the XLA flag it prefers leaves a user's own setting alone, and the
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
