"""onpolicy_flows: TRPO and ACKTR with Gaussian, GMM and normalizing-flow policies (TF2 port of
Tang & Agrawal, "Boosting Trust Region Policy Optimization by Normalizing Flows Policy")."""
import os

# TensorFlow reads this once, at import; keep its start-up chatter out of the training tables.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
