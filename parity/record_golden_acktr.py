"""Golden values of the original's ACKTR policy updates (flow and Gaussian), for tests of the port.

  python parity/record_golden_acktr.py flow --out tests/fixtures/golden_acktr_flow.npz
  python parity/record_golden_acktr.py gaussian --out tests/fixtures/golden_acktr_gaussian.npz

Builds, in one TF1 graph under `compat.install()`, what the original's runner and
`acktr_cont.learn` build: the value function under `vf` (only so that the graph seed gives the
policy the runner's initial weights; it is never trained), the policy under `pi` (flow: the
original's `ACKTRImplicitPolicy` with `batch` = --rows; Gaussian: baselines' acktr
`GaussianMlpPolicy`), the `stepsize` variable and the policy's `KfacOptimizer` with
acktr_cont's arguments (async eigen-decompositions, cold_iter 1, ...), minimising the policy's
`update_info` losses over every trainable variable whose name contains "pi".

Then it runs --updates policy updates, each on a batch of its own: observations ~ N(0, 1)
[rows, 2 obs_dim] (the policy's observation pair), actions sampled by the policy at its
current weights with fed, recorded noise, advantages ~ N(0, 1) standardised as acktr_cont
does. After each update the KL on the batch (the policy's `compute_kl`, against the
log-densities before the update) adapts the step size exactly as acktr_cont does.

The original's eigen-decompositions run on a queue-runner thread. Here no thread is started:
after each update, if the thread's enqueue condition holds (stats_step even and >= cold_iter)
its enqueue op is run once, synchronously. This is the schedule a real run follows when the
thread is slower than the update that makes stats_step even (it has the rest of the iteration,
~10 s, to finish, and the update has milliseconds): update 1 finds the queue empty and steps
with the raw gradient, update 2 dequeues the decomposition of the statistics after update 1
and takes the first preconditioned step, update 3 finds the queue empty again and reuses it,
update 4 dequeues the decomposition of the statistics after update 3, and so on.

The original's graph leaves the order of some of an update's ops open, so that the outcome
of an update can differ between runs:
  * whether update 0's K-FAC momentum step (the raw gradient, like the cold step) runs: its
    condition reads the step counter that the cold step increments, with no dependency
    between them. The runner (parity/train_original.py, its multi-threaded session) took it
    in all 3 runs measured (its momentum slots after update 0);
  * which weights an update's gradients and K-FAC statistics read: the cold step (updates 0
    and 1) moves each variable as soon as its own gradient is computed, while the rest of the
    backward passes may still read it (TF1's reference variables). Measured: the Gaussian's
    hidden-layer gradients and G factors 0.5-4% off those of the weights before the update;
    the flow's state-embedding hidden layers' gradients up to 1.2 times their largest entry
    (they are small, and backpropagate through an output layer initialised at +-3e-3 that
    the cold step moves by a large fraction of itself).
The session is single-threaded, but the order still differs between processes (repeating
the updates within one process repeats it). So a run is kept only if its update 0 took the K-FAC
momentum step and every update read the weights before it (`racy_deviation` at most
--racy-tolerance for every variable and statistic; meta `racy_deviation` holds what the kept
run measured); otherwise it writes nothing and exits with status 3: run it again, e.g.
  until python parity/record_golden_acktr.py flow --out F; do [ $? = 3 ] || break; done

Saved (.npz, float32 unless said). Per-variable and per-statistic values are packed: the
arrays flattened and concatenated in the order of meta's `variables` / `stats` ([name, shape]).
  meta                  JSON: policy, env, seed, dims, rows, updates, settings, variables,
                        stats, and `factors`: for every trained variable the op type the
                        factor search saw (None: its "unknown op" branch), its fprop and bprop
                        statistics variables, the number of calls and rows of its concatenated
                        factors, and its associated bias / weights
  var                   the variables before update 0 (packed)
  u<k>/obs, u<k>/actions, u<k>/adv, u<k>/noise   update k's batch (adv standardised; noise
                        is what sampled the actions)
  u<k>/logp             log pi(a|s) per row before update k (the flow drops the Normal's
                        (d/2) log 2 pi, as the original does)
  u<k>/loss, u<k>/loss_sampled   the two losses before update k
  u<k>/grad, u<k>/sgrad  gradients of loss and loss_sampled (packed)
  u<k>/stat_batch       this batch's statistic of every factor (packed)
  u<k>/stat             the running statistics after update k (packed)
  u<k>/eigen_e, u<k>/eigen_Q   the decompositions update k dequeued and applied (packed;
                        only where it applied new ones)
  u<k>/precond          the clipped preconditioned direction of update k (packed; where
                        factor_step > 0), u<k>/vFv its quadratic KL estimate and u<k>/scale =
                        min(1, sqrt(clip_kl / vFv))
  u<k>/after            the variables after update k (packed)
  u<k>/velocity, u<k>/cold_velocity   after update k, the momentum slots of the K-FAC
                        step's optimizer and of the cold optimizer (packed)
  u<k>/kl, u<k>/stepsize, u<k>/stepsize_next   the KL after the step (compute_kl); the step
                        size the step used; the one acktr_cont's rule makes of it
  u<k>/factor_step      factor_step after update k (int64)
"""
import argparse
import json
import os
import sys

import numpy as np

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PARITY_DIR)

import compat  # noqa: E402
from train_original import HarnessError, resolve_env  # noqa: E402

FLOW_FOLDER = "onpolicyalgos/normalizing_flows/acktr_normflow"
DESIRED_KL = 0.002  # acktr_cont's, hard-coded by both runners
UNUSABLE_EXIT = 3  # the exit status of a run whose racy ops went the wrong way


class UnusableRun(Exception):
    """This run's racy ops went a way the recording does not keep: run it again."""


def build(policy_name, ob_dim, ac_dim, rows, num_units, num_layers):
    """(policy, optimizer, stepsize variable, flow models or None, queue runner), as the runner
    and acktr_cont.learn build them."""
    import tensorflow as tf
    from baselines.acktr.value_functions import NeuralNetValueFunction
    with tf.variable_scope("vf"):
        NeuralNetValueFunction(ob_dim, ac_dim)
    models = None
    if policy_name == "flow":
        sys.path.insert(0, os.path.join(compat.ONPOLICYBASELINES_ROOT, FLOW_FOLDER))
        import kfac  # the flow's own copy (acktr_normflow/kfac.py), as acktr_cont imports it
        import normalizingpolicies
        models = []
        model_init = normalizingpolicies.NormalizingFlowStateModel.__init__

        def keep(self, *args, **kwargs):  # remember policy_train (first) and policy_act
            model_init(self, *args, **kwargs)
            models.append(self)
        normalizingpolicies.NormalizingFlowStateModel.__init__ = keep
        with tf.variable_scope("pi"):
            policy = normalizingpolicies.ACKTRImplicitPolicy(
                "normflowpi", ob_dim, ac_dim, num_units=num_units, num_layers=num_layers,
                batch=rows)
        normalizingpolicies.NormalizingFlowStateModel.__init__ = model_init
    else:
        from baselines.acktr import kfac
        from baselines.acktr.policies import GaussianMlpPolicy
        with tf.variable_scope("pi"):
            policy = GaussianMlpPolicy(ob_dim, ac_dim)
    stepsize = tf.Variable(initial_value=np.float32(np.array(0.03)), name="stepsize")
    inputs, loss, loss_sampled = policy.update_info
    optim = kfac.KfacOptimizer(learning_rate=stepsize, cold_lr=stepsize * (1 - 0.9),
                               momentum=0.9, kfac_update=2, epsilon=1e-2, stats_decay=0.99,
                               async_=1, cold_iter=1, weight_decay_dict=policy.wd_dict,
                               max_grad_norm=None)
    pi_var_list = [var for var in tf.trainable_variables() if "pi" in var.name]
    update_op, queue_runner = optim.minimize(loss, loss_sampled, var_list=pi_var_list)
    # The update builds its clipped K-FAC directions inside a cond, where they cannot be
    # fetched: the same function again, outside, on gradient tensors that are fed the values
    # the update saw (it reads only them, the eigen-decompositions and the step size).
    grads = tf.gradients(loss, pi_var_list)
    precond = optim.getKfacPrecondUpdates(grads, pi_var_list)
    return dict(policy=policy, optim=optim, stepsize=stepsize, models=models,
                queue_runner=queue_runner, update_op=update_op, inputs=inputs, loss=loss,
                loss_sampled=loss_sampled, var_list=pi_var_list, grads=grads,
                precond=precond)


def factor_map(optim, var_list):
    """What the factor search found for every variable, as JSON-able data."""
    result = {}
    for var in var_list:
        factors, stats = optim.factors[var], optim.stats[var]

        def rows(tensor):
            return None if tensor is None else tensor.shape.as_list()[0]  # None: dynamic
        result[var.name] = dict(
            op=factors["opName"],
            fprop_stats=[s.name for s in stats["fprop_concat_stats"]],
            bprop_stats=[s.name for s in stats["bprop_concat_stats"]],
            fprop_calls=len(factors["fpropFactors"]), bprop_calls=len(factors["bpropFactors"]),
            fprop_rows=rows(factors["fpropFactors_concat"]),
            bprop_rows=rows(factors["bpropFactors_concat"]),
            assn_bias=stats["assnBias"].name if stats["assnBias"] is not None else None,
            assn_weights=stats["assnWeights"].name if stats["assnWeights"] is not None
            else None)
    return result


def racy_deviation(arrays, k, variable_sizes, stats_sizes, momentum=0.9,
                   stats_decay=0.99) -> dict:
    """How far update k strayed from what its graph means with the weights before it: the
    largest deviation, relative to the largest entry of the same variable or statistic, of
    its velocities from momentum * previous + the gradient computed before the update
    (updates 0 and 1, where both steps take the raw gradient), and of its running statistics
    from the moving average of their previous values and the batch statistics computed
    before the update (update 0: those themselves)."""
    prefix, previous = f"u{k}/", f"u{k - 1}/"

    def relative(actual, expected, sizes):
        bounds = np.cumsum([0] + sizes)
        return max(float(np.abs(actual[a:b] - expected[a:b]).max()
                         / max(np.abs(expected[a:b]).max(), 1e-12))
                   for a, b in zip(bounds[:-1], bounds[1:]))
    deviation = {}
    gradient = arrays[prefix + "grad"].astype(np.float64)
    for key in ("cold_velocity", "velocity") if k < 2 else ():
        before = arrays[previous + key] if k > 0 else 0.0
        deviation[key] = relative(arrays[prefix + key], momentum * before + gradient,
                                  variable_sizes)
    batch = arrays[prefix + "stat_batch"].astype(np.float64)
    expected = batch if k == 0 else \
        stats_decay * arrays[previous + "stat"] + (1 - stats_decay) * batch
    deviation["stat"] = relative(arrays[prefix + "stat"], expected, stats_sizes)
    return deviation


def pack(values) -> np.ndarray:
    """Arrays flattened and concatenated, float32 (meta lists the names and shapes)."""
    return np.concatenate([np.ravel(v) for v in values]).astype(np.float32)


def record(args) -> str:
    compat.install()
    import tensorflow as tf
    import gym
    import baselines.common.tf_util as U
    from baselines.common import set_global_seeds

    env = gym.make(resolve_env(args.env))
    ob_dim, ac_dim = env.observation_space.shape[0], env.action_space.shape[0]
    with U.single_threaded_session() as sess:  # deterministic op order (see the docstring)
        set_global_seeds(args.seed)
        parts = build(args.policy, ob_dim, ac_dim, args.rows, args.num_units, args.num_layers)
        U.initialize()
        policy, optim = parts["policy"], parts["optim"]
        var_list, stepsize = parts["var_list"], parts["stepsize"]
        ob_ph, ac_ph, adv_ph = parts["inputs"]
        if args.policy == "flow":
            train_model = parts["models"][0]
            noise_tensor, sample_tensor = train_model.x_ph, train_model.y_sample
            logp_tensor = train_model.log_prob
        else:
            sample_tensor, dist_tensor, _ = policy._act.outputs_update[:3]
            noise_tensor = [op.outputs[0] for op in sess.graph.get_operations()
                            if op.type == "RandomStandardNormal"
                            and op.name.startswith("pi/")][0]
            # loss_sampled = -mean(logprob_n): Neg <- Mean <- logprob_n, per row
            logp_tensor = parts["loss_sampled"].op.inputs[0].op.inputs[0]
        stats_vars = sorted({s for var in var_list for key in ("fprop_concat_stats",
                                                                "bprop_concat_stats")
                             for s in optim.stats[var][key]}, key=lambda v: v.name)
        batch_stats = [optim.statsUpdates[s] for s in stats_vars]
        eigen = [(optim.stats_eigen[s]["e"], optim.stats_eigen[s]["Q"]) for s in stats_vars]
        grads = parts["grads"]
        # the momentum slots: the K-FAC step's optimizer creates its slots first ("Momentum"),
        # the cold optimizer's second ("Momentum_1")
        slots = {v.name: v for v in tf.global_variables()}
        warm_slots = [slots[v.op.name + "/Momentum:0"] for v in var_list]
        cold_slots = [slots[v.op.name + "/Momentum_1:0"] for v in var_list]
        queue_runner = parts["queue_runner"]
        sizes = [[int(np.prod(v.shape.as_list())) for v in variables]
                 for variables in (var_list, stats_vars)]
        rng = np.random.RandomState(args.seed + 1000)
        arrays = {"var": pack(sess.run(var_list))}
        for k in range(args.updates):
            obs = rng.standard_normal((args.rows, 2 * ob_dim)).astype(np.float32)
            noise = rng.standard_normal((args.rows, ac_dim)).astype(np.float32)
            feed_sample = {(policy._act.inputs[0] if args.policy == "gaussian"
                            else train_model.state): obs, noise_tensor: noise}
            if args.policy == "gaussian":
                actions, old_dist = sess.run([sample_tensor, dist_tensor], feed_sample)
            else:
                actions = sess.run(sample_tensor, feed_sample)
            adv = rng.standard_normal(args.rows)
            adv = ((adv - adv.mean()) / (adv.std() + 1e-8)).astype(np.float32)
            feed = {ob_ph: obs, ac_ph: actions, adv_ph: adv}
            prefix = f"u{k}/"
            values = sess.run(dict(logp=logp_tensor, loss=parts["loss"],
                                   loss_sampled=parts["loss_sampled"], grads=grads,
                                   sgrads=optim.gs, batch_stats=batch_stats), feed)
            used_stepsize = sess.run(stepsize)
            factor_step_before = sess.run(optim.factor_step)
            queue_size = sess.run(queue_runner.queue.size())
            # this update applies new eigen-decompositions if the queue holds some (or uses the
            # last ones); it takes a preconditioned step whenever factor_step > 0 after that
            preconditioned = factor_step_before > 0 or queue_size > 0
            sess.run(parts["update_op"], feed)
            vfv = float(sess.run(optim.vFv))
            if preconditioned:
                directions = sess.run(parts["precond"], dict(zip(grads, values["grads"])))
            after = sess.run(var_list)
            if args.policy == "flow":
                kl = policy.compute_kl(obs, actions, values["logp"])
            else:
                kl = policy.compute_kl(obs, old_dist)
            kl = float(kl)
            if kl > DESIRED_KL * 2:
                U.eval(tf.assign(stepsize, tf.maximum(np.float32(1e-8), stepsize / 1.5)))
            elif kl < DESIRED_KL / 2:
                U.eval(tf.assign(stepsize, tf.minimum(np.float32(1.0), stepsize * 1.5)))
            arrays[prefix + "obs"] = obs
            arrays[prefix + "actions"] = actions
            arrays[prefix + "adv"] = adv
            arrays[prefix + "noise"] = noise
            arrays[prefix + "logp"] = values["logp"]
            arrays[prefix + "loss"] = np.float32(values["loss"])
            arrays[prefix + "loss_sampled"] = np.float32(values["loss_sampled"])
            arrays[prefix + "grad"] = pack(values["grads"])
            arrays[prefix + "sgrad"] = pack(values["sgrads"])
            arrays[prefix + "after"] = pack(after)
            arrays[prefix + "velocity"] = pack(sess.run(warm_slots))
            arrays[prefix + "cold_velocity"] = pack(sess.run(cold_slots))
            arrays[prefix + "stat_batch"] = pack(values["batch_stats"])
            arrays[prefix + "stat"] = pack(sess.run(stats_vars))
            factor_step = int(sess.run(optim.factor_step))
            if factor_step > factor_step_before:  # this update applied new decompositions
                decompositions = sess.run(eigen)
                arrays[prefix + "eigen_e"] = pack([e for e, _ in decompositions])
                arrays[prefix + "eigen_Q"] = pack([q for _, q in decompositions])
            if preconditioned:
                arrays[prefix + "precond"] = pack(directions)
                arrays[prefix + "vFv"] = np.float32(vfv)
                arrays[prefix + "scale"] = np.float32(min(1.0, np.sqrt(0.01 / vfv)))
            arrays[prefix + "kl"] = np.float32(kl)
            arrays[prefix + "stepsize"] = np.float32(used_stepsize)
            arrays[prefix + "stepsize_next"] = np.float32(sess.run(stepsize))
            arrays[prefix + "factor_step"] = np.int64(factor_step)
            # the eigen thread, synchronously: what its enqueue op does once stats_step is
            # even and >= cold_iter, while the queue is empty (a full queue would block)
            stats_step = sess.run(optim.stats_step)
            if stats_step % 2 == 0 and stats_step >= 1 and \
                    sess.run(queue_runner.queue.size()) == 0:
                sess.run(queue_runner.enqueue_ops[0])
        if not np.any(arrays["u0/velocity"]):
            raise UnusableRun("update 0 took no K-FAC momentum step")
        deviations = [racy_deviation(arrays, k, *sizes) for k in range(args.updates)]
        worst = max(max(d.values()) for d in deviations)
        if worst > args.racy_tolerance:
            raise UnusableRun(f"an update read moved weights (relative deviation {worst:.3g}; "
                              f"per update: {deviations})")
        meta = dict(policy=args.policy, env=args.env, seed=args.seed, ob_dim=ob_dim,
                    ac_dim=ac_dim, rows=args.rows, updates=args.updates,
                    num_units=args.num_units, num_layers=args.num_layers,
                    settings=dict(learning_rate=0.03, momentum=0.9, clip_kl=0.01,
                                  damping=1e-2, stats_decay=0.99, kfac_update=2, cold_iter=1,
                                  desired_kl=DESIRED_KL,
                                  weight_decay={v.name: float(c) for v, c in
                                                policy.wd_dict.items()}),
                    variables=[[v.name, v.shape.as_list()] for v in var_list],
                    stats=[[s.name, s.shape.as_list()] for s in stats_vars],
                    factors=factor_map(optim, var_list), racy_deviation=deviations)
    arrays["meta"] = np.array(json.dumps(meta))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    return args.out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", choices=("flow", "gaussian"))
    parser.add_argument("--env", default="Ant-v4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=200, help="rows of each update's batch")
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--num-units", type=int, default=3)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--racy-tolerance", type=float, default=1e-4,
                        help="largest relative deviation from the weights-before-the-update "
                             "values that is kept (racy_deviation)")
    parser.add_argument("--out", required=True, help="the .npz to write")
    args = parser.parse_args()
    try:
        path = record(args)
    except UnusableRun as error:
        print(f"record_golden_acktr: not kept: {error}; run it again", file=sys.stderr)
        sys.exit(UNUSABLE_EXIT)
    except (HarnessError, compat.MissingOriginal) as error:
        print(f"record_golden_acktr: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
