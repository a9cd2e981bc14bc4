"""K-FAC: natural-gradient steps with Kronecker-factored curvature, for TF2 modules.

What it keeps from baselines' `acktr/kfac.py` (the optimizer the original ACKTR runs):
  * Dense layers y = x W + b are registered explicitly (no graph search). For each, the
    Fisher block of [W; b] is approximated by A (x) G with
        A = E[a a^T],  a = [x, 1]                 (bias folded into the input factor)
        G = E[g g^T],  g = B * dL_sampled/dy       (per-sample pre-activation gradients;
                                                   B = rows over all the layer's calls)
    where L_sampled is the mean "sampled loss" (the log-likelihood of targets drawn from the
    model's own predictive distribution), so that G estimates the true Fisher.
  * A and G are running statistics: the first `cold_iter` updates average them with equal
    weights, later ones are exponential moving averages with decay `stats_decay`.
  * Every `kfac_update` statistics updates (once `cold_iter` have happened) the factors are
    eigen-decomposed, A = Q_A diag(e_A) Q_A^T, G = Q_G diag(e_G) Q_G^T (eigenvalues below
    1e-6 are set to 0), and the gradient of [W; b], V [in + 1, out], is preconditioned with
    the damped Kronecker product, as the original (without factored damping) does:
        (A (x) G + damping I)^-1 vec(V) = Q_A [(Q_A^T V Q_G) / (e_A e_G^T + damping)] Q_G^T
  * Parameters outside registered Dense layers (LayerNorm scales and offsets, the Gaussian
    policy's log-std) are NOT preconditioned: they take a plain gradient step (their raw
    gradient enters the step, the KL clip and the momentum like the others).
  * KL clip: with step direction d (preconditioned where possible) and gradient g, the
    quadratic estimate of the step's KL is  vFv = lr^2 * sum(d * g); d is scaled by
    min(1, sqrt(clip_kl / vFv)).
  * Momentum: velocity <- momentum * velocity + d;  params <- params - lr * (1 - momentum) *
    velocity (TF1's MomentumOptimizer at learning rate lr * (1 - momentum), as the original).
  * Cold start: the first `cold_iter` updates use the raw gradient (no preconditioning, no
    clip) with the same momentum rule, i.e. momentum SGD at lr * (1 - momentum).

Differences from the original: statistics and eigen-decompositions are updated synchronously
(no queue runners); one velocity serves the cold and the K-FAC phases.

A layer called k times in one loss (the flow's scale nets run twice per log-density: in the
inverse and in the log-determinant) contributes the rows of all its calls to A and G, treated
as one batch of k n rows, exactly as the original's concatenated factors are: each row's
pre-activation gradient of the mean sampled loss is multiplied by the total row count k n (not
by the per-call batch n), so G is k^2 times the per-call average of g g^T. This matters: with
the per-call scaling the flow's scale nets get a 4x smaller curvature estimate, their steps
are ~20-70x larger in true KL than the clipped quadratic estimate, and the flow's entropy
collapses (see docs/divergences.md, ACKTR).

All state (factors, eigen-decompositions, velocities, counters, learning rate) lives in
`tf.Variable`s of this module, so a `tf.train.Checkpoint` carries it.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import tensorflow as tf

from onpolicy_flows.common.networks import Dense, record_dense_calls

EIGENVALUE_FLOOR = 1e-6  # eigenvalues below this count as 0, as in the original

LossFunction = Callable[[], Tuple[tf.Tensor, tf.Tensor]]


class KFACOptimizer(tf.Module):
    """Minimises a loss over `variables` (kept as `params`); `layers` are the Dense layers
    whose kernel and bias (both must be in `variables`) get Kronecker-factored
    preconditioning; every other variable takes a plain (unpreconditioned) gradient step.

    Args:
      learning_rate: initial value of the `learning_rate` variable (learners may adapt it).
      momentum: momentum of the velocity.
      clip_kl: bound on the quadratic KL estimate of each step.
      damping: added to the eigenvalues of A (x) G before inverting (the original's epsilon).
      stats_decay: decay of the exponential moving averages of A and G.
      kfac_update: eigen-decompose the factors every this many statistics updates.
      cold_iter: number of initial plain-momentum-SGD updates (and of equally weighted
        statistics updates before the moving average starts).
    """

    def __init__(self, layers: Sequence[Dense], variables: Sequence[tf.Variable],
                 learning_rate: float, momentum: float, clip_kl: float, damping: float,
                 stats_decay: float, kfac_update: int, cold_iter: int, name: str = "kfac"):
        super().__init__(name=name)
        self.layers = list(layers)
        self.params = list(variables)
        param_ids = [id(v) for v in self.params]
        if not all(id(v) in param_ids for layer in self.layers for v in (layer.kernel,
                                                                          layer.bias)):
            raise ValueError("every registered layer's kernel and bias must be in `variables`")
        self._layer_ids = tuple(id(layer) for layer in self.layers)
        # positions of each layer's kernel and bias in `params`
        self._kernel_at = tuple(param_ids.index(id(layer.kernel)) for layer in self.layers)
        self._bias_at = tuple(param_ids.index(id(layer.bias)) for layer in self.layers)
        self.momentum = momentum
        self.clip_kl = clip_kl
        self.damping = damping
        self.stats_decay = stats_decay
        self.kfac_update = kfac_update
        self.cold_iter = cold_iter
        self.learning_rate = tf.Variable(learning_rate, dtype=tf.float32, trainable=False,
                                         name="learning_rate")
        self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
        self.stats_updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                                         name="stats_updates")
        self.factor_updates = tf.Variable(0, dtype=tf.int64, trainable=False,
                                          name="factor_updates")
        self.last_vfv = tf.Variable(0.0, trainable=False, name="last_vfv")
        self.velocities = [tf.Variable(tf.zeros_like(v), trainable=False, name="velocity")
                           for v in self.params]
        self.input_factors, self.grad_factors = [], []
        self.input_eigenvalues, self.input_eigenvectors = [], []
        self.grad_eigenvalues, self.grad_eigenvectors = [], []
        for layer in self.layers:
            in_dim, out_dim = layer.kernel.shape
            for size, factors, values, vectors in (
                    (in_dim + 1, self.input_factors, self.input_eigenvalues,
                     self.input_eigenvectors),
                    (out_dim, self.grad_factors, self.grad_eigenvalues, self.grad_eigenvectors)):
                factors.append(tf.Variable(tf.zeros([size, size]), trainable=False,
                                           name="factor"))
                values.append(tf.Variable(tf.ones([size]), trainable=False, name="eigenvalues"))
                vectors.append(tf.Variable(tf.eye(size), trainable=False, name="eigenvectors"))

    # -- the update ------------------------------------------------------------------------
    def minimize(self, loss_fn: LossFunction) -> Dict[str, tf.Tensor]:
        """One update. `loss_fn()` returns (loss, sampled_loss), both scalar means over a batch,
        and must call the registered layers. Meant to be called inside a `tf.function`.

        Returns the loss before the step and the step's quadratic KL estimate `vFv` (0 during
        the cold start)."""
        with tf.GradientTape(persistent=True) as tape:
            with record_dense_calls() as calls:
                loss, sampled_loss = loss_fn()
        gradients = tape.gradient(loss, self.params,
                                  unconnected_gradients=tf.UnconnectedGradients.ZERO)
        input_stats, grad_stats = self._batch_statistics(tape, sampled_loss, calls)
        del tape
        self._update_statistics(input_stats, grad_stats)
        tf.cond(tf.logical_and(self.stats_updates >= self.cold_iter,
                               self.stats_updates % self.kfac_update == 0),
                self._update_eigen, lambda: tf.constant(False))
        cold = self.updates < self.cold_iter
        directions, vfv = tf.cond(cold, lambda: (gradients, tf.constant(0.0)),
                                  lambda: self._clipped_directions(gradients))
        self.last_vfv.assign(vfv)
        rate = self.learning_rate * (1.0 - self.momentum)
        for variable, velocity, direction in zip(self.params, self.velocities, directions):
            velocity.assign(self.momentum * velocity + direction)
            variable.assign_sub(rate * velocity)
        self.updates.assign_add(1)
        return dict(loss=loss, vfv=vfv)

    def preconditioned(self, gradients: Sequence[tf.Tensor]) -> List[tf.Tensor]:
        """K-FAC directions for `gradients` (one per variable) with the current
        eigen-decompositions; variables outside registered layers keep their gradient."""
        directions = list(gradients)
        for index, layer in enumerate(self.layers):
            kernel_at, bias_at = self._kernel_at[index], self._bias_at[index]
            stacked = tf.concat([gradients[kernel_at], gradients[bias_at][None]], axis=0)
            q_in, q_grad = self.input_eigenvectors[index], self.grad_eigenvectors[index]
            e_in = _floored(self.input_eigenvalues[index])
            e_grad = _floored(self.grad_eigenvalues[index])
            rotated = tf.matmul(tf.matmul(q_in, stacked, transpose_a=True), q_grad)
            rotated /= e_in[:, None] * e_grad[None, :] + self.damping  # [in + 1, out]
            direction = tf.matmul(tf.matmul(q_in, rotated), q_grad, transpose_b=True)
            directions[kernel_at] = direction[:-1]
            directions[bias_at] = direction[-1]
        return directions

    # -- helpers ---------------------------------------------------------------------------
    def _clipped_directions(self, gradients):
        directions = tf.cond(self.factor_updates > 0,
                             lambda: self.preconditioned(gradients), lambda: list(gradients))
        vfv = tf.square(self.learning_rate) * tf.add_n(
            [tf.reduce_sum(d * g) for d, g in zip(directions, gradients)])
        scale = tf.minimum(1.0, tf.sqrt(self.clip_kl / tf.maximum(vfv, 1e-30)))
        return [scale * d for d in directions], vfv

    def _batch_statistics(self, tape, sampled_loss, calls):
        """This batch's A [in+1, in+1] and G [out, out] for each registered layer that was
        called (None for the others)."""
        pre_activations = [pre for _, _, pre in calls]
        pre_gradients = tape.gradient(sampled_loss, pre_activations,
                                      unconnected_gradients=tf.UnconnectedGradients.ZERO)
        inputs: List[list] = [[] for _ in self.layers]
        per_sample: List[list] = [[] for _ in self.layers]
        for (layer, x, _), gradient in zip(calls, pre_gradients):
            if id(layer) not in self._layer_ids:
                continue
            index = self._layer_ids.index(id(layer))
            inputs[index].append(tf.concat([x, tf.ones_like(x[:, :1])], axis=1))
            per_sample[index].append(gradient)
        input_stats, grad_stats = [], []
        for rows_a, rows_g in zip(inputs, per_sample):
            if not rows_a:
                input_stats.append(None)
                grad_stats.append(None)
                continue
            a, g = tf.concat(rows_a, axis=0), tf.concat(rows_g, axis=0)
            count = tf.cast(tf.shape(a)[0], tf.float32)
            # undo the loss's mean over the batch, counting every call's rows as the original
            # does (its concatenated factor's row count): a layer called k times on batches of
            # n gets g * k n, so its G is k^2 times the per-call average
            g *= count
            input_stats.append(tf.matmul(a, a, transpose_a=True) / count)
            grad_stats.append(tf.matmul(g, g, transpose_a=True) / count)
        return input_stats, grad_stats

    def _update_statistics(self, input_stats, grad_stats):
        """Equal-weight average over the first `cold_iter` updates, moving average after."""
        averaging = self.stats_updates < self.cold_iter
        old_weight = tf.where(averaging, 1.0, self.stats_decay)
        new_weight = tf.where(averaging, 1.0 / self.cold_iter, 1.0 - self.stats_decay)
        for factors, stats in ((self.input_factors, input_stats),
                               (self.grad_factors, grad_stats)):
            for factor, new in zip(factors, stats):
                if new is not None:
                    factor.assign(old_weight * factor + new_weight * new)
        self.stats_updates.assign_add(1)

    def _update_eigen(self):
        for factors, values, vectors in (
                (self.input_factors, self.input_eigenvalues, self.input_eigenvectors),
                (self.grad_factors, self.grad_eigenvalues, self.grad_eigenvectors)):
            for factor, value, vector in zip(factors, values, vectors):
                e, q = tf.linalg.eigh(tf.cast(factor, tf.float64))
                value.assign(tf.cast(e, tf.float32))
                vector.assign(tf.cast(q, tf.float32))
        self.factor_updates.assign_add(1)
        return tf.constant(True)


def _floored(eigenvalues: tf.Tensor) -> tf.Tensor:
    return tf.where(eigenvalues > EIGENVALUE_FLOOR, eigenvalues, tf.zeros_like(eigenvalues))


def dense_layers(module: tf.Module) -> List[Dense]:
    """Every Dense layer inside `module`, in a fixed order."""
    return [m for m in module.submodules if isinstance(m, Dense)]
