"""TFP's private names, reached only through ``tfp_genmodels._tfp_compat``.

Each test exercises one name the way the package uses it, so a TFP release
that renames or changes one fails here, by name, before any model does.
"""

from __future__ import annotations

import pathlib
import re

import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _tfp_compat as compat
from tfp_genmodels import bijectors as B
from tfp_genmodels._keras import keras

tfb = tfp.bijectors
PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "tfp_genmodels"


def test_chain_and_invert_of_keras_holding_bijectors_are_the_private_classes():
    coupling = B.AffineCoupling([2], hidden_units=[4])
    assert isinstance(tfb.Chain([coupling]), compat.Chain)
    assert isinstance(tfb.Invert(coupling), compat.Invert)


class _CountingConditioner(keras.layers.Layer):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)
        self.calls = 0

    def call(self, x, context=None):
        self.calls += 1
        return self.dense(x)


def test_greedy_cache_keeps_the_log_det_of_the_same_pass():
    conditioner = _CountingConditioner()
    coupling = B.AffineCoupling([2], conditioner=conditioner)
    x = tf.constant([[0.3, -1.2]])
    y = coupling.forward(x)
    calls = conditioner.calls
    coupling.forward_log_det_jacobian(x, event_ndims=1)
    coupling.inverse_log_det_jacobian(y, event_ndims=1)
    assert conditioner.calls == calls  # both log-dets came from the cache


def test_parameter_conventions():
    variable = tf.Variable(1.0, dtype=tf.float64)
    assert compat.common_dtype([variable, 2.0], dtype_hint=tf.float32) == tf.float64
    assert compat.is_ref(variable) and not compat.is_ref(tf.constant(1.0))
    assert compat.convert_nonref_to_tensor(variable) is variable
    assert isinstance(compat.convert_nonref_to_tensor(2.0, dtype=tf.float32), tf.Tensor)
    props = B.Planar.parameter_properties()
    assert all(isinstance(p, compat.ParameterProperties) for p in props.values())
    assert props["w"].event_ndims == 1 and props["b"].event_ndims == 0


@pytest.mark.parametrize("conditional", [False, True])
def test_made_network_flag_and_output_layers(conditional):
    made = tfb.AutoregressiveNetwork(params=2, event_shape=[3], hidden_units=[5],
                                     activation="relu", conditional=conditional,
                                     conditional_event_shape=[2] if conditional else None)
    made(tf.zeros([1, 3]), conditional_input=tf.zeros([1, 2]) if conditional else None)
    maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made)
    assert compat.maf_network(maf) is made
    assert compat.made_is_conditional(made) is conditional
    outputs = compat.made_layers_after_activation(made)
    assert not any(isinstance(layer, keras.layers.Activation) for layer in outputs)
    weighted = [layer for layer in outputs if layer.weights]
    # The masked output Dense (and the context Dense, added to it): the layers
    # zeroed at initialisation; their kernels map to the 3 x 2 outputs.
    assert len(weighted) == (2 if conditional else 1)
    assert all(layer.weights[0].shape[-1] == 6 for layer in weighted)


def test_private_tfp_names_and_tf_keras_are_imported_in_one_module_each():
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text()
        if path.name != "_tfp_compat.py":
            assert "tensorflow_probability.python" not in source, path
            assert not re.search(r"\._(network|shift_and_log_scale_fn|conditional)\b",
                                 source.replace("self._conditional", "")), path
        if path.name != "_keras.py":
            assert not re.search(r"^\s*(import tf_keras|from tf_keras)", source, re.M), path
