"""Cases a new user hit, each once a raw TensorFlow error, a silent wrong answer or a
misleading message (issue 21, part 5)."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import bijectors as B
from tfp_genmodels import data, flows, vae

tfb = tfp.bijectors
MOONS = data.toy_sample("moons", 256, seed=0).astype(np.float32)


def test_a_context_batch_that_does_not_match_names_both_shapes():
    model = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,), context_shape=(3,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, context = np.zeros((4, 2), np.float32), np.zeros((3, 3), np.float32)
    expected = r"`context` must have one row per example of `x`.*\[4, 2\].*\[3, 3\]"
    with pytest.raises(ValueError, match=expected):
        model.log_prob(x, context=context)
    with pytest.raises(ValueError, match=expected):
        tf.function(model.log_prob)(x, context=context)
    spec = [tf.TensorSpec([None, 2]), tf.TensorSpec([None, 3])]
    traced = tf.function(lambda a, c: model.log_prob(a, context=c), input_signature=spec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="one row per example"):
        traced(x, context)
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros((4, 3), np.float32))).batch(
        2).map(lambda a, c: (a, c[:1]))
    with pytest.raises(ValueError, match="`context` must have one row per example"):
        model.evaluate(dataset, verbose=0)
    # One context for every example, or one per example, is fine.
    assert model.log_prob(x, context=context[0]).shape == (4,)
    assert model.log_prob(x, context=np.zeros((4, 3), np.float32)).shape == (4,)


@pytest.mark.parametrize("name", sorted(recipes.RECIPES))
def test_empty_hidden_units_is_refused_by_name(name):
    with pytest.raises(ValueError, match=r"`hidden_units` must be a non-empty sequence"):
        recipes.RECIPES[name](hidden_units=())


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
def test_sample_refuses_a_temperature_that_is_not_positive(temperature):
    model = recipes.tiny("realnvp")
    with pytest.raises(ValueError, match="`temperature` must be a finite positive float"):
        model.sample(3, temperature=temperature)
    assert model.sample(3, temperature=0.5).shape == (3, 2)


def test_categorical_codes_from_encode_decode_in_either_form():
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh")])
    model = vae.VAE(2, encoder, decoder, posterior="categorical", num_classes=3)
    x = (np.random.default_rng(0).uniform(size=(5, 6)) < 0.5).astype(np.float32)
    one_hot = model.encode(x).sample(seed=tf.constant([1, 2]))
    assert one_hot.shape == (5, 2, 3)
    flat = tf.reshape(one_hot, [5, 6])
    np.testing.assert_allclose(model.decode(one_hot).mean(), model.decode(flat).mean())


def test_a_flat_context_inside_a_chain_says_how_to_pass_it():
    coupling = B.AffineCoupling([2], hidden_units=[4], context_shape=(3,), name="conditional")
    chain = tfb.Chain([coupling])
    x, context = np.zeros((2, 2), np.float32), np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"keyword arguments go to each bijector by its name"
                                         r".*'conditional': \{'context': c\}"):
        chain.forward(x, context=context)
    assert chain.forward(x, conditional={"context": context}).shape == (2, 2)


def test_logit_with_an_array_alpha_has_its_batch_shape():
    logit = B.Logit(np.array([0.0, 0.05, 0.1]))
    x = np.full(3, 0.3)
    assert logit.experimental_batch_shape() == [3]
    assert logit.forward_log_det_jacobian(x, event_ndims=0).shape == [3]
    for i, alpha in enumerate((0.0, 0.05, 0.1)):
        np.testing.assert_allclose(logit.forward(x)[i], B.Logit(alpha).forward(x[i]))
    assert B.Logit(0.05).experimental_batch_shape() == []
    dist = tfp.distributions.TransformedDistribution(
        tfp.distributions.Uniform(tf.zeros(3, tf.float64), 1.0), logit)
    assert dist.batch_shape == [3] and dist.sample(2).shape == [2, 3]


def test_a_vae_honours_float64():
    def make(dtype):
        encoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh",
                                                                           dtype=dtype)])
        decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh",
                                                                           dtype=dtype)])
        return vae.VAE(2, encoder, decoder, likelihood="gaussian", prior="mixture",
                       num_components=2, dtype=dtype)

    single, double = make("float32"), make("float64")
    for target, source in zip(double.variables, single.variables):
        target.assign(tf.cast(source, target.dtype))
    assert all(v.dtype == tf.float64 for v in double.trainable_variables)
    assert double.elbo(MOONS[:16], seed=tf.constant([1, 2])).dtype == tf.float64
    # The same weights give the same terms at the same codes (the draws of z differ:
    # stateless float64 noise is not float32's).
    x = MOONS[:16]
    z = np.random.default_rng(1).normal(size=(3, 16, 2))
    for a, b in ((double.log_px_z(x, z), single.log_px_z(x, z.astype(np.float32))),
                 (double.prior.log_prob(z), single.prior.log_prob(z.astype(np.float32))),
                 (double.encode(x).log_prob(z), single.encode(x).log_prob(z.astype(np.float32)))):
        assert a.dtype == tf.float64
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    double.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = double.fit(MOONS, epochs=1, batch_size=64, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    with pytest.raises(ValueError, match="`dtype` must be one of"):
        make("mixed_float16")
    # The served encoder of a float64 flow posterior (Monte Carlo moments) is float64 too.
    from tfp_genmodels import export

    encoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh")])
    iaf = vae.VAE(2, encoder, decoder, likelihood="gaussian", posterior="iaf",
                  num_flow_steps=1, dtype="float64")
    moments = export.encode_moments(iaf.posterior, iaf.features(x[:3]), encode_samples=8)
    assert moments["mean"].dtype == tf.float64 and moments["mean"].shape == (3, 2)


def test_ffjord_per_example_scores_do_not_depend_on_the_batch():
    model = flows.FFJORD(event_shape=(2,), hidden_units=(8,))
    perturb_variables(model.flow, scale=0.5, seed=2)   # away from the identity
    x = MOONS[:6]
    together = model.log_prob(x, per_example=True).numpy()
    apart = np.concatenate([model.log_prob(x[i:i + 2], per_example=True) for i in (0, 2, 4)])
    np.testing.assert_array_equal(together, apart)
    np.testing.assert_allclose(together, model.log_prob(x), atol=1e-3)


def test_a_keras3_file_is_refused_with_what_to_do(tmp_path):
    keras3 = pytest.importorskip("keras")
    if int(keras3.__version__.split(".")[0]) < 3:
        pytest.skip("Keras 3 is not installed")
    from tfp_genmodels import saving

    path = str(tmp_path / "keras3.keras")
    keras3.Sequential([keras3.Input((2,)), keras3.layers.Dense(3)]).save(path)
    with pytest.raises(TypeError, match=r"written by Keras 3.*keras\.saving\.load_model"):
        saving.load_model(path)


def test_keras3_refuses_our_files_with_what_to_do(tmp_path):
    """In a fresh process that imports Keras 3 first, as a Keras 3 user would."""
    path = str(tmp_path / "flow.keras")
    recipes.tiny("realnvp").save(path)
    script = ("import keras\nfrom tfp_genmodels import flows\n"
              f"keras.models.load_model({path!r})\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=240)
    if "No module named 'keras'" in result.stderr:
        pytest.skip("Keras 3 is not installed")
    assert result.returncode != 0
    assert "tf_keras.models.load_model" in result.stderr, result.stderr[-2000:]


def test_a_keras3_layer_inside_an_encoder_is_refused():
    keras3 = pytest.importorskip("keras")
    if int(keras3.__version__.split(".")[0]) < 3:
        pytest.skip("Keras 3 is not installed")
    dense = keras3.layers.Dense(8)
    dense.build((None, 2))
    encoder = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda x: dense(x))])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8)])
    model = vae.VAE(2, encoder, decoder, likelihood="gaussian")
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match=r"does not track, so `fit` would never train them"):
        model.fit(MOONS, epochs=1, verbose=0)


def test_saving_the_tutorial_vae_prints_no_safe_mode_warning_about_its_heads(tmp_path):
    # The tutorial's heads (tfp.layers MultivariateNormalTriL with a KL regulariser,
    # IndependentBernoulli) on small dense networks. (Importing tests.test_vae_parts
    # would register its Keras classes a second time.)
    tfpl, tfd = tfp.layers, tfp.distributions
    prior = tfd.Independent(tfd.Normal(tf.zeros(2), 1.0), reinterpreted_batch_ndims=1)
    encoder = keras.Sequential([
        keras.Input((6,)), keras.layers.Dense(tfpl.MultivariateNormalTriL.params_size(2)),
        tfpl.MultivariateNormalTriL(2, activity_regularizer=tfpl.KLDivergenceRegularizer(
            prior, weight=1.0))])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6),
                                tfpl.IndependentBernoulli((6,), tfd.Bernoulli.logits)])
    model = vae.VAE(2, encoder, decoder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.save(str(tmp_path / "tutorial.keras"))
    assert not [w for w in caught if ".new(" in str(w.message)], [
        str(w.message)[:200] for w in caught]
