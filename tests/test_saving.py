"""Keras round trip: ``model.save("m.keras")`` and ``tf_keras.models.load_model``."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import data, flows, vae

DIGITS = data.load_digits()
MOONS = data.toy_sample("moons", 256, seed=0).astype(np.float32)
SEED = tf.constant([3, 4])


def _reload(model, tmp_path):
    path = str(tmp_path / "model.keras")
    model.save(path)
    return keras.models.load_model(path)  # registered classes: no custom_objects


def _assert_same_variables(a, b):
    assert len(a.variables) == len(b.variables)
    for u, v in zip(a.variables, b.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v), err_msg=u.name)


@pytest.mark.parametrize("name", [*sorted(recipes.RECIPES), "realnvp_conditional"])
def test_flow_round_trip_restores_log_prob_and_optimizer(name, tmp_path):
    if name == "realnvp_conditional":
        model = recipes.tiny("realnvp", context_shape=(2,))
        context = np.eye(2, dtype=np.float32)[np.arange(256) % 2]
        x, fit_data, kwargs = MOONS[:32], (MOONS, context), {"context": context[:32]}
    else:  # images with two scales: the factor-out's variables are saved too
        model = recipes.tiny(name, **({"num_scales": 2} if recipes.is_image(name) else {}))
        fit_data = recipes.training_data(name, 128)
        x = DIGITS.test.x[:32] if recipes.is_image(name) else MOONS[:32]
        kwargs = {}
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(fit_data, batch_size=64, epochs=1, verbose=0)
    perturb_variables(model.flow, 0.05, seed=0)  # every variable away from its initial value
    loaded = _reload(model, tmp_path)
    assert type(loaded) is type(model)
    _assert_same_variables(model, loaded)
    np.testing.assert_array_equal(loaded.log_prob(x, seed=SEED, **kwargs),
                                  model.log_prob(x, seed=SEED, **kwargs))
    # the optimizer state came back too: training continues where it stopped
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations) > 0
    for u, v in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    loaded.fit(fit_data, batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("posterior,prior", [("diagonal", "normal"), ("planar", "flow"),
                                             ("full", "vamp")])
def test_vae_round_trip_restores_elbo(posterior, prior, tmp_path):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                                keras.layers.Flatten(), keras.layers.Dense(16, "relu")])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16, "relu")])
    model = vae.VAE(2, encoder, decoder, likelihood="categorical", pixel_levels=17,
                    posterior=posterior, prior=prior, num_components=3)
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(DIGITS.train.x[:128], batch_size=64, epochs=1, verbose=0)
    loaded = _reload(model, tmp_path)
    assert isinstance(loaded, vae.VAE) and loaded.get_config() == model.get_config()
    _assert_same_variables(model, loaded)
    x = DIGITS.test.x[:16]
    np.testing.assert_array_equal(loaded.elbo(x, seed=SEED), model.elbo(x, seed=SEED))
    assert int(loaded.optimizer.iterations) == int(model.optimizer.iterations)


def test_a_model_without_a_config_says_how_to_save_it(tmp_path):
    chain = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,)).flow
    model = flows.FlowModel(event_shape=(2,), bijectors=[chain])
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(str(tmp_path / "m.keras"))


def test_loading_into_a_different_architecture_fails_loudly(tmp_path):
    small = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    small.save(str(tmp_path / "small.keras"))
    big = flows.RealNVP(event_shape=(2,), num_layers=4, hidden_units=(8,))
    with pytest.raises(ValueError, match="the file holds .* variables"):
        big.load_weights(str(tmp_path / "small.keras"))
