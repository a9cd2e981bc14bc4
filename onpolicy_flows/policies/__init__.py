"""Policies shared by every algorithm: factorized Gaussian (gaussian.py), Gaussian mixture
(gmm.py), normalizing flow (flow.py), and for bounded actions Beta (beta.py) and
tanh-squashed Gaussian (tanh_gaussian.py), all on `base.Policy`; which one to build
(config.py, free of TensorFlow, re-exported here) and building it (factory.py).
May import `common` only."""
from onpolicy_flows.policies.config import POLICY_CLASSES, PolicyConfig

__all__ = ["POLICY_CLASSES", "PolicyConfig"]
