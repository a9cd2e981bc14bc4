import numpy as np

from onpolicy_flows.trpo_mpi.cg import conjugate_gradient


def test_cg_matches_direct_solve_on_spd_system():
    rng = np.random.default_rng(0)
    factor = rng.standard_normal((20, 20))
    matrix = factor @ factor.T + 0.1 * np.eye(20)
    b = rng.standard_normal(20)
    x = conjugate_gradient(lambda v: matrix @ v, b, iterations=100)
    np.testing.assert_allclose(x, np.linalg.solve(matrix, b), rtol=1e-6, atol=1e-8)


def test_cg_with_few_iterations_still_reduces_the_residual():
    rng = np.random.default_rng(1)
    factor = rng.standard_normal((50, 50))
    matrix = factor @ factor.T + np.eye(50)
    b = rng.standard_normal(50)
    x = conjugate_gradient(lambda v: matrix @ v, b, iterations=10)
    assert np.linalg.norm(matrix @ x - b) < 0.5 * np.linalg.norm(b)
