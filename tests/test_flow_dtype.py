"""``FlowModel(dtype=...)``: every recipe in float64 as in float32 (issue 14, item 7).

The log-det checks of every recipe in both dtypes live in ``test_flows.py``
and ``test_image_flows.py`` (``check_bijector``); here: the variables, inputs
and outputs really are float64, a float64 model computes the float32 model's
function, trains, round-trips through ``.keras``, and bad dtypes are refused.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import bijectors as B
from tfp_genmodels import flows

tfb = tfp.bijectors
SEED = tf.constant([3, 4])


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_a_float64_recipe_is_float64_throughout_and_computes_the_float32_function(name,
                                                                                 tmp_path):
    x = recipes.training_data(name, 32)
    single = recipes.tiny(name)
    single.log_prob(x)  # ActNorm's data-dependent initialisation
    perturb_variables(single.flow, scale=0.05, seed=1)
    double = recipes.tiny(name, dtype="float64")
    assert double.get_config()["dtype"] == "float64"
    floats = double.trainable_variables
    assert floats and {v.dtype for v in floats} == {tf.float64}
    double.set_weights(single.get_weights())  # same weights, cast to float64

    assert double.log_prob(x, seed=SEED).dtype == tf.float64
    # The same density: pixels get one dequantisation noise for both (a stateless
    # draw in float64 is not the float32 draw), then the continuous densities agree.
    y = x + (np.random.default_rng(0).uniform(size=x.shape) if recipes.is_image(name) else 0)
    lp = double.distribution.log_prob(y)
    assert lp.dtype == tf.float64
    np.testing.assert_allclose(lp, single.distribution.log_prob(y.astype(np.float32)),
                               rtol=1e-4, atol=1e-4)
    assert double.sample(3, seed=2).dtype == tf.float64

    double.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = double.fit(x, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert {v.dtype for v in double.trainable_variables} == {tf.float64}

    path = str(tmp_path / "m.keras")
    double.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.flow_dtype == tf.float64
    np.testing.assert_array_equal(loaded.log_prob(x, seed=SEED), double.log_prob(x, seed=SEED))


@pytest.mark.parametrize("dtype", ["mixed_float16", "float16", "int32"])
def test_other_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match=r"`dtype` must be one of \('float32', 'float64'\)"):
        flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(4,), dtype=dtype)


def test_explicit_bijectors_of_another_dtype_are_refused():
    coupling = B.AffineCoupling((2,), hidden_units=(4,), dtype=tf.float32, name="c32")
    with pytest.raises(TypeError, match=r"'c32' has dtype float32 but the flow's `dtype` is "
                                        r"float64"):
        flows.FlowModel((2,), bijectors=[coupling], dtype="float64")
    coupling = B.AffineCoupling((2,), hidden_units=(4,), dtype=tf.float64)
    model = flows.FlowModel((2,), bijectors=[coupling], dtype="float64")
    assert model.log_prob(np.zeros([1, 2])).dtype == tf.float64


def test_a_config_without_a_dtype_loads_as_float32():
    config = recipes.tiny("realnvp").get_config()
    assert config.pop("dtype") == "float32"
    assert flows.RealNVP.from_config(config).flow_dtype == tf.float32
