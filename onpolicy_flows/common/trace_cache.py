"""Traced graph functions kept on disk between runs (`TracedFunction`).

Tracing a learner's update functions is most of a run's start-up: TensorFlow builds their
~10k graph ops one Python call at a time (about 5 s of the flow TRPO's 7 s first iteration).
The graph a function traces to depends only on this package's code, the library versions
and the objects the function reads, so each traced graph is kept under a key made of all
three, and a later run with the same key loads it (about 50 ms) instead of tracing it. The
loaded graph is the traced one, node for node: a run computes the same numbers either way.

Where: `$XDG_CACHE_HOME/onpolicy_flows/traces` (default `~/.cache/...`). The environment
variable ONPOLICY_FLOWS_TRACE_CACHE names another directory, or turns the cache off with
`off`. Entries (one per function and setting, 20-200 KB) are written atomically, so MPI
ranks may share a directory; one that cannot be read is traced and written again; entries
unused for PRUNE_AFTER_DAYS are deleted.

XLA's executables are not kept: TensorFlow's own persistent XLA cache missed for ACKTR's
actor in every run and logged parse errors of its entries, for 0.8 s saved on a background
thread where it did hit.
"""
import collections.abc
import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
import warnings
import zlib
from pathlib import Path
from typing import Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow.core.framework import function_pb2
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context, execute

from onpolicy_flows.common import mpi
from onpolicy_flows.common.compiled import compiled

CACHE_ENV = "ONPOLICY_FLOWS_TRACE_CACHE"
FORMAT = 1  # bump when the entry layout changes
SUFFIX = ".tfgraph"
PRUNE_AFTER_DAYS = 30
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def cache_directory() -> Optional[Path]:
    """The directory entries are kept in, or None when the cache is off."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in ("off", "0", "false", "no"):
        return None
    if setting:
        return Path(setting).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "onpolicy_flows" / "traces"


_code_digest: Optional[str] = None


def code_digest() -> str:
    """SHA-256 of every Python file of this package and of the library versions a traced
    graph depends on: any change of either gives every function a new key."""
    global _code_digest
    if _code_digest is None:
        digest = hashlib.sha256()
        versions = (FORMAT, sys.version_info[:2], tf.__version__, tfp.__version__,
                    np.__version__)
        digest.update(repr(versions).encode())
        for path in sorted(PACKAGE_ROOT.rglob("*.py")):
            digest.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            digest.update(path.read_bytes())
        _code_digest = digest.hexdigest()
    return _code_digest


def describe(value) -> str:
    """A text that tells apart any two values a traced function may read differently:
    numbers, strings, arrays (by content), variables (by name, shape and dtype, not value),
    functions (by name) and, recursively, the attributes of every other object (policies,
    their networks, normalisers). TensorFlow's checkpoint-tracking bookkeeping is left out.
    """
    return _describe(value, set())


def _describe(value, seen: set) -> str:
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return repr(value)
    if isinstance(value, tf.Variable):
        return (f"Variable({value.name},{value.shape},{value.dtype.name},"
                f"trainable={value.trainable})")
    if isinstance(value, tf.Tensor):
        return "Tensor" + _describe(value.numpy(), seen)
    if isinstance(value, (np.ndarray, np.generic)):
        content = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
        return f"array({value.dtype},{np.shape(value)},{content})"
    if isinstance(value, (tf.DType, tf.TensorShape, tf.TensorSpec)):
        return repr(value)
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    if isinstance(value, collections.abc.Mapping):
        items = sorted((repr(key), _describe(item, seen)) for key, item in value.items())
        return "{" + ",".join(f"{key}:{item}" for key, item in items) + "}"
    if isinstance(value, collections.abc.Sequence):
        return "[" + ",".join(_describe(item, seen) for item in value) + "]"
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    if id(value) in seen:
        return f"{kind}(seen)"
    seen.add(id(value))
    attributes = {name: item for name, item in getattr(value, "__dict__", {}).items()
                  if not name.startswith("_self_") and name != "_name_scope"}
    return f"{kind}({_describe(attributes, seen)})"


class TracedFunction:
    """`function` traced for `input_signature` (a list of `tf.TensorSpec`) by `compiled`,
    called as the one eager op it traces to, whose graph comes from the trace cache when an
    earlier run traced the same one.

    The key is the package's code (`code_digest`), the function's name and input signature,
    `settings` (what else its graph depends on, e.g. `describe((policy, old_policy, coeff))`)
    and `variables`, every variable the function may read (by name, shape and dtype). A
    function that reads anything else (an eager tensor it captured), draws from a
    graph-level random seed, calls other graph functions (`tf.cond`, forward-mode
    gradients) or calls back into Python is traced in every run, uncached.

    A traced graph is kept as its definition alone: nothing holds on to the Python graph
    objects tracing made (about 60 MB for the flow TRPO's objective), so the garbage
    collector frees them, instead of their adding up over the functions a learner traces.

    Called with the signature's tensors (or arrays convertible to them), it returns what the
    function returns: None, one tensor or a tuple of them. Calls are about 40 us cheaper than
    the tf.function's own entry points, which re-check the arguments and open several
    contexts.

    `graph_optimizer=False` runs the graph as traced, without TensorFlow's graph optimiser
    (grappler): for the large gradient graphs here its pass at the first call costs seconds
    and the calls are no faster for it (TRPO's flow objective: 3.0 -> 0.9 s of first calls,
    7 ms per Fisher-vector product either way, measured side by side).
    """

    def __init__(self, function: Callable, input_signature: Sequence[tf.TensorSpec],
                 settings: str, variables: Sequence[tf.Variable], graph_optimizer: bool = True,
                 jit_compile: bool = False):
        self.function = function
        self.name = function.__qualname__
        self.input_signature = list(input_signature)
        self._variables = list(variables)
        self._key = "\n".join([
            code_digest(), self.name, repr(self.input_signature), settings,
            describe([(v.name, v.shape, v.dtype) for v in self._variables]),
            f"jit_compile={jit_compile}"])
        self._graph_optimizer = graph_optimizer
        self._jit_compile = jit_compile
        self._build_lock = threading.Lock()
        self._call: Optional[Callable] = None
        self._traced = None
        self.loaded_from_cache = False

    def build(self) -> None:
        """Loads the graph from the cache, or traces it (and keeps it there). Idempotent."""
        with self._build_lock:
            if self._call is not None:
                return
            directory = cache_directory()
            entry = None if directory is None else directory / (_digest(self._key) + SUFFIX)
            graph = _read_entry(entry, self._key) if entry is not None else None
            self.loaded_from_cache = graph is not None
            if graph is None:
                graph = self._trace()
                if graph.cacheable:
                    if entry is not None:
                        _write_entry(entry, self._key, graph)
                    graph.register_as(self._key)  # what a later run will call
            self._call = graph.caller(self._variables, self._graph_optimizer)
            self._traced = graph.concrete  # None, or what must live for the call to work

    @property
    def built(self) -> bool:
        """Whether the graph is traced or loaded (`build`)."""
        return self._call is not None

    def __call__(self, *inputs):
        if self._call is None:
            self.build()
        if len(inputs) != len(self.input_signature):
            raise TypeError(f"{self.name} takes "
                            f"{len(self.input_signature)} inputs, got {len(inputs)}")
        tensors = []
        for spec, value in zip(self.input_signature, inputs):
            tensor = value if isinstance(value, tf.Tensor) and value.dtype == spec.dtype \
                else tf.convert_to_tensor(value, spec.dtype)
            if not spec.shape.is_compatible_with(tensor.shape):
                raise ValueError(f"{self.name}: an input of "
                                 f"shape {tensor.shape} where {spec.shape} was traced")
            tensors.append(tensor)
        return self._call(tensors)

    def _trace(self) -> "_Graph":
        """Traces a fresh tf.function, kept only as long as the graph needs it."""
        concrete = compiled(self.function, input_signature=self.input_signature,
                            jit_compile=self._jit_compile).get_concrete_function()
        definition = concrete.function_def
        handles = {variable.handle.ref(): index
                   for index, variable in enumerate(self._variables)}
        captured = list(concrete.captured_inputs)
        outputs = concrete.structured_outputs
        is_tuple = isinstance(outputs, tuple)
        flat = list(outputs) if is_tuple else [] if outputs is None else [outputs]
        if not all(isinstance(tensor, tf.Tensor) for tensor in flat):
            raise TypeError(f"{self.name} must return "
                            "None, a tensor or a tuple of tensors")
        cacheable = (all(tensor.ref() in handles for tensor in captured)
                     and not _draws_from_graph_seeds(definition)
                     and not _calls_other_functions(definition)
                     and not _calls_python(definition))
        graph = _Graph(definition, [handles.get(tensor.ref(), -1) for tensor in captured],
                       len(flat), is_tuple, cacheable)
        if not cacheable:  # called under TensorFlow's name for it, as long as it lives
            graph.captured = captured
            graph.concrete = concrete
        return graph


def build_across_ranks(functions: Sequence[TracedFunction]) -> None:
    """Collective: builds every one of `functions` on every rank, tracing each once in the
    job instead of once per rank where the ranks share the cache. Each rank first builds
    its share (functions given costliest first are dealt out in snake order: ranks 0, 1,
    ..., n-1, n-1, ..., 0, 0, ...), then, once all have, loads the rest from the entries
    the others wrote. A rank that cannot read them (the cache is off on some rank, or not
    shared) traces them itself; a rank whose share raised raises once all have built
    theirs. Pass only functions that can be cached (`TracedFunction`), or every rank will
    trace again what one traced."""
    size, rank = mpi.world_size(), mpi.rank()
    if size > 1 and all(mpi.allgather(cache_directory() is not None)):
        failure = None
        try:
            for index, function in enumerate(functions):
                lap, place = divmod(index, size)
                if (place if lap % 2 == 0 else size - 1 - place) == rank:
                    function.build()
        except Exception as error:  # raised below, once no other rank waits for this one
            failure = error
        mpi.wait_for_all()
        if failure is not None:
            raise failure
    for function in functions:
        function.build()


class _Graph:
    """A traced function's definition, how its captured inputs map onto the variables
    (indices), and its outputs (a count; a tuple, or one tensor or None)."""

    def __init__(self, definition, captures: List[int], num_outputs: int, is_tuple: bool,
                 cacheable: bool = True):
        self.definition = definition
        self.captures = captures
        self.num_outputs = num_outputs
        self.is_tuple = is_tuple
        self.cacheable = cacheable
        self.captured: Optional[list] = None  # the tensors themselves, when not cacheable
        self.concrete = None  # the traced function, when not cacheable

    def register_as(self, key: str) -> None:
        """Registers the definition with TensorFlow under the name `key` gives it in every
        run, so that a run that traced it calls what a run that loads it will."""
        self.definition = _named_for(self.definition, key)
        context.context().add_function_def(self.definition)

    def caller(self, variables: Sequence[tf.Variable], graph_optimizer: bool) -> Callable:
        """A function of the input tensors that runs the graph as one eager op, with or
        without TensorFlow's graph optimiser."""
        name = self.definition.signature.name
        captured = self.captured if self.captured is not None \
            else [variables[index].handle for index in self.captures]
        num_outputs, is_tuple = self.num_outputs, self.is_tuple

        def call(tensors):
            context_ = context.context()
            outputs = execute.execute(name, num_outputs, [*tensors, *captured],
                                      _call_attributes(context_, graph_optimizer), context_)
            if is_tuple:
                return tuple(outputs)
            return outputs[0] if outputs else None
        return call


def _call_attributes(context_, graph_optimizer: bool) -> tuple:
    """The attributes of a function call under the context's current settings (read per
    call, as TensorFlow's own calls do), the graph optimiser turned off if asked."""
    attributes = context_.function_call_options.as_attrs()
    if not graph_optimizer:
        attributes["config_proto"] = _without_graph_optimizer(attributes["config_proto"])
    return tuple(item for pair in attributes.items() for item in pair)


@functools.lru_cache(maxsize=16)
def _without_graph_optimizer(serialized_config: bytes) -> bytes:
    config = config_pb2.ConfigProto.FromString(serialized_config)
    config.graph_options.rewrite_options.disable_meta_optimizer = True
    return config.SerializeToString()


def _draws_from_graph_seeds(definition) -> bool:
    """Whether an op's random seed came from the graph-level seed (different per run)."""
    return any(node.attr[name].i != 0 for node in definition.node_def
               for name in ("seed", "seed2") if name in node.attr)


def _calls_other_functions(definition) -> bool:
    """Whether an op calls another graph function (an entry holds one function only)."""
    return any(value.HasField("func") or len(value.list.func)
               for node in definition.node_def for value in node.attr.values())


def _named_for(definition, key: str):
    """A copy of `definition` named after its traced name and `key`."""
    named = function_pb2.FunctionDef()
    named.CopyFrom(definition)
    traced_name = definition.signature.name.split("_cached_")[0]
    named.signature.name = f"{traced_name}_cached_{_digest(key)[:16]}"
    return named


def _calls_python(definition) -> bool:
    """Whether an op calls back into Python (`tf.numpy_function`): its callable is known to
    this process only, by a token."""
    return any(node.op in ("PyFunc", "PyFuncStateless", "EagerPyFunc")
               for node in definition.node_def)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _read_entry(path: Path, key: str) -> Optional[_Graph]:
    """The graph kept at `path` for `key`, registered with TensorFlow under a name unique to
    the key; None if there is none or it cannot be read (warned)."""
    try:
        with open(path, "rb") as stream:
            header_line, body = stream.readline(), stream.read()
    except OSError:  # none yet, or no directory to hold one (writing will say so)
        return None
    try:
        header = json.loads(header_line)
        if header.get("format") != FORMAT or header.get("key") != key:
            return None
        graph = _Graph(function_pb2.FunctionDef.FromString(zlib.decompress(body)),
                       header["captures"], header["num_outputs"], header["is_tuple"])
        graph.register_as(key)
        os.utime(path)  # recently used: kept by `_prune`
        return graph
    except Exception as error:  # a damaged entry: trace instead, and overwrite it
        warnings.warn(f"trace cache: ignoring unreadable entry {path} ({error!r})")
        return None


def _write_entry(path: Path, key: str, graph: _Graph) -> None:
    """Writes the entry atomically; a cache that cannot be written is skipped, with a
    warning."""
    header = dict(format=FORMAT, key=key, captures=graph.captures,
                  num_outputs=graph.num_outputs, is_tuple=graph.is_tuple)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            stream.write(json.dumps(header).encode() + b"\n")
            stream.write(zlib.compress(graph.definition.SerializeToString(), 6))
        os.replace(temporary, path)
        _prune(path.parent)
    except OSError as error:
        warnings.warn(f"trace cache: cannot write {path} ({error}); set {CACHE_ENV}=off "
                      "to stop trying")


def _prune(directory: Path) -> None:
    """Deletes entries unused for PRUNE_AFTER_DAYS (their code or settings are gone)."""
    cutoff = time.time() - PRUNE_AFTER_DAYS * 86400
    for entry in [*directory.glob("*" + SUFFIX), *directory.glob("*.tmp")]:
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass
