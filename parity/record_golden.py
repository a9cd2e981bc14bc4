"""Golden values of one TRPO iteration of the original code, for tests of the port.

  python parity/record_golden.py                  # every case of CASES, one process each
  python parity/record_golden.py trpo_gmm --out /tmp/golden_gmm.npz
  python parity/record_golden.py trpo_normflow --case negative   # one case: its seed and file

Cases (CASES: runner, case -> seed, fixture), each checked after the run:
  step       the iteration takes a step (0.5 d.F d > 0): golden_trpo_<policy>.npz
  negative   the step direction's Fisher quadratic form shs = 0.5 d.F d is not positive:
             the flow runner `continue`s (no line search, no value-function fit, no log
             row, counters unchanged: it asks for the next batch, where the recording stops);
             the GMM runner has no check (lm = sqrt(shs / max_kl) is NaN, all 10 trials are
             non-finite, the old parameters are restored, the value function is fitted and
             the row logged): golden_trpo_<policy>_negative.npz
  backtrack  the line search halves the step at least once before accepting one:
             golden_trpo_<policy>_backtrack.npz (the GMM's step case already does)

Runs the original runner's own `train()` (its session, `set_global_seeds`, its policy_fn and
every `learn` argument it passes: max_kl 0.01, cg 10 iterations with damping 0.1, value
function 5 epochs of Adam at 1e-3 on minibatches of 64) for exactly one iteration, with a
few hooks around the original's functions, none of which changes what it computes:
  * rollouts: `traj_segment_generator` yields one fixed segment (FIXED_ROWS = 1024 rows, the
    original's static batch): fixed observations; actions sampled row by row by the
    policy's own acting graph (`pi_act`, or the Gaussian's `pd.sample()`) from fixed noise;
    one finished episode as long as the budget, so `learn` stops after this iteration;
  * `add_vtarg_and_adv` sets fixed advantages and TD(lambda) returns (GAE is not recorded);
  * `U.initialize`: after it, the policy's weights are moved away from their initial values
    (PERTURBATION, so that KL, Fisher and gradients are not those of a near-identity flow or
    of equal GMM components), the Gaussian's fixed log-std is set to LOG_STD, and the
    observation filter gets fixed non-trivial statistics (one variance below the 1e-2
    floor; some observations are clipped at +-5);
  * `U.function`: every compiled function of the graph is fed fixed values for the graph's
    random ops (the flow's 10 entropy samples per state, the GMM's sample and component
    choice), and its calls are recorded;
  * `cg`: before the real one runs, the Fisher-vector products of two fixed vectors and
    the log-densities of the batch's actions are recorded at the pre-step parameters;
  * `dataset.iterbatches`, `MpiAdam.update`: the value function's minibatch order (the
    original shuffles with np.random, seeded by `set_global_seeds`) and its parameters
    after each epoch.

The .npz holds numbers only (float arrays, integer offsets); keys:
  meta/<name>                  learn()'s numeric arguments, obs_dim, act_dim, seed,
                               vf_batch_size, fvp_rows (the rows of the Fisher products),
                               entropy_samples, flow num_layers/num_units, GMM num_components
  init/<variable name>         every pi/ variable as the step starts (weights perturbed, the
                               observation filter's statistics before the batch is added)
  obfilter_updated/<name>      the filter's runningsum, runningsumsq, count after `learn`
                               added the batch (what the step and the value fit use)
  policy_flat/<name>           [start, stop) of each policy variable in the flat vectors
  vf_flat/<name>               the same for the value function's flat vector
  batch/observations, batch/actions [1024, obs_dim / act_dim]
  batch/advantages_raw         the fixed advantages; batch/advantages the standardised ones
                               `learn` fed to the surrogate; batch/returns the fixed returns
  noise/actions [1024, act_dim] (GMM: and noise/action_components [1024]): the noise from
                               which batch/actions were sampled, row i from row i
  noise/entropy [10 * 1024, act_dim]  flow: the entropy's samples; row j*1024 + i is sample
                               j of state i (the original tiles the states 10 times)
  noise/entropy_sample [1024, act_dim], noise/entropy_component [1024]  GMM: the forward
                               sample its entropy estimate reads
  log_prob                     [1024] log pi(a|s) of the batch at the pre-step parameters
  losses/before                [5] optimgain, meankl, entloss, surrgain, entropy (pre-step)
  gradient                     [P] flat gradient of the surrogate (optimgain)
  fvp/vectors, fvp/products    [2, P] fixed vectors v and fisher_vector_product(v), i.e.
                               the KL Hessian on rows [::5] plus 0.1 v
  cg/direction                 [P] the conjugate-gradient step direction
  step/fisher_direction        [P] fisher_vector_product(direction) (damping included)
  step/shs, step/lm            0.5 d.F d and sqrt(shs / max_kl), as `learn` computes them
  step/full_step, step/expected_improve   (NaN where shs < 0 in the GMM; the flow's dropped
                               batch has no lm, full step, line search, after_step or vf/ keys)
  linesearch/losses [n, 5], linesearch/stepsizes [n]: every trial of the line search;
  linesearch/accepted          1 if a trial was accepted, else 0
  after_step/losses            [5] what `learn` logged after the step
  after_step/<variable name>   the policy's variables after the step
  logged/<key>                 the other keys of the logged row (counters, episode means,
                               ev_tdlam_before; not TimeElapsed)
  vf/orders                    [epochs, 1024] the row order of each epoch (minibatches of 64
                               are consecutive slices; a final partial one is dropped)
  vf/first_gradient            [Q] the flat gradient of the first minibatch
  vf/epoch<k>/<variable name>  the value function's variables after epoch k (k = 1..5)
  drop/dropped                 1 if learn asked for a second batch without finishing the
                               iteration (the flow's `continue`), else 0; then also:
  drop/counters                [5] learn's iters_so_far, timesteps_so_far, episodes_so_far,
                               len(lenbuffer), len(rewbuffer) when it asked for the next batch
  drop/vf_updates, drop/logged_keys  MpiAdam updates made and record_tabular calls (0, 0)
  after_drop/<variable name>   every pi/ variable (policy, value function, filter) when it
                               asked for the next batch
Run in its own process (it installs the TF1 compatibility layer first); the tests never
import it.
"""
import argparse
import os
import subprocess
import sys
import types

import numpy as np

PARITY_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(PARITY_DIR)
sys.path.insert(0, PARITY_DIR)

import compat  # noqa: E402
from train_original import HarnessError, call_runner, load_runner, resolve_env  # noqa: E402

TRPO_POLICY_RUNNERS = {"trpo_normflow": "flow", "trpo_gmm": "gmm", "trpo_gaussian": "gaussian"}
# The fixtures' seeds. The GMM's 2: its line search halves the step once (the first trial's
# sample KL is 0.38); with seed 3 its Fisher quadratic form is negative (a NaN step).
DEFAULT_SEEDS = {"trpo_normflow": 0, "trpo_gmm": 2, "trpo_gaussian": 0}
FLOW_NEGATIVE_SEED = 12
FLOW_BACKTRACK_SEED = 8
# (runner, case) -> (seed, fixture file name); `check_case` says what each case must show.
CASES = {
    ("trpo_normflow", "step"): (0, "golden_trpo_flow.npz"),
    ("trpo_gmm", "step"): (2, "golden_trpo_gmm.npz"),
    ("trpo_gaussian", "step"): (0, "golden_trpo_gaussian.npz"),
    ("trpo_normflow", "negative"): (FLOW_NEGATIVE_SEED, "golden_trpo_flow_negative.npz"),
    ("trpo_gmm", "negative"): (3, "golden_trpo_gmm_negative.npz"),
    ("trpo_normflow", "backtrack"): (FLOW_BACKTRACK_SEED, "golden_trpo_flow_backtrack.npz"),
}
CASE_NAMES = ("step", "negative", "backtrack")
FIXTURES_DIR = os.path.join(REPO_ROOT, "tests", "fixtures")
RANDOM_OP_TYPES = ("RandomStandardNormal", "Multinomial")
FIXED_ROWS = 1024  # the original's static training batch (timesteps_per_batch)
ENTROPY_SAMPLES = 10  # the flow's ENTROPY_NUMSAMPLES
PERTURBATION = 0.1  # std of the normal noise added to every policy weight (--perturbation)
LOG_STD = -0.4  # the Gaussian's (never trained) log-std, moved off 0 so that std != 1
FILTER_COUNT = 2000.0  # observations the filter has "seen" before the batch
LOSS_NAMES = ("optimgain", "meankl", "entloss", "surrgain", "entropy")


class RecorderError(Exception):
    """The run did not go as the recorder expects (e.g. not the case asked for)."""


class BatchDropped(Exception):
    """learn asked for a second batch without finishing its iteration (the flow's
    `continue` on a negative Fisher quadratic form): the recording stops there."""


def fixed_data(rng, obs_dim: int):
    """Filter statistics (sum, sumsq, count), observations [N, obs_dim], advantages [N],
    returns [N]: fixed, non-trivial values."""
    mean = rng.normal(0.0, 1.5, obs_dim)
    variance = np.exp(rng.uniform(np.log(0.05), np.log(4.0), obs_dim))
    variance[obs_dim // 2] = 0.003  # below the filter's variance floor of 1e-2
    stats = (mean * FILTER_COUNT, (variance + mean ** 2) * FILTER_COUNT, FILTER_COUNT)
    observations = mean + 1.3 * np.sqrt(variance) * rng.standard_normal((FIXED_ROWS, obs_dim))
    observations[::97] *= 8.0  # some rows far outside: clipped at +-5 after normalising
    advantages = 2.0 * rng.standard_normal(FIXED_ROWS) + 0.5
    weights = rng.standard_normal(obs_dim)
    returns = 3.0 + np.tanh(observations @ weights / obs_dim) * 5.0 \
        + 0.5 * rng.standard_normal(FIXED_ROWS)
    return stats, observations.astype(np.float32), advantages.astype(np.float32), \
        returns.astype(np.float32)


def random_ancestors(tensors):
    """The random ops (RANDOM_OP_TYPES) whose outputs `tensors` depend on."""
    seen, stack, found = set(), [t.op for t in tensors], []
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        if op.type in RANDOM_OP_TYPES:
            found.append(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return found


class Recorder:
    """Holds the hooks' state and everything recorded."""

    def __init__(self, policy: str, seed: int):
        self.policy = policy
        self.seed = seed
        self.rng = np.random.RandomState(10_000 + seed)
        self.out = {}
        self.noise = {}  # random op output tensor -> fixed value, fed to every function
        self.functions = []  # (outputs, function) of every U.function, in creation order
        self.calls = {}  # label -> [(args, result)]
        self.labels = {}  # id(function) -> label
        self.flat_lists = []  # every U.GetFlat's variable list, in creation order
        self.messages = []
        self.tabular = {}
        self.vf_optimizer = None
        self.vf_snapshots = []
        self.vf_orders = []
        self.segments_yielded = 0
        self.vf_updates = 0
        self.dropped = False

    # -- hooks ------------------------------------------------------------------------
    def install(self, runner_module):
        import baselines.common.tf_util as U
        from baselines import logger
        from baselines.common import dataset, mpi_adam

        trpo = getattr(runner_module, "trpo_implicit", None) or runner_module.trpo_mpi
        self.U, self.tf = U, U.tf
        real_function, real_initialize = U.function, U.initialize
        real_getflat_init = U.GetFlat.__init__
        real_cg, real_learn = trpo.cg, trpo.learn
        real_iterbatches, real_update = dataset.iterbatches, mpi_adam.MpiAdam.update
        real_log, real_record = logger.log, logger.record_tabular
        recorder = self

        def function(inputs, outputs, updates=None, givens=None):
            assert givens is None
            compiled = real_function(inputs, outputs, updates, givens=recorder.noise)

            def call(*args):
                result = compiled(*args)
                label = recorder.labels.get(id(call))
                if label is not None:
                    recorder.calls.setdefault(label, []).append((args, result))
                return result
            recorder.functions.append((inputs, outputs, call))
            return call

        def initialize():
            real_initialize()
            recorder.after_initialize()

        def getflat_init(flat, var_list):
            recorder.flat_lists.append(list(var_list))
            real_getflat_init(flat, var_list)

        def learn(env, policy_func, **kwargs):
            recorder.act_dim = env.action_space.shape[0]
            recorder.out.update({f"meta/{name}": np.asarray(value) for name, value
                                 in kwargs.items() if isinstance(value, (int, float))})
            return real_learn(env, policy_func, **kwargs)

        def cg(f_Ax, b, **kwargs):
            recorder.before_cg(f_Ax, b)
            direction = real_cg(f_Ax, b, **kwargs)
            recorder.out["cg/direction"] = direction.copy()
            return direction

        def iterbatches(arrays, **kwargs):
            recorder.out["meta/vf_batch_size"] = np.asarray(kwargs["batch_size"])
            state = np.random.get_state()
            order = np.arange(len(arrays[0]))
            np.random.shuffle(order)  # the draw iterbatches makes next
            np.random.set_state(state)
            recorder.vf_orders.append(order)
            yield from real_iterbatches(arrays, **kwargs)
            recorder.vf_snapshots.append(recorder.vf_optimizer.getflat().copy())

        def update(optimizer, gradient, stepsize):
            recorder.vf_updates += 1
            if recorder.vf_optimizer is None:
                recorder.vf_optimizer = optimizer
                recorder.after_policy_step()
            return real_update(optimizer, gradient, stepsize)

        def log(*args, **kwargs):
            recorder.messages.append(" ".join(map(str, args)))
            return real_log(*args, **kwargs)

        def record_tabular(key, value):
            recorder.tabular[key] = value
            return real_record(key, value)

        U.function, U.initialize, U.GetFlat.__init__ = function, initialize, getflat_init
        trpo.cg, trpo.learn = cg, learn
        trpo.traj_segment_generator = self.segments
        trpo.add_vtarg_and_adv = self.set_advantages
        dataset.iterbatches, mpi_adam.MpiAdam.update = iterbatches, update
        logger.log, logger.record_tabular = log, record_tabular

    # -- the run --------------------------------------------------------------------------
    def variables(self, prefix="pi/"):
        return [v for v in self.tf.global_variables() if v.name.startswith(prefix)]

    def after_initialize(self):
        """The graph is complete: label learn's functions, perturb the weights, set the
        filter's statistics, choose the noise."""
        if self.labels:
            return
        tf, sess = self.tf, self.U.get_session()
        names = ("compute_losses", "compute_lossandgrad", "compute_fvp",
                 "compute_vflossandgrad")
        created = self.functions[-len(names):]
        for label, (inputs, outputs, call) in zip(names, created):
            self.labels[id(call)] = label
        shapes = [(len(inputs), len(outputs) if isinstance(outputs, list) else 1)
                  for inputs, outputs, _ in created]
        if shapes != [(3, 5), (3, 6), (4, 1), (2, 1)] \
                or not created[2][0][0].name.startswith("flat_tan"):
            raise RecorderError(f"learn's functions are not where expected: {shapes}")
        # learn's flat lists: MpiAdam's (pi/value* or pi/vf*) and the policy's (pi/pol*)
        lists = {}
        for var_list in self.flat_lists:
            part = var_list[0].name.split("/")[1] if var_list else ""
            role = "policy" if part.startswith("pol") else \
                "vf" if part.startswith(("value", "vf")) else None
            if role is not None and var_list[0].name.startswith("pi/"):
                lists.setdefault(role, []).append(var_list)
        if sorted((role, len(found)) for role, found in lists.items()) \
                != [("policy", 1), ("vf", 1)]:
            raise RecorderError("cannot tell the policy's and value function's variables")
        self.policy_vars, self.vf_vars = lists["policy"][0], lists["vf"][0]
        for key, var_list in (("policy_flat", self.policy_vars), ("vf_flat", self.vf_vars)):
            start = 0
            for var in var_list:
                size = int(np.prod(var.shape.as_list()))
                self.out[f"{key}/{var.name}"] = np.array([start, start + size], np.int64)
                start += size

        # (one session call each way: every new call of this graph costs ~0.5 s to prune)
        values = dict(zip(self.policy_vars, sess.run(self.policy_vars)))
        for var, value in values.items():
            noise = PERTURBATION * self.rng.standard_normal(value.shape)
            values[var] = (value + noise).astype(np.float32)
        if self.policy == "gaussian":
            logstd = self.variable("pi/logstd:0")
            noise = PERTURBATION * self.rng.standard_normal(logstd.shape.as_list())
            values[logstd] = (LOG_STD + noise).astype(np.float32)
        obs_dim = self.variable("pi/obfilter/runningsum:0").shape.as_list()[0]
        self.filter_stats, self.observations, self.advantages, self.returns = \
            fixed_data(self.rng, obs_dim)
        for name, value in zip(("runningsum", "runningsumsq", "count"), self.filter_stats):
            values[self.variable(f"pi/obfilter/{name}:0")] = np.asarray(value, np.float64)
        placeholders = {var: tf.placeholder(var.dtype.base_dtype, var.shape) for var in values}
        sess.run([tf.assign(var, placeholder) for var, placeholder in placeholders.items()],
                 {placeholders[var]: value for var, value in values.items()})
        self.out.update({f"init/{v.name}": value for v, value
                         in zip(self.variables(), sess.run(self.variables()))})

        for op in tf.get_default_graph().get_operations():
            tensor = op.outputs[0] if op.type in RANDOM_OP_TYPES else None
            if tensor is None or not tensor.shape.is_fully_defined():
                continue  # the Gaussian's sample ops have dynamic shapes: never fed here
            shape = tensor.shape.as_list()
            if op.type == "Multinomial":
                self.noise[tensor] = self.rng.randint(2 ** 20, size=shape) % \
                    int(op.inputs[0].shape[-1])
            else:
                self.noise[tensor] = self.rng.standard_normal(shape).astype(np.float32)
        for inputs, outputs, call in created:
            tensors = outputs if isinstance(outputs, list) else [outputs]
            unfed = [op.name for op in random_ancestors(tensors)
                     if op.outputs[0] not in self.noise]
            if unfed:
                raise RecorderError(f"random ops not fed: {unfed}")
        self.record_loss_noise(created[0][1])

    def variable(self, name):
        matches = [v for v in self.tf.global_variables() if v.name == name]
        if len(matches) != 1:
            raise RecorderError(f"no single variable {name}")
        return matches[0]

    def record_loss_noise(self, losses):
        """Names the noise the losses read (the entropy estimate's) by its role."""
        ops = random_ancestors(losses)
        by_type = {op.type: op.outputs[0] for op in ops}
        # tf.distributions draws prod(sample_shape) scalars and reshapes them (row-major)
        if self.policy == "flow":
            (op,) = ops
            rows = ENTROPY_SAMPLES * FIXED_ROWS
            if op.outputs[0].shape.num_elements() != rows * self.act_dim:
                raise RecorderError(f"unexpected entropy noise {op.name}")
            self.out["noise/entropy"] = self.noise[op.outputs[0]].reshape(rows, self.act_dim)
        elif self.policy == "gmm":
            if len(ops) != 2 or set(by_type) != set(RANDOM_OP_TYPES):
                raise RecorderError(f"unexpected entropy noise {[op.name for op in ops]}")
            self.out["noise/entropy_sample"] = \
                self.noise[by_type["RandomStandardNormal"]].reshape(FIXED_ROWS, self.act_dim)
            self.out["noise/entropy_component"] = \
                self.noise[by_type["Multinomial"]].reshape(FIXED_ROWS)
        elif ops:
            raise RecorderError("the Gaussian's losses should draw no noise")

    def segments(self, pi, env, horizon, stochastic):
        """traj_segment_generator's stand-in: one fixed segment, actions sampled from fixed
        noise by the policy's acting graph."""
        if horizon != FIXED_ROWS:
            raise RecorderError(f"timesteps_per_batch {horizon} != {FIXED_ROWS}")
        self.pi = pi
        actions = self.sample_actions(pi)
        while True:
            if self.segments_yielded:
                # learn stops after one finished iteration (its episode reaches the budget)
                self.batch_dropped()
                raise BatchDropped()
            self.segments_yielded += 1
            yield {"ob": self.observations.copy(), "ac": actions.copy(),
                   "rew": np.zeros(horizon, np.float32), "vpred": np.zeros(horizon, np.float32),
                   "new": np.zeros(horizon, np.int32), "nextvpred": 0.0,
                   "ep_rets": [0.0], "ep_lens": [horizon]}

    def sample_actions(self, pi):
        sess = self.U.get_session()
        obs_dim = self.observations.shape[1]
        if self.policy == "gaussian":
            observations = self.U.get_placeholder_cached(name="ob")
            sample = pi.pd.sample()
            (op,) = random_ancestors([sample])
            noise = self.rng.standard_normal((FIXED_ROWS, sample.shape[-1])).astype(np.float32)
            self.out["noise/actions"] = noise
            return sess.run(sample, {observations: self.observations, op.outputs[0]: noise})
        observations = self.U.get_placeholder_cached(name="ob_act")
        ops = {op.type: op.outputs[0] for op in random_ancestors([pi.pi_act])}
        act_dim = pi.pi_act.shape.as_list()[-1]
        noise = self.rng.standard_normal((FIXED_ROWS, act_dim)).astype(np.float32)
        self.out["noise/actions"] = noise
        if self.policy == "gmm":
            components = self.rng.randint(2 ** 20, size=FIXED_ROWS) % \
                int(ops["Multinomial"].op.inputs[0].shape[-1])
            self.out["noise/action_components"] = components
        actions = []
        for row in range(FIXED_ROWS):
            normal = ops["RandomStandardNormal"]
            feed = {observations: self.observations[row].reshape(1, obs_dim),
                    normal: noise[row].reshape(normal.shape.as_list())}
            if self.policy == "gmm":
                feed[ops["Multinomial"]] = components[row:row + 1].reshape(1, 1)
            actions.append(sess.run(pi.pi_act, feed).reshape(act_dim))
        return np.array(actions, np.float32)

    def set_advantages(self, seg, gamma, lam):
        seg["adv"] = self.advantages.copy()
        seg["tdlamret"] = self.returns.copy()

    def before_cg(self, f_Ax, gradient):
        """At the pre-step parameters (old policy = new, filter updated)."""
        tf, sess, pi = self.tf, self.U.get_session(), self.pi
        self.out["obfilter_updated/runningsum"], self.out["obfilter_updated/runningsumsq"], \
            self.out["obfilter_updated/count"] = sess.run(
                [self.variable(f"pi/obfilter/{name}:0")
                 for name in ("runningsum", "runningsumsq", "count")])
        if self.policy == "gaussian":
            actions = tf.placeholder(tf.float32, [None, self.pi.pd.mean.shape[-1]])
            feed = {self.U.get_placeholder_cached(name="ob"): self.observations}
            log_prob = pi.pd.logp(actions)
        else:
            actions, feed, log_prob = pi.action_train, {pi.ob_train: self.observations}, \
                pi.log_prob_train
        (args, (*losses, grad)), = self.calls["compute_lossandgrad"]
        feed[actions] = args[1]
        self.out["log_prob"] = sess.run(log_prob, feed)
        self.out["batch/observations"], self.out["batch/actions"] = args[0], args[1]
        self.out["batch/advantages"] = args[2]
        self.out["batch/advantages_raw"], self.out["batch/returns"] = \
            self.advantages, self.returns
        self.out["losses/before"] = np.array(losses)
        self.out["gradient"] = grad
        if not np.array_equal(grad, gradient):
            raise RecorderError("cg's right-hand side is not the recorded gradient")
        vectors = np.stack([self.rng.standard_normal(grad.size),
                            self.rng.uniform(-1.0, 1.0, grad.size)]).astype(np.float32)
        self.out["fvp/vectors"] = vectors
        self.out["fvp/products"] = np.stack([f_Ax(vector) for vector in vectors])
        self.fisher_vector_product = f_Ax

    def record_quadratic_form(self) -> float:
        """The Fisher product of the step direction that learn computed, and shs."""
        out = self.out
        direction = out["cg/direction"]
        damping = float(out["meta/cg_damping"])
        out["meta/fvp_rows"] = np.asarray(len(self.calls["compute_fvp"][0][0][1]))
        fvp_calls = [result for (tangent, *_), result in self.calls["compute_fvp"]
                     if np.array_equal(tangent, direction)]
        if len(fvp_calls) != 1:
            raise RecorderError("cannot find the Fisher product of the step direction")
        # what fisher_vector_product(stepdir) returned to learn: allmean (one rank) + damping
        out["step/fisher_direction"] = fvp_calls[0] + damping * direction
        shs = .5 * direction.dot(out["step/fisher_direction"])
        out["step/shs"] = np.asarray(shs)
        return shs

    def batch_dropped(self):
        """learn asks for the next batch without finishing this iteration (the flow's
        `continue`): its counters, and every pi/ variable, as they are now."""
        frame = sys._getframe(1)
        while frame is not None and "timesteps_so_far" not in frame.f_locals:
            frame = frame.f_back
        if frame is None or "cg/direction" not in self.out:
            raise RecorderError("learn asked for a second batch before its step")
        found = frame.f_locals
        self.dropped = True
        self.record_quadratic_form()
        out = self.out
        out["drop/counters"] = np.array(
            [found["iters_so_far"], found["timesteps_so_far"], found["episodes_so_far"],
             len(found["lenbuffer"]), len(found["rewbuffer"])], np.int64)
        out["drop/vf_updates"] = np.asarray(self.vf_updates)
        out["drop/logged_keys"] = np.asarray(len(self.tabular))
        out.update({f"after_drop/{v.name}": value for v, value
                    in zip(self.variables(), self.U.get_session().run(self.variables()))})

    def after_policy_step(self):
        """The first value-function update: the policy step is over."""
        sess = self.U.get_session()
        out = self.out
        direction = out["cg/direction"]
        max_kl = float(out["meta/max_kl"])
        shs = self.record_quadratic_form()
        with np.errstate(invalid="ignore"):  # the GMM's negative case: NaN, as in learn
            lm = np.sqrt(shs / max_kl)
        out["step/lm"] = np.asarray(lm)
        out["step/full_step"] = direction / lm
        out["step/expected_improve"] = np.asarray(out["gradient"].dot(out["step/full_step"]))
        trials = [np.array(result) for _, result in self.calls["compute_losses"]]
        out["linesearch/losses"] = np.stack(trials)
        out["linesearch/stepsizes"] = 0.5 ** np.arange(len(trials))
        out["linesearch/accepted"] = np.asarray(int("Stepsize OK!" in self.messages))
        out.update({f"after_step/{v.name}": value for v, value
                    in zip(self.policy_vars, sess.run(self.policy_vars))})

    def finish(self):
        out = self.out
        out["drop/dropped"] = np.asarray(int(self.dropped))
        if self.dropped:
            return out
        out["after_step/losses"] = np.array([self.tabular[name] for name in LOSS_NAMES])
        out.update({f"logged/{key}": np.asarray(float(value)) for key, value
                    in self.tabular.items() if key not in (*LOSS_NAMES, "TimeElapsed")})
        (_, first_gradient) = self.calls["compute_vflossandgrad"][0]
        out["vf/first_gradient"] = first_gradient
        out["vf/orders"] = np.stack(self.vf_orders)
        for epoch, flat in enumerate(self.vf_snapshots, start=1):
            for var in self.vf_vars:
                start, stop = out[f"vf_flat/{var.name}"]
                out[f"vf/epoch{epoch}/{var.name}"] = flat[start:stop].reshape(var.shape)
        return out


def summary(out) -> str:
    """One line: what the iteration did."""
    text = f"seed {int(out['meta/seed'])}: shs {float(out['step/shs']):.4g}"
    if int(out["drop/dropped"]):
        return text + ", batch dropped (no line search, no value-function fit, no log row)"
    losses = out["linesearch/losses"]
    return text + f", {len(losses)} line-search trial(s), " + \
        ("accepted" if int(out["linesearch/accepted"]) else "none accepted") + \
        ", trial KLs " + " ".join(f"{kl:.3g}" for kl in losses[:, 1])


def check_case(case: str, out) -> None:
    """Raises RecorderError unless the recorded iteration is an instance of `case`."""
    shs, dropped = float(out["step/shs"]), bool(int(out["drop/dropped"]))
    trials = 0 if dropped else len(out["linesearch/losses"])
    accepted = not dropped and bool(int(out["linesearch/accepted"]))
    ok = {"step": shs > 0 and not dropped,
          "negative": shs <= 0,
          "backtrack": shs > 0 and accepted and trials >= 2}[case]
    if not ok:
        raise RecorderError(f"not a {case!r} case ({summary(out)}); use another --seed")


def record(runner: str, seed: int, out_path: str, env: str, num_components: int,
           num_units: int, num_layers: int, case: str = "step") -> str:
    compat.install()
    policy = TRPO_POLICY_RUNNERS[runner]
    module = load_runner(runner)
    recorder = Recorder(policy, seed)
    recorder.install(module)
    args = types.SimpleNamespace(runner=runner, seed=seed, num_timesteps=1, max_kl=0.01,
                                 num_components=num_components, num_units=num_units,
                                 num_layers=num_layers)
    try:
        call_runner(module, args, resolve_env(env))
    except BatchDropped:
        pass  # recorded by Recorder.batch_dropped
    out = recorder.finish()
    out["meta/seed"] = np.asarray(seed)
    out["meta/obs_dim"] = np.asarray(recorder.observations.shape[1])
    out["meta/act_dim"] = np.asarray(out["batch/actions"].shape[1])
    if policy == "flow":
        out.update({"meta/num_layers": np.asarray(num_layers),
                    "meta/num_units": np.asarray(num_units),
                    "meta/entropy_samples": np.asarray(ENTROPY_SAMPLES)})
    if policy == "gmm":
        out["meta/num_components"] = np.asarray(num_components)
    print(f"record_golden: {runner} {summary(out)}")
    check_case(case, out)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    np.savez_compressed(out_path, **out)
    return out_path


def default_seed(runner: str, case: str) -> int:
    if (runner, case) not in CASES:
        raise RecorderError(f"no {case!r} case for {runner} (CASES); give --seed and --out")
    return CASES[runner, case][0]


def default_out(runner: str, case: str = "step") -> str:
    if (runner, case) not in CASES:
        raise RecorderError(f"no {case!r} case for {runner} (CASES); give --seed and --out")
    return os.path.join(FIXTURES_DIR, CASES[runner, case][1])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runner", nargs="?", choices=[*TRPO_POLICY_RUNNERS, "all"],
                        default="all")
    parser.add_argument("--case", choices=CASE_NAMES, default="step",
                        help="what the iteration must show (checked); with the runner it picks "
                             "the default seed and fixture (CASES)")
    parser.add_argument("--env", default="Hopper-v4", help="only its spaces are used")
    parser.add_argument("--seed", type=int, help="default: the case's (CASES)")
    parser.add_argument("--num-components", type=int, default=2)
    parser.add_argument("--num-units", type=int, default=3)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--out", help="the .npz to write (default: the case's fixture in "
                                      "tests/fixtures/)")
    args = parser.parse_args()
    if args.runner == "all":
        if args.out or args.seed is not None:
            parser.error("--out and --seed need a single runner")
        options = ["--env", args.env, "--num-components", str(args.num_components),
                   "--num-units", str(args.num_units), "--num-layers", str(args.num_layers)]
        for runner, case in CASES:  # one process each: the runners' modules clash
            subprocess.run([sys.executable, os.path.abspath(__file__), runner, "--case", case,
                            *options], check=True)
        return
    try:
        seed = default_seed(args.runner, args.case) if args.seed is None else args.seed
        path = record(args.runner, seed, args.out or default_out(args.runner, args.case),
                      args.env, args.num_components, args.num_units, args.num_layers,
                      args.case)
    except (HarnessError, RecorderError, compat.MissingOriginal) as error:
        print(f"record_golden: error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
