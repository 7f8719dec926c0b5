"""Image flows (Glow, multi-scale RealNVP): pixels in, pixels out, exact log-dets."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import check_bijector, perturb_variables
from tfp_genmodels import data, flows, vae

tfb = tfp.bijectors
DIGITS = data.load_digits()
X = DIGITS.train.x[:256]
IMAGE_RECIPES = {name: recipes.RECIPES[name] for name in recipes.IMAGE_RECIPES}
SEED = tf.constant([3, 4])


def _core(model):
    """The flow without the pixel end (dequantise + logit): float32-safe round trips."""
    assert model.flow.bijectors[0].name == "dequantize"
    return tfb.Chain(model.flow.bijectors[2:])


def _perturbed(name, **kw):
    model = IMAGE_RECIPES[name](**kw)
    model.log_prob(X[:64])  # ActNorm's data-dependent init
    perturb_variables(model.flow, scale=0.05, seed=1)
    return model


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_constructible_with_event_shape_only(name):
    cls = type(IMAGE_RECIPES[name]())
    model = cls(event_shape=(8, 8, 3))
    lp = model.log_prob(np.full([2, 8, 8, 3], 128 / 255))  # a value of the 256-level grid
    assert lp.shape == (2,) and np.all(np.isfinite(lp))


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_log_prob_is_dequantised_discrete_density(name):
    model = _perturbed(name)
    lp = model.log_prob(X[:5], seed=SEED)
    assert lp.shape == (5,) and np.all(np.isfinite(lp))
    # Same noise, same value; the density is the flow's density of k + u.
    np.testing.assert_array_equal(lp, model.log_prob(X[:5], seed=SEED))
    u = tf.random.stateless_uniform(X[:5].shape, seed=SEED, alg="philox")
    np.testing.assert_allclose(lp, model.distribution.log_prob(X[:5] + u), rtol=1e-6)
    # Integer input and [0, 1] input describe the same pixels.
    unit = IMAGE_RECIPES[name](pixel_format="unit")
    unit.set_weights(model.get_weights())
    np.testing.assert_allclose(unit.log_prob(X[:5] / 16.0, seed=SEED), lp, rtol=1e-5)
    with pytest.raises(ValueError, match=r"`x` must hold integer pixels in \[0, 16\]"):
        model.log_prob(X[:2] + 0.5 * 40)


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_samples_are_pixels_and_temperature_shrinks_spread(name):
    model = _perturbed(name)
    s = model.sample(16, seed=1)
    assert s.shape == (16, 8, 8, 1)
    np.testing.assert_array_equal(s, np.clip(np.round(s), 0, 16))
    z_cold = _core(model).forward(model.base_distribution(0.1).sample(64, seed=2))
    z_warm = _core(model).forward(model.base_distribution(1.0).sample(64, seed=2))
    assert np.std(z_cold) < np.std(z_warm)


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_core_round_trip_and_log_det_against_autodiff(name):
    def make(dtype):
        # Small event shape so the autodiff Jacobian stays cheap: 4x4x1 = 16 dims;
        # float32 and float64 (the model's `dtype`).
        model = recipes.tiny(name, event_shape=(4, 4, 1), num_scales=2, dtype=dtype.name)
        model.log_prob(np.full([8, 4, 4, 1], 7.0) + np.arange(8)[:, None, None, None])
        perturb_variables(model.flow, scale=0.05, seed=3)
        return _core(model)

    z = np.random.default_rng(0).normal(size=(6, 4, 4, 1))
    check_bijector(make, z, 3, jit=False,
                   max_ldj_reads=2)  # TFP bijectors in the chain (module docstring)


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_every_variable_is_tracked_and_gets_a_gradient(name):
    model = _perturbed(name)
    assert {id(v) for v in model.trainable_variables} == {
        id(v) for v in model.flow.trainable_variables}
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(model.log_prob(X[:64]))
    grads = tape.gradient(loss, model.trainable_variables)
    for v, g in zip(model.trainable_variables, grads):
        assert g is not None and np.any(np.asarray(tf.convert_to_tensor(g)) != 0), v.name


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_fit_lowers_bits_per_dim_and_weights_round_trip(name, tmp_path):
    model = IMAGE_RECIPES[name]()
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(X, validation_data=DIGITS.validation.x[:64], batch_size=64,
                        epochs=3, verbose=0)
    bpd = history.history["bits_per_dim"]
    assert bpd[-1] < bpd[0]
    # Below the uniform model's log2(17) = 4.09 bits/dim after a few steps.
    assert history.history["val_bits_per_dim"][-1] < np.log2(17)
    path = str(tmp_path / "weights")
    model.save_weights(path)
    clone = IMAGE_RECIPES[name]()
    clone.load_weights(path)
    np.testing.assert_array_equal(clone.log_prob(X[:8], seed=SEED),
                                  model.log_prob(X[:8], seed=SEED))
    assert type(model)(**model.get_config()).get_config() == model.get_config()


@pytest.mark.parametrize("name", sorted(IMAGE_RECIPES))
def test_unknown_batch_under_tf_function_and_xla(name):
    model = _perturbed(name)
    spec = [tf.TensorSpec([None, 8, 8, 1])]
    fn = tf.function(lambda x: model.log_prob(x, seed=SEED), input_signature=spec)
    for n in (5, 3):
        np.testing.assert_allclose(fn(X[:n]), model.log_prob(X[:n], seed=SEED), rtol=1e-5)
    # Under XLA a stateless seed gives other noise for a dynamic shape, so compare
    # the density of fixed dequantised points, and check the full path runs.
    density = tf.function(model.distribution.log_prob, jit_compile=True, input_signature=spec)
    y = X[:5] + 0.5
    np.testing.assert_allclose(density(y), model.distribution.log_prob(y), rtol=1e-5)
    xla = tf.function(lambda x: model.log_prob(x), jit_compile=True, input_signature=spec)
    assert xla(X[:3]).shape == (3,) and np.all(np.isfinite(xla(X[:3])))
    sample = tf.function(lambda n: model.sample(n, temperature=0.7),
                         input_signature=[tf.TensorSpec([], tf.int32)])
    assert sample(tf.constant(3)).shape == (3, 8, 8, 1)


def test_class_conditional_glow():
    labels = np.eye(10, dtype=np.float32)[DIGITS.train.y[:256]]
    model = IMAGE_RECIPES["glow"](context_shape=(10,))
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit((X, labels), batch_size=64, epochs=1, verbose=0)
    perturb_variables(model.flow, scale=0.05, seed=4)
    a = model.log_prob(X[:4], context=labels[:4], seed=SEED)
    b = model.log_prob(X[:4], context=labels[4:8], seed=SEED)
    assert not np.allclose(a, b), "the label must change the density"
    assert model.sample(3, context=labels[0]).shape == (3, 8, 8, 1)


def test_bad_image_arguments():
    with pytest.raises(ValueError, match=r"`num_scales`=4 needs 4 squeezes"):
        flows.Glow(event_shape=(8, 8, 1), num_scales=4)
    with pytest.raises(ValueError, match=r"even height and width"):
        flows.Glow(event_shape=(7, 8, 1))
    with pytest.raises(ValueError, match=r"`pixel_format` must be one of"):
        flows.Glow(event_shape=(8, 8, 1), pixel_format="uint8")
    with pytest.raises(ValueError, match=r"`num_scales` applies to image events"):
        flows.RealNVP(event_shape=(4,), num_scales=2)
    model = IMAGE_RECIPES["glow"]()
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match=r"`x` must hold integer pixels in \[0, 16\]"):
        model.fit(X * 16, epochs=1, verbose=0)


def test_old_argument_names_still_work_with_a_deprecation_warning():
    """0.1.0 called Glow's scales `num_levels` and its steps per scale `num_steps`;
    a config saved then (old keys) loads as the same model."""
    with pytest.warns(DeprecationWarning, match=r"`num_levels` is deprecated; call it "
                                                r"`num_scales`"):
        old = flows.Glow(event_shape=(8, 8, 1), num_levels=2, num_steps=1, hidden_units=(4,))
    assert (old.num_scales, old.num_layers) == (2, 1)
    config = old.get_config()
    assert {"num_scales", "num_layers"} <= set(config) and "num_levels" not in config
    config["num_levels"], config["num_steps"] = config.pop("num_scales"), config.pop(
        "num_layers")
    with pytest.warns(DeprecationWarning):
        loaded = flows.Glow.from_config(config)
    assert (loaded.num_scales, loaded.num_layers) == (2, 1)
    with pytest.raises(TypeError, match=r"pass `num_scales` only"):
        flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_levels=2)
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(8)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16)])
    with pytest.warns(DeprecationWarning, match=r"`num_levels` is deprecated"):
        model = vae.VAE(2, encoder, decoder, likelihood="categorical", num_levels=17)
    assert model.likelihood.num_params == 17
    assert model.get_config()["pixel_levels"] == 17
