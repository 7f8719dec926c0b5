"""Data outside a model's support is refused on every path, and served moments are the
in-process ones (issue 21, parts 2 and 3).

Every case here was a plausible number before: a Bernoulli VAE "trained" on pixel
values 0..16 (an ELBO above zero nats), a categorical likelihood scored floats, 17-level
data passed through a 256-level flow, the served encoder returned Monte Carlo moments.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfp_genmodels import export, flows, vae

RNG = np.random.default_rng(0)
COUNTS = RNG.integers(0, 17, size=(32, 6)).astype(np.float32)      # levels 0..16
BINARY = (RNG.uniform(size=(32, 6)) < 0.4).astype(np.float32)


def _vae(likelihood="bernoulli", posterior=None, latent=2, code=None, **kwargs):
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((code or latent,)), keras.layers.Dense(8, "tanh")])
    model = vae.VAE(latent, encoder, decoder, likelihood=likelihood, posterior=posterior,
                    **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _every_path(model, x):
    """The ways data reaches a VAE's bounds: eager, fit, evaluate on tf.data, predict."""
    return {"elbo": lambda: model.elbo(x),
            "fit": lambda: model.fit(x, epochs=1, batch_size=16, verbose=0),
            "evaluate(tf.data)": lambda: model.evaluate(
                tf.data.Dataset.from_tensor_slices(x).batch(16), verbose=0),
            "predict": lambda: model.predict(x, verbose=0)}


@pytest.mark.parametrize("path", ["elbo", "fit", "evaluate(tf.data)", "predict"])
def test_bernoulli_likelihood_refuses_counts_on_every_path(path):
    model = _vae("bernoulli")
    with pytest.raises(ValueError, match=r"`x` must lie in the Bernoulli likelihood's "
                                         r"support \[0, 1\].*got"):
        _every_path(model, COUNTS)[path]()
    _every_path(model, BINARY)[path]()                 # binary data is fine
    _every_path(model, COUNTS / 16.0)[path]()          # so are grey levels in [0, 1]


def test_categorical_likelihood_refuses_floats_and_labels_out_of_range():
    model = _vae("categorical", pixel_levels=17)
    with pytest.raises(ValueError, match=r"integers 0\.\.16 .*got .* e\.g\. 0\.\d+"):
        model.elbo(COUNTS / 16.0)
    with pytest.raises(ValueError, match=r"integers 0\.\.16.*e\.g\. 17"):
        model.elbo(np.full((2, 6), 17.0, np.float32))
    with pytest.raises(ValueError, match="categorical likelihood's support"):
        model.fit(COUNTS + 0.5, epochs=1, verbose=0)
    assert np.all(np.isfinite(model.elbo(COUNTS)))


def test_served_elbo_refuses_data_outside_the_support(tmp_path):
    model = _vae("bernoulli")
    served = tf.saved_model.load(export.save_for_serving(model, str(tmp_path / "m")))
    elbo = served.signatures["elbo"]
    np.testing.assert_allclose(elbo(x=tf.constant(BINARY))["elbo"],
                               model.elbo(BINARY, seed=tf.constant(export.SEED)), rtol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"Bernoulli likelihood.*support \[0, 1\]"):
        elbo(x=tf.constant(COUNTS))


# -- pixel flows: values on the model's grid --------------------------------------------
def _glow(**kwargs):
    return flows.Glow(event_shape=(4, 4, 1), num_scales=1, num_layers=1, hidden_units=(4,),
                      **kwargs)


def test_a_256_level_flow_refuses_17_level_data_on_every_path(tmp_path):
    model = _glow()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    levels = RNG.integers(0, 17, size=(8, 4, 4, 1)).astype(np.float32)
    coarse = levels / 16.0                              # 17 levels in [0, 1]: off the grid
    fine = np.round(coarse * 255) / 255                 # the same images on the 256 grid
    for call in (lambda: model.log_prob(coarse),
                 lambda: model.fit(coarse, epochs=1, verbose=0),
                 lambda: model.evaluate(tf.data.Dataset.from_tensor_slices(coarse).batch(4),
                                        verbose=0)):
        with pytest.raises(ValueError, match=r"unit pixels in \[0, 1\], values k / 255"):
            call()
    assert np.all(np.isfinite(model.log_prob(fine)))
    served = tf.saved_model.load(export.save_for_serving(model, str(tmp_path / "m")))
    with pytest.raises(tf.errors.InvalidArgumentError, match="values k / 255"):
        served.signatures["log_prob"](x=tf.constant(coarse, tf.float32))
    # Continuous data is declared with pixel_levels=None: then any finite value is fine.
    assert np.all(np.isfinite(_glow(pixel_levels=None).log_prob(coarse)))


def test_an_integer_format_flow_refuses_non_integers():
    model = _glow(pixel_levels=17, pixel_format="integer")
    with pytest.raises(ValueError, match=r"integer pixels in \[0, 16\], integers"):
        model.log_prob(np.full((2, 4, 4, 1), 3.5, np.float32))
    assert np.all(np.isfinite(model.log_prob(np.full((2, 4, 4, 1), 3.0, np.float32))))


# -- the served encoder ---------------------------------------------------------------
POSTERIORS = ["diagonal", "full", "iaf", "planar", "categorical", "tfp_layers_diagonal",
              "tfp_layers_full"]


def _posterior_vae(kind):
    import tensorflow_probability as tfp

    tfpl = tfp.layers
    if kind.startswith("tfp_layers"):
        head = (tfpl.IndependentNormal(2) if kind.endswith("diagonal")
                else tfpl.MultivariateNormalTriL(2))
        size = type(head).params_size(2)
        encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh"),
                                    keras.layers.Dense(size), head])
        decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh")])
        return vae.VAE(2, encoder, decoder, likelihood="bernoulli")
    if kind == "categorical":
        return _vae(posterior="categorical", num_classes=3, code=6)
    return _vae(posterior=kind)


@pytest.mark.parametrize("kind", POSTERIORS)
def test_served_encoder_moments_are_the_in_process_ones(kind, tmp_path):
    model = _posterior_vae(kind)
    served = tf.saved_model.load(export.save_for_serving(model, str(tmp_path / "m")))
    encode = served.signatures["encode"]
    out = encode(x=tf.constant(BINARY))
    first = encode(x=tf.constant(BINARY[:3]))      # other batch: the same rows' answers
    for key in out:
        np.testing.assert_allclose(first[key], out[key][:3], rtol=1e-6, atol=1e-6)
    q = model.encode(BINARY)
    if kind == "categorical":
        np.testing.assert_allclose(out["probs"], q.distribution.probs_parameter(), rtol=1e-5)
        return
    if kind in ("iaf", "planar"):   # no closed form: a seeded estimate, and it says so
        assert set(out) == {"mean", "stddev", "num_monte_carlo_samples"}
        assert np.all(out["num_monte_carlo_samples"].numpy() == 64)
        exact = model.posterior.mean(model.features(BINARY), num_samples=20000,
                                     seed=tf.constant([3, 4]))
        np.testing.assert_allclose(out["mean"], exact, atol=0.5)
        return
    assert "num_monte_carlo_samples" not in out
    np.testing.assert_allclose(out["mean"], q.mean(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["stddev"], q.stddev(), rtol=1e-5, atol=1e-6)
    if kind.endswith("full"):
        np.testing.assert_allclose(out["scale_tril"],
                                   tf.linalg.cholesky(q.covariance()), rtol=1e-4, atol=1e-6)
    else:
        assert "scale_tril" not in out


def test_a_decoder_distribution_layer_or_callable_refuses_data_outside_its_support():
    import tensorflow_probability as tfp

    tfpl, tfd = tfp.layers, tfp.distributions
    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6),
                                tfpl.IndependentBernoulli((6,), tfd.Bernoulli.logits)])
    model = vae.VAE(2, encoder, decoder)     # the decoder is p(x|z): a tfp.layers Bernoulli
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    for call in (lambda: model.elbo(COUNTS), lambda: model.fit(COUNTS, epochs=1, verbose=0)):
        with pytest.raises(ValueError, match=r"support \[0, 1\] of the decoder's Bernoulli"):
            call()
    assert np.all(np.isfinite(model.elbo(BINARY)))

    def categorical(decoded):                 # a callable likelihood over 17 levels
        return tfd.Independent(tfd.Categorical(logits=tf.reshape(decoded, [-1, 6, 17])), 1)

    encoder = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6 * 17)])
    model = vae.VAE(2, encoder, decoder, likelihood=categorical)
    with pytest.raises(ValueError, match=r"decoder's categorical distribution"):
        model.elbo(COUNTS + 0.5)
    assert np.all(np.isfinite(model.elbo(COUNTS)))
