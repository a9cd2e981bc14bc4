"""The two parts of TF 1.6's tf.contrib that the original uses.

layers.layer_norm is written here from TF 1.6's documented behaviour (tf.contrib.layers.
layer_norm, begin_norm_axis=1, begin_params_axis=-1): in a variable scope named by `scope`
or else 'LayerNorm' (uniquified like any default scope name), a `beta` (zeros) and a `gamma`
(ones) of the last dimension's size, both model variables; the input normalised by
nn.moments over the axes from begin_norm_axis on (keep_dims) and nn.batch_normalization with
variance_epsilon 1e-12. The variable names (.../LayerNorm/beta, .../LayerNorm/gamma) and the
op order match TF 1.6, so checkpoints and variable filters of the original see the same graph.
distributions is tf.compat.v1.distributions (the original uses only Normal).
"""
import types


def build(v1) -> types.ModuleType:
    """A `tensorflow.contrib` module with `layers` and `distributions` submodules."""
    def layer_norm(inputs, center=True, scale=True, activation_fn=None, reuse=None,
                   variables_collections=None, outputs_collections=None, trainable=True,
                   begin_norm_axis=1, begin_params_axis=-1, scope=None):
        if variables_collections is not None or outputs_collections is not None:
            raise NotImplementedError("layer_norm shim: collections arguments are not used "
                                      "by the original and not supported")
        with v1.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse):
            inputs = v1.convert_to_tensor(inputs)
            inputs_shape = inputs.shape
            rank = inputs_shape.ndims
            if rank is None:
                raise ValueError(f"layer_norm: inputs {inputs.name} have undefined rank")
            if begin_norm_axis < 0:
                begin_norm_axis += rank
            params_shape = inputs_shape[begin_params_axis:]
            if not params_shape.is_fully_defined():
                raise ValueError(f"layer_norm: inputs {inputs.name} have undefined "
                                 f"parameter dimensions {params_shape}")
            collections = [v1.GraphKeys.GLOBAL_VARIABLES, v1.GraphKeys.MODEL_VARIABLES]
            beta = gamma = None
            if center:
                beta = v1.get_variable("beta", shape=params_shape, dtype=inputs.dtype.base_dtype,
                                       initializer=v1.zeros_initializer(),
                                       collections=collections, trainable=trainable)
            if scale:
                gamma = v1.get_variable("gamma", shape=params_shape,
                                        dtype=inputs.dtype.base_dtype,
                                        initializer=v1.ones_initializer(),
                                        collections=collections, trainable=trainable)
            norm_axes = list(range(begin_norm_axis, rank))
            mean, variance = v1.nn.moments(inputs, norm_axes, keep_dims=True)
            outputs = v1.nn.batch_normalization(inputs, mean, variance, offset=beta,
                                                scale=gamma, variance_epsilon=1e-12)
            outputs.set_shape(inputs_shape)
            if activation_fn is not None:
                outputs = activation_fn(outputs)
            return outputs

    contrib = types.ModuleType("tensorflow.contrib")
    contrib.layers = types.ModuleType("tensorflow.contrib.layers")
    contrib.layers.layer_norm = layer_norm
    contrib.distributions = v1.distributions
    return contrib
