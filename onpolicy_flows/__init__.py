"""onpolicy_flows: TRPO and ACKTR with Gaussian, GMM and normalizing-flow policies (TF2 port of
Tang & Agrawal, "Boosting Trust Region Policy Optimization by Normalizing Flows Policy")."""

__version__ = "0.1.0"
