"""Toy statistics of Figure 2 on a fixed seed: what only the expressive classes can do."""
from onpolicy_flows.experiments import bandits
from onpolicy_flows.experiments.spread import correlation, shares_near


def test_flow_learns_the_correlation_a_factorized_gaussian_cannot():
    result = bandits.solve_bandit("bandit_correlated", seed=0, kinds=("gaussian", "flow"))
    assert abs(correlation(result.samples["gaussian"])) < 0.1
    assert correlation(result.samples["flow"]) > 0.7  # the optimum's is 0.9


def test_flow_puts_a_real_share_of_samples_on_each_mode():
    result = bandits.solve_bandit("bandit_multimodal", seed=0, kinds=("flow",))
    shares = shares_near(result.samples["flow"], bandits.MODES, bandits.MODE_RADIUS)
    assert shares.min() > 0.2
