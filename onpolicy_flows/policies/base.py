"""The interface every policy offers, so that learners never ask which class they hold.

A policy is a state-conditioned distribution over actions in R^act_dim. Every method takes
raw observations [batch, obs_dim] float32; the policy normalises them with its shared
`obs_normalizer` (if one is given) before its networks see them.
"""
from concurrent.futures import Future, ThreadPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from onpolicy_flows.common.flat_params import flatten
from onpolicy_flows.common.networks import acting_forms
from onpolicy_flows.common.running_mean_std import RunningMeanStd
from onpolicy_flows.common.trace_cache import TracedFunction, describe

tfd = tfp.distributions

ENTROPY_SAMPLES = 10  # noise samples per state for sample-based entropy, as in the original


class Policy(tf.Module):
    """Base class. Subclasses implement `_distribution` and `_deterministic_action`.

    Subclasses whose distributions have a closed-form KL and entropy (the Gaussian) override
    `kl` and `entropy`; the defaults are the original's sample estimates.
    """

    def __init__(self, obs_dim: int, act_dim: int, obs_normalizer: Optional[RunningMeanStd],
                 seed: int, name: str):
        super().__init__(name=name)
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.obs_normalizer = obs_normalizer
        self.noise = tf.random.Generator.from_seed(seed, alg="philox")

    # -- to implement -------------------------------------------------------------------
    def _distribution(self, features: tf.Tensor) -> tfd.Distribution:
        """Normalised observations [batch, obs_dim] -> distribution, batch [batch], event
        [act_dim]."""
        raise NotImplementedError

    def _deterministic_action(self, features: tf.Tensor) -> tf.Tensor:
        """Normalised observations [batch, obs_dim] -> noise-free actions [batch, act_dim]."""
        raise NotImplementedError

    # -- the interface --------------------------------------------------------------------
    @property
    def original_log_density_shift(self) -> float:
        """Nats the original code's log-density of this policy class lies above the true one:
        0 here; the flow overrides it (its original drops the base Normal's constant)."""
        return 0.0

    def features(self, observations: tf.Tensor) -> tf.Tensor:
        if self.obs_normalizer is None:
            return observations
        return self.obs_normalizer.normalize(observations)

    def distribution(self, observations: tf.Tensor) -> tfd.Distribution:
        return self._distribution(self.features(observations))

    def sample(self, observations: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
        """Actions [batch, act_dim] drawn with the policy's own generator, and their
        log-densities [batch]."""
        dist = self.distribution(observations)
        actions = dist.sample(seed=self.next_seed())
        return actions, dist.log_prob(actions)

    def sample_actions(self, observations: tf.Tensor) -> tf.Tensor:
        """The actions of `sample` [batch, act_dim] alone (the same draws from the same
        generator state), without building their log-densities."""
        return self.distribution(observations).sample(seed=self.next_seed())

    def deterministic_action(self, observations: tf.Tensor) -> tf.Tensor:
        """[batch, act_dim] actions without sampling noise (see each class for its meaning)."""
        return self._deterministic_action(self.features(observations))

    def log_prob(self, observations: tf.Tensor, actions: tf.Tensor) -> tf.Tensor:
        """log pi(actions | observations), [batch]. `actions` must not be a tensor that
        `sample` returned from the same distribution object if gradients are wanted."""
        return self.distribution(observations).log_prob(actions)

    def entropy(self, observations: tf.Tensor) -> tf.Tensor:
        """Entropy estimate per state, [batch]: -mean log pi(a|s) over ENTROPY_SAMPLES
        reparameterised samples a ~ pi(.|s)."""
        dist = self.distribution(observations)
        samples = dist.sample(ENTROPY_SAMPLES, seed=self.next_seed())  # [n, batch, act_dim]
        return -tf.reduce_mean(dist.log_prob(samples), axis=0)

    def entropy_at_actions(self, observations: tf.Tensor, log_probs: tf.Tensor,
                           log_ratio: tf.Tensor) -> tf.Tensor:
        """Entropy estimate per state, [batch], from actions that an older copy pi_old drew:
        -(pi / pi_old)(a|s) * log pi(a|s), importance-weighted so that its expectation is
        the entropy of pi (exactly -log pi(a|s) while pi = pi_old). `log_probs` are
        log pi(a|s) [batch], `log_ratio` log pi(a|s) - log pi_old(a|s) [batch]. It costs
        nothing beyond the log-densities a TRPO step computes anyway; classes with a closed
        form return that instead."""
        return -tf.exp(log_ratio) * log_probs

    def kl(self, old: "Policy", observations: tf.Tensor, actions: tf.Tensor,
           log_ratio: Optional[tf.Tensor] = None) -> tf.Tensor:
        """Per-state estimate of KL(old || self), [batch]: log pi_old(a|s) - log pi(a|s) at
        actions a drawn from `old` (the collected ones), as in the original TRPO.
        `log_ratio` is log pi(a|s) - log pi_old(a|s) [batch] if the caller has it already."""
        if log_ratio is None:
            log_ratio = self.log_prob(observations, actions) - old.log_prob(observations,
                                                                             actions)
        return -log_ratio

    def next_seed(self) -> tf.Tensor:
        """A fresh stateless seed [2] for TFP's samplers."""
        return tf.cast(self.noise.make_seeds(1)[:, 0], tf.int32)


class CompiledActor:
    """The per-step acting function of rollouts: numpy observations [batch_size, obs_dim] ->
    numpy actions [batch_size, act_dim], sampled by `policy.sample` (or its deterministic
    action).

    Acting is the hot loop (one call per environment step), so the sampler is traced once
    for a fixed input shape in the networks' acting forms (`networks.acting_forms`),
    compiled with XLA, and called directly as the one eager op it is (`TracedFunction`,
    which also keeps its graph between runs). Each variable a compiled call reads costs
    about 2.5 us, and the flow has ~170 of them, so the traced sampler reads the policy's
    trainable weights from one packed copy instead: call `sync()` after every change of the
    weights (rollout collectors do, at the start of each segment).
    """

    def __init__(self, policy: Policy, batch_size: int = 1, deterministic: bool = False,
                 jit_compile: bool = True):
        self.policy = policy
        self.deterministic = deterministic
        self._slots = _trainable_slots(policy)
        variables = [owner_variable for _, _, owner_variable in self._slots]
        self._packed = tf.Variable(flatten(variables), trainable=False,
                                   name="packed_weights")
        read = [self._packed, policy.noise.state, *policy.variables]
        settings = describe((policy, deterministic))
        self._pack = TracedFunction(self._pack_weights, [], settings, read)
        self._act = TracedFunction(
            self._act_from_packed, [tf.TensorSpec([batch_size, policy.obs_dim], tf.float32)],
            settings, read, jit_compile=jit_compile)
        self._act.build()
        self._input_shape = (batch_size, policy.obs_dim)
        self._compiling: Optional[Future] = None

    def sync(self) -> None:
        """Copies the policy's current weights into the packed copy the sampler reads."""
        self._pack()

    def compile_in_background(self) -> None:
        """Makes the sampler's first call, where XLA compiles it (seconds for the flow, in
        C++ that releases the GIL), on zeros on a background thread, so that it overlaps
        the caller's next work; the first real call waits for it. The policy's noise
        generator is then put back to its state before, so the draws are those of a run
        without this: nothing else may draw from it until this actor has been called."""
        state = self.policy.noise.state.read_value()
        zeros = tf.zeros(self._input_shape, tf.float32)

        def first_call():
            self._act(zeros)
            self.policy.noise.state.assign(state)

        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actor-compile")
        self._compiling = thread.submit(first_call)
        thread.shutdown(wait=False)  # the call runs on; the thread ends with it

    def compile_while_tracing(self, functions: Sequence[TracedFunction]) -> None:
        """Starts the sampler's compilation on a background thread (`compile_in_background`)
        and meanwhile builds `functions` here, so that a learner's first iteration pays for
        the longer of the two instead of both. For ranks with a core to spare
        (`mpi.has_spare_core`)."""
        self.compile_in_background()
        for function in functions:
            function.build()

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        if self._compiling is not None:
            self._compiling.result()  # raises what the first call raised
            self._compiling = None
        return self._act(tf.constant(observations, tf.float32)).numpy()

    def _pack_weights(self):
        self._packed.assign(flatten([variable for _, _, variable in self._slots]))

    def _act_from_packed(self, observations):
        """Traced in the networks' acting forms, with every trainable weight replaced by its
        piece of the packed copy."""
        sizes = [int(np.prod(v.shape)) for _, _, v in self._slots]
        pieces = tf.split(self._packed, sizes)
        for (owner, name, variable), piece in zip(self._slots, pieces):
            setattr(owner, name, tf.reshape(piece, variable.shape))
        try:
            with acting_forms():
                if self.deterministic:
                    return self.policy.deterministic_action(observations)
                return self.policy.sample_actions(observations)
        finally:
            for owner, name, variable in self._slots:
                setattr(owner, name, variable)


def raw_observation_actor(policy: Policy, deterministic: bool):
    """Raw env observation [obs_dim] -> env action [act_dim] with `policy`'s current weights,
    for replays of learners whose policy normalises its own observations (TRPO, PPO)."""
    actor = CompiledActor(policy, deterministic=deterministic)
    actor.sync()
    return lambda observation: actor(np.asarray(observation, np.float32)[None])[0]


def _trainable_slots(module: tf.Module) -> List[Tuple[tf.Module, str, tf.Variable]]:
    """(owning module, attribute name, variable) for every trainable variable that is an
    attribute of a module in `module`'s tree (the layout of every network in this package)."""
    slots = []
    for owner in [module, *module.submodules]:
        for name, value in sorted(vars(owner).items()):
            if isinstance(value, tf.Variable) and value.trainable:
                slots.append((owner, name, value))
    found = {id(variable) for _, _, variable in slots}
    if found != {id(variable) for variable in module.trainable_variables}:
        raise TypeError(f"{type(module).__name__} keeps trainable variables outside module "
                        "attributes; CompiledActor cannot pack them")
    return slots
