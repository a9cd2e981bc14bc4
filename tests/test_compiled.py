"""common/compiled.py: the XLA flag it prefers leaves a user's own setting alone."""
import os

from onpolicy_flows.common import compiled as compiled_module


def test_classic_emitters_are_added_to_the_users_flags_unless_they_name_them(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    compiled_module._prefer_classic_xla_cpu_emitters()
    assert compiled_module.CLASSIC_EMITTERS_FLAG in os.environ["XLA_FLAGS"]
    assert "--xla_dump_to=/tmp/x" in os.environ["XLA_FLAGS"]
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_fusion_emitters=true")
    compiled_module._prefer_classic_xla_cpu_emitters()
    assert os.environ["XLA_FLAGS"] == "--xla_cpu_use_fusion_emitters=true"
