"""MpiAdam in one process: Adam's step, and clipping of the gradient's global norm."""
import numpy as np
import tensorflow as tf

from onpolicy_flows.common.mpi_adam import MpiAdam


def _first_step(gradient, **options):
    """The parameter change of one Adam step (stepsize 0.1) from zero parameters."""
    variables = [tf.Variable(tf.zeros([2])), tf.Variable(tf.zeros([1]))]
    optimizer = MpiAdam(variables, **options)
    optimizer.update(tf.constant(gradient, tf.float32), 0.1)
    return optimizer.params.get(), optimizer.first_moment.numpy()


def test_without_clipping_the_first_step_is_the_sign_times_the_stepsize():
    step, first_moment = _first_step([3.0, -4.0, 0.0])
    np.testing.assert_allclose(step, [-0.1, 0.1, 0.0], rtol=1e-6)
    np.testing.assert_allclose(first_moment, [0.3, -0.4, 0.0], rtol=1e-6)


def test_a_gradient_above_the_max_norm_is_rescaled_across_all_variables():
    """|(3, -4, 0)| = 5 -> rescaled to norm 0.5; one of norm 0.5 or less is left alone."""
    _, clipped = _first_step([3.0, -4.0, 0.0], max_grad_norm=0.5)
    np.testing.assert_allclose(clipped, 0.1 * np.array([0.3, -0.4, 0.0]), rtol=1e-6)
    _, unclipped = _first_step([0.3, -0.4, 0.0], max_grad_norm=0.5)
    np.testing.assert_allclose(unclipped, [0.03, -0.04, 0.0], rtol=1e-6)
