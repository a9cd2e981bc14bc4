"""SKELETON: golden values of the original's TRPO policies, for tests of the port.

  python parity/record_golden.py trpo_normflow --env Hopper-v4 --seed 0 --out golden.npz

Builds the runner's policy exactly as its TRPO builds `pi` (the original's class, the runner's
hid_size=32, num_hid_layers=2 and flow/GMM settings), seeds it as the runners do
(set_global_seeds: TF graph seed, numpy, random),
draws fixed inputs, finds every random op of the graph (the policies' Normal.sample ->
RandomStandardNormal, the GMM's component choice -> Multinomial) and feeds it fixed noise, so
that every output is a deterministic function of (variables, inputs, noise). Saves an .npz:
  var/<variable name>      every variable under pi/ (observation filter included)
  input/<placeholder name> the fed observations and actions
  noise/<tensor name>      the fed noise; the name says which sub-graph draws it: for the flow
                           and GMM, pi/policy = the training batch (1024), pi/policy_1 = acting
                           (1), pi/policy_2 = the Fisher-vector batch (205); within each, the
                           first op is the forward sample, the next the entropy's samples
  output/<name>            log_prob_train, entropy_train, pi_act, log_prob_fvp_train,
                           vpred_train (flow, GMM); logp, entropy, sample, vpred (Gaussian)
A port's test loads the variables by name (mapping the original's names onto its own), feeds
the same inputs and noise, and compares the outputs.
Not yet covered (the later task): ACKTR's policies and K-FAC, and one TRPO step (surrogate
gradient, Fisher-vector product, CG, line search) at fixed weights.
"""
import argparse
import os
import sys

import numpy as np

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, PARITY_DIR)

import compat  # noqa: E402
from train_original import RUNNERS, HarnessError, resolve_env  # noqa: E402

RANDOM_OP_TYPES = ("RandomStandardNormal", "Multinomial")
TRPO_POLICY_RUNNERS = ("trpo_normflow", "trpo_gmm", "trpo_gaussian")


def build_policy(runner, ob_space, ac_space, args):
    """The original's `pi`, as its runner's policy_fn builds it."""
    if runner == "trpo_gaussian":
        from baselines.ppo1.mlp_policy import MlpPolicy
        return MlpPolicy(name="pi", ob_space=ob_space, ac_space=ac_space, hid_size=32,
                         num_hid_layers=2)
    folder = os.path.join(compat.ONPOLICYBASELINES_ROOT, "onpolicyalgos",
                          os.path.dirname(RUNNERS[runner][2]))
    sys.path.insert(0, folder)
    if runner == "trpo_normflow":
        from normalizingpolicies import TRPOImplicitPolicy
        return TRPOImplicitPolicy(name="pi", ob_space=ob_space, ac_space=ac_space, hid_size=32,
                                  num_hid_layers=2, num_units=args.num_units,
                                  num_layers=args.num_layers)
    from GMMpolicies import TRPOGMMPolicy
    return TRPOGMMPolicy(name="pi", ob_space=ob_space, ac_space=ac_space, hid_size=32,
                         num_hid_layers=2, K=args.num_components)


def fixed_noise(tf, rng, batch, act_dim, num_components):
    """{random op output tensor: fixed value} for every random op under pi/."""
    feeds = {}
    for op in tf.get_default_graph().get_operations():
        if op.type not in RANDOM_OP_TYPES or not op.name.startswith("pi/"):
            continue
        tensor = op.outputs[0]
        shape = tensor.shape.as_list() if tensor.shape.is_fully_defined() else [batch, act_dim]
        if op.type == "Multinomial":
            feeds[tensor] = rng.randint(num_components, size=shape).astype(np.int64)
        else:
            feeds[tensor] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def record(args) -> str:
    compat.install()
    import tensorflow as tf
    import gym
    import baselines.common.tf_util as U
    from baselines.common import set_global_seeds

    env = gym.make(resolve_env(args.env))
    ob_space, ac_space = env.observation_space, env.action_space
    obs_dim, act_dim = ob_space.shape[0], ac_space.shape[0]
    rng = np.random.RandomState(args.seed)
    with U.single_threaded_session() as sess:
        set_global_seeds(args.seed)  # as the runners seed: TF graph seed, numpy (normc), random
        pi = build_policy(args.runner, ob_space, ac_space, args)
        U.initialize()

        def observations(n):
            return rng.standard_normal((n, obs_dim)).astype(np.float32)

        def actions(n):
            return rng.standard_normal((n, act_dim)).astype(np.float32)

        if args.runner == "trpo_gaussian":
            ob = U.get_placeholder_cached(name="ob")
            ac = pi.pdtype.sample_placeholder([None])
            inputs = {ob: observations(args.batch), ac: actions(args.batch)}
            outputs = dict(logp=pi.pd.logp(ac), entropy=pi.pd.entropy(),
                           sample=pi.pd.sample(), vpred=pi.vpred)
        else:
            ob_act = U.get_placeholder_cached(name="ob_act")  # the GMM keeps no attribute
            inputs = {pi.ob_train: observations(1024), pi.action_train: actions(1024),
                      ob_act: observations(1), pi.ob_fvp_train: observations(205),
                      pi.ac_fvp_train: actions(205), pi.ob_vf_train: observations(64)}
            outputs = dict(log_prob_train=pi.log_prob_train, entropy_train=pi.entropy_train,
                           pi_act=pi.pi_act, log_prob_fvp_train=pi.log_prob_fvp_train,
                           vpred_train=pi.vpred_train)
        noise = fixed_noise(tf, rng, args.batch, act_dim, args.num_components)
        values = sess.run(outputs, feed_dict={**inputs, **noise})
        variables = {var.name: value for var, value in
                     zip(pi.get_variables(), sess.run(pi.get_variables()))}
    arrays = {f"var/{name}": value for name, value in variables.items()}
    arrays.update({f"input/{tensor.name}": value for tensor, value in inputs.items()})
    arrays.update({f"noise/{tensor.name}": value for tensor, value in noise.items()})
    arrays.update({f"output/{name}": value for name, value in values.items()})
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    np.savez(args.out, **arrays)
    return args.out


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner", choices=TRPO_POLICY_RUNNERS)
    parser.add_argument("--env", default="Hopper-v4")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-components", type=int, default=2)
    parser.add_argument("--num-units", type=int, default=3)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16, help="Gaussian: states evaluated")
    parser.add_argument("--out", required=True, help="the .npz to write")
    args = parser.parse_args()
    try:
        path = record(args)
    except (HarnessError, compat.MissingOriginal) as error:
        print(f"record_golden: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
