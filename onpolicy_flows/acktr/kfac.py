"""K-FAC: natural-gradient steps with Kronecker-factored curvature, for TF2 modules.

What it keeps from baselines' `acktr/kfac.py` (the optimizer the original ACKTR runs):
  * Dense layers y = x W + b are registered explicitly (no graph search). For each, the
    Fisher block of [W; b] is approximated by A (x) G with
        A = E[a a^T],  a = [x, 1]                 (bias folded into the input factor)
        G = E[g g^T],  g = B * dL_sampled/dy       (per-sample pre-activation gradients;
                                                   B = rows over all the layer's calls)
    where L_sampled is the mean "sampled loss" (the log-likelihood of targets drawn from the
    model's own predictive distribution), so that G estimates the true Fisher.
  * Every other parameter gets a full Fisher block of its own from backward statistics only
    (no input factor), F = E[r r^T] over "rows" r, as the original's factor search does for
    ops it does not know ("unknown op, block approximation"):
      - a LayerNorm's scale and offset: one row per sample and call, r = B * dL_sampled/dy
        (times the normalised input for the scale), B = rows over all the norm's calls;
      - a log-std read through `networks.recorded_exp`: one row, the gradient of L_sampled
        with respect to the std, already summed over the batch (the original reads it at the
        Tile that broadcasts the std), so F = g g^T.
    Its step is (F + damping I)^-1 g with the same eigenvalue floor, inside the same KL clip.
  * All blocks are running statistics: the first `cold_iter` updates average them with equal
    weights, later ones are exponential moving averages with decay `stats_decay`.
  * Eigen-decompositions, on the original's schedule (its queue-runner thread decomposes the
    statistics once their update count is a positive multiple of `kfac_update` and at least
    `cold_iter`; the next update applies them): at the start of every update that finds such
    a count, before this update's own statistics, the factors are eigen-decomposed,
    A = Q_A diag(e_A) Q_A^T etc. (eigenvalues below 1e-6 are set to 0), and the gradient of
    [W; b], V [in + 1, out], is preconditioned with the damped Kronecker product, as the
    original (without factored damping) does:
        (A (x) G + damping I)^-1 vec(V) = Q_A [(Q_A^T V Q_G) / (e_A e_G^T + damping)] Q_G^T
    With kfac_update 2 and cold_iter 1 (the policy): update 2 is the first preconditioned one,
    with the statistics after update 1; update 3 uses those too, updates 4 and 5 those after
    update 3, and so on.
  * KL clip: with step direction d and gradient g, the quadratic estimate of the step's KL is
    vFv = lr^2 * sum(d * g); d is scaled by min(1, sqrt(clip_kl / vFv)). Before the first
    eigen-decomposition the raw gradient is used, unclipped.
  * Momentum: velocity <- momentum * velocity + d;  params <- params - lr * (1 - momentum) *
    velocity (TF1's MomentumOptimizer at learning rate lr * (1 - momentum), as the original).
  * Cold start, exactly as the original's graph runs it (measured on it:
    parity/record_golden_acktr.py, tests/test_parity_acktr.py): updates 0 .. cold_iter
    (cold_iter + 1 of them) take a plain momentum-SGD step at lr * (1 - momentum) with a
    velocity of their own; the "K-FAC" momentum step, with its own velocity, runs from update
    cold_iter - 1 on (the original's graph reads its step counter after the cold step has
    incremented it), with the raw gradient until the first eigen-decomposition. For the
    policy (cold_iter 1): updates 0 and 1 each take the cold step and a raw-gradient step,
    whose velocity carries into the preconditioned steps from update 2 on.

Differences from the original: statistics and eigen-decompositions are updated synchronously
(no queue runners). Under MPI (`average_over_ranks`) each update's gradients and batch
statistics are averaged over the ranks before use, so every rank takes the same step.

A layer called k times in one loss (the flow's scale nets run twice per log-density in the
original's graph, once to invert and once for the log-determinant, and so they do in the
statistics pass here; policies/flow.py) contributes the rows of all its calls, treated as one
batch of k n rows, exactly as the original's concatenated factors are: each row's gradient of
the mean sampled loss is multiplied by the total row count k n (not by the per-call batch n),
so G is k^2 times the per-call average of g g^T. With the per-call scaling the flow's scale
nets get a 4x smaller curvature estimate, their steps are ~20-70x larger in true KL than the
clipped quadratic estimate, and the flow's entropy collapses (docs/divergences.md, ACKTR).

All state (factors, eigen-decompositions, velocities, counters, learning rate) lives in
`tf.Variable`s of this module, so a `tf.train.Checkpoint` carries it.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from onpolicy_flows.common import mpi
from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.common.networks import Dense, LayerNorm, RecordedCall, record_calls

EIGENVALUE_FLOOR = 1e-6  # eigenvalues below this count as 0, as in the original
ZERO = tf.UnconnectedGradients.ZERO

LossFunction = Callable[[], Tuple[tf.Tensor, tf.Tensor]]


class _Eigenbasis(tf.Module):
    """A symmetric running statistic [size, size] and its last eigen-decomposition."""

    def __init__(self, size: int, name: str):
        super().__init__(name=name)
        self.factor = tf.Variable(tf.zeros([size, size]), trainable=False, name="factor")
        self.eigenvalues = tf.Variable(tf.ones([size]), trainable=False, name="eigenvalues")
        self.eigenvectors = tf.Variable(tf.eye(size), trainable=False, name="eigenvectors")

    def decompose(self) -> None:
        values, vectors = tf.linalg.eigh(tf.cast(self.factor, tf.float64))
        self.eigenvalues.assign(tf.cast(values, tf.float32))
        self.eigenvectors.assign(tf.cast(vectors, tf.float32))

    def floored_eigenvalues(self) -> tf.Tensor:
        values = self.eigenvalues
        return tf.where(values > EIGENVALUE_FLOOR, values, tf.zeros_like(values))


class KFACOptimizer(tf.Module):
    """Minimises a loss over `variables` (kept as `params`); `layers` are the Dense layers
    whose kernel and bias (both must be in `variables`) get Kronecker-factored
    preconditioning; every other variable gets a full block of its own (see the module
    docstring), so each must be read through a recorded LayerNorm or `recorded_exp`.

    Args:
      learning_rate: initial value of the `learning_rate` variable (learners may adapt it).
      momentum: momentum of the velocities.
      clip_kl: bound on the quadratic KL estimate of each step.
      damping: added to the eigenvalues of each block before inverting (the original's
        epsilon).
      weight_decay_damping: added to `damping` in the Dense layers' blocks only: the L2
        coefficient the original's `weight_decay_dict` gives their kernels (0: none).
      stats_decay: decay of the exponential moving averages of the statistics.
      kfac_update: eigen-decompose the statistics every this many statistics updates.
      cold_iter: updates 0 .. cold_iter take a momentum-SGD step, the K-FAC step starts at
        update cold_iter - 1, and the first cold_iter statistics updates are averaged with
        equal weights.
      average_over_ranks: average gradients and statistics over MPI ranks (default: when
        there is more than one rank).
    """

    def __init__(self, layers: Sequence[Dense], variables: Sequence[tf.Variable],
                 learning_rate: float, momentum: float, clip_kl: float, damping: float,
                 stats_decay: float, kfac_update: int, cold_iter: int,
                 weight_decay_damping: float = 0.0,
                 average_over_ranks: Optional[bool] = None, name: str = "kfac"):
        super().__init__(name=name)
        self.layers = list(layers)
        self.params = list(variables)
        param_ids = [id(v) for v in self.params]
        layer_variables = [v for layer in self.layers for v in (layer.kernel, layer.bias)]
        if not all(id(v) in param_ids for v in layer_variables):
            raise ValueError("every registered layer's kernel and bias must be in `variables`")
        self._layer_ids = tuple(id(layer) for layer in self.layers)
        # positions of each layer's kernel and bias, and of every other variable, in `params`
        self._kernel_at = tuple(param_ids.index(id(layer.kernel)) for layer in self.layers)
        self._bias_at = tuple(param_ids.index(id(layer.bias)) for layer in self.layers)
        covered = {id(v) for v in layer_variables}
        self._vector_at = tuple(index for index, v in enumerate(self.params)
                                if id(v) not in covered)
        self.momentum = momentum
        self.clip_kl = clip_kl
        self.damping = damping
        self.weight_decay_damping = weight_decay_damping
        self.stats_decay = stats_decay
        self.kfac_update = kfac_update
        self.cold_iter = cold_iter
        self.average_over_ranks = mpi.world_size() > 1 if average_over_ranks is None \
            else average_over_ranks
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
        self.cold_velocities = [tf.Variable(tf.zeros_like(v), trainable=False,
                                            name="cold_velocity") for v in self.params]
        self.input_blocks = [_Eigenbasis(layer.kernel.shape[0] + 1, "input")
                             for layer in self.layers]
        self.grad_blocks = [_Eigenbasis(layer.kernel.shape[1], "grad") for layer in self.layers]
        self.vector_blocks = [_Eigenbasis(int(np.prod(self.params[index].shape)), "vector")
                              for index in self._vector_at]

    # -- the update ------------------------------------------------------------------------
    def minimize(self, loss_fn: LossFunction) -> Dict[str, tf.Tensor]:
        """One update. `loss_fn()` returns (loss, sampled_loss), both scalar means over a batch,
        and must read every parameter through recorded calls (Dense, LayerNorm,
        `recorded_exp`). Meant to be called inside a compiled function.

        Returns the loss before the step and the step's quadratic KL estimate `vfv` (0 when
        no K-FAC step was taken)."""
        with tf.GradientTape(persistent=True) as tape:
            with record_calls() as calls:
                loss, sampled_loss = loss_fn()
        gradients = tape.gradient(loss, self.params, unconnected_gradients=ZERO)
        statistics = self._batch_statistics(tape, sampled_loss, calls)
        del tape
        if self.average_over_ranks:
            gradients, statistics = _mean_over_ranks(gradients, statistics)
        # the original's eigen thread: it decomposes the statistics as the previous update left
        # them once their count is a positive multiple of kfac_update (and >= cold_iter), and
        # this update applies the result
        tf.cond(tf.logical_and(self.stats_updates >= self.cold_iter,
                               self.stats_updates % self.kfac_update == 0),
                self._update_eigen, lambda: tf.constant(False))
        self._update_statistics(statistics)
        tf.cond(self.updates <= self.cold_iter, lambda: self._cold_step(gradients),
                lambda: tf.constant(False))
        # the original's K-FAC momentum step runs once its step counter, read after the cold
        # step incremented it (updates + 1 while cold), reaches cold_iter
        vfv = tf.cond(self.updates + 1 >= self.cold_iter, lambda: self._kfac_step(gradients),
                      lambda: tf.constant(0.0))
        self.last_vfv.assign(vfv)
        self.updates.assign_add(1)
        return dict(loss=loss, vfv=vfv)

    def preconditioned(self, gradients: Sequence[tf.Tensor]) -> List[tf.Tensor]:
        """K-FAC directions for `gradients` (one per variable) with the current
        eigen-decompositions of every block."""
        directions = list(gradients)
        for index, (inputs, grads) in enumerate(zip(self.input_blocks, self.grad_blocks)):
            kernel_at, bias_at = self._kernel_at[index], self._bias_at[index]
            stacked = tf.concat([gradients[kernel_at], gradients[bias_at][None]], axis=0)
            q_in, q_grad = inputs.eigenvectors, grads.eigenvectors
            rotated = tf.matmul(tf.matmul(q_in, stacked, transpose_a=True), q_grad)
            rotated /= (inputs.floored_eigenvalues()[:, None]
                        * grads.floored_eigenvalues()[None, :]
                        + self.damping + self.weight_decay_damping)  # [in+1, out]
            direction = tf.matmul(tf.matmul(q_in, rotated), q_grad, transpose_b=True)
            directions[kernel_at] = direction[:-1]
            directions[bias_at] = direction[-1]
        for block, at in zip(self.vector_blocks, self._vector_at):
            rotated = tf.linalg.matvec(block.eigenvectors, tf.reshape(gradients[at], [-1]),
                                       transpose_a=True)
            rotated /= block.floored_eigenvalues() + self.damping
            directions[at] = tf.reshape(tf.linalg.matvec(block.eigenvectors, rotated),
                                        gradients[at].shape)
        return directions

    # -- helpers ---------------------------------------------------------------------------
    def _cold_step(self, gradients):
        """Momentum SGD at lr * (1 - momentum) with the cold velocity (the original's cold
        optimiser, which clips nothing: max_grad_norm is None in ACKTR)."""
        self._momentum_step(self.cold_velocities, gradients)
        return tf.constant(True)

    def _kfac_step(self, gradients):
        """Preconditioned, KL-clipped momentum step once the factors have been decomposed;
        before that the raw gradient, unclipped, as the original. Returns vFv (or 0)."""
        directions, vfv = tf.cond(self.factor_updates > 0,
                                  lambda: self._clipped_directions(gradients),
                                  lambda: (list(gradients), tf.constant(0.0)))
        self._momentum_step(self.velocities, directions)
        return vfv

    def _momentum_step(self, velocities, directions) -> None:
        rate = self.learning_rate * (1.0 - self.momentum)
        for variable, velocity, direction in zip(self.params, velocities, directions):
            velocity.assign(self.momentum * velocity + direction)
            variable.assign_sub(rate * velocity)

    def _clipped_directions(self, gradients):
        directions = self.preconditioned(gradients)
        vfv = tf.square(self.learning_rate) * tf.add_n(
            [tf.reduce_sum(d * g) for d, g in zip(directions, gradients)])
        scale = tf.minimum(1.0, tf.sqrt(self.clip_kl / tf.maximum(vfv, 1e-30)))
        return [scale * d for d in directions], vfv

    def _batch_statistics(self, tape, sampled_loss, calls: List[RecordedCall]):
        """This batch's statistic of every block, in the order input_blocks, grad_blocks,
        vector_blocks (None for a registered layer that was not called)."""
        output_gradients = tape.gradient(sampled_loss, [call.outputs for call in calls],
                                         unconnected_gradients=ZERO)
        input_rows = [[] for _ in self.layers]
        grad_rows = [[] for _ in self.layers]
        vector_rows = {id(self.params[at]): [] for at in self._vector_at}
        for call, gradient in zip(calls, output_gradients):
            if isinstance(call.owner, Dense):
                if id(call.owner) in self._layer_ids:
                    index = self._layer_ids.index(id(call.owner))
                    input_rows[index].append(tf.concat(
                        [call.inputs, tf.ones_like(call.inputs[:, :1])], axis=1))
                    grad_rows[index].append(gradient)
            elif isinstance(call.owner, LayerNorm):
                for variable, rows in ((call.owner.scale, gradient * call.inputs),
                                       (call.owner.offset, gradient)):
                    if id(variable) in vector_rows:
                        vector_rows[id(variable)].append(rows)
            elif id(call.owner) in vector_rows:
                vector_rows[id(call.owner)].append(tf.reshape(gradient, [1, -1]))
        inputs = [_second_moment(rows, scale_rows=False) for rows in input_rows]
        grads = [_second_moment(rows, scale_rows=True) for rows in grad_rows]
        vectors = []
        for at in self._vector_at:
            rows = vector_rows[id(self.params[at])]
            if not rows:
                raise ValueError(f"K-FAC has no curvature statistics for "
                                 f"{self.params[at].name}: it must be read through a Dense "
                                 "layer, a LayerNorm or networks.recorded_exp")
            vectors.append(_second_moment(rows, scale_rows=True))
        return inputs + grads + vectors

    def _blocks(self) -> List[_Eigenbasis]:
        return self.input_blocks + self.grad_blocks + self.vector_blocks

    def _update_statistics(self, statistics):
        """Equal-weight average over the first `cold_iter` updates, moving average after."""
        averaging = self.stats_updates < self.cold_iter
        old_weight = tf.where(averaging, 1.0, self.stats_decay)
        new_weight = tf.where(averaging, 1.0 / self.cold_iter, 1.0 - self.stats_decay)
        for block, new in zip(self._blocks(), statistics):
            if new is not None:
                block.factor.assign(old_weight * block.factor + new_weight * new)
        self.stats_updates.assign_add(1)

    def _update_eigen(self):
        for block in self._blocks():
            block.decompose()
        self.factor_updates.assign_add(1)
        return tf.constant(True)


def _second_moment(rows: List[tf.Tensor], scale_rows: bool) -> Optional[tf.Tensor]:
    """E[r r^T] [d, d] over the rows of all calls [n_i, d] (None if there are none). With
    `scale_rows`, each row is first multiplied by the total row count: the rows are
    gradients of a mean over them, and this undoes the mean (the original's bprop factors)."""
    if not rows:
        return None
    stacked = tf.concat(rows, axis=0)
    count = tf.cast(tf.shape(stacked)[0], tf.float32)
    if scale_rows:
        stacked *= count
    return tf.matmul(stacked, stacked, transpose_a=True) / count


def _mean_over_ranks(gradients, statistics):
    """Gradients and statistics averaged over MPI ranks, with one all-reduce."""
    present = [s for s in statistics if s is not None]
    tensors = list(gradients) + present
    flat = flatten(tensors)
    averaged = tf.numpy_function(mpi.allreduce_mean, [tf.cast(flat, tf.float64)], tf.float64,
                                 stateful=True)
    pieces = tf.split(tf.cast(tf.reshape(averaged, [-1]), tf.float32),
                      [int(np.prod(t.shape)) for t in tensors])
    pieces = [tf.reshape(piece, t.shape) for piece, t in zip(pieces, tensors)]
    mean_gradients, mean_present = pieces[:len(gradients)], iter(pieces[len(gradients):])
    return mean_gradients, [None if s is None else next(mean_present) for s in statistics]


def dense_layers(module: tf.Module) -> List[Dense]:
    """Every Dense layer inside `module`, in a fixed order."""
    return [m for m in module.submodules if isinstance(m, Dense)]
