"""The VAE's parts as objects: TFP's tutorial networks used verbatim, a user's own
posterior / prior / likelihood classes, the public terms, and the conditional VAE."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as tfk

from tfp_genmodels import data, export, vae

tfd, tfpl = tfp.distributions, tfp.layers
tfkl = tfk.layers


# -- TFP's "Probabilistic Layers: VAE" tutorial, verbatim (its sizes, a short fit) ------
def _tutorial_networks(kl_weight=1.0):
    input_shape = (28, 28, 1)
    encoded_size = 16
    base_depth = 32
    prior = tfd.Independent(tfd.Normal(loc=tf.zeros(encoded_size), scale=1),
                            reinterpreted_batch_ndims=1)
    encoder = tfk.Sequential([
        tfkl.InputLayer(input_shape=input_shape),
        tfkl.Lambda(lambda x: tf.cast(x, tf.float32) - 0.5),
        tfkl.Conv2D(base_depth, 5, strides=1, padding='same', activation=tf.nn.leaky_relu),
        tfkl.Conv2D(base_depth, 5, strides=2, padding='same', activation=tf.nn.leaky_relu),
        tfkl.Conv2D(2 * base_depth, 5, strides=1, padding='same', activation=tf.nn.leaky_relu),
        tfkl.Conv2D(2 * base_depth, 5, strides=2, padding='same', activation=tf.nn.leaky_relu),
        tfkl.Conv2D(4 * encoded_size, 7, strides=1, padding='valid',
                    activation=tf.nn.leaky_relu),
        tfkl.Flatten(),
        tfkl.Dense(tfpl.MultivariateNormalTriL.params_size(encoded_size), activation=None),
        tfpl.MultivariateNormalTriL(
            encoded_size,
            activity_regularizer=tfpl.KLDivergenceRegularizer(prior, weight=kl_weight)),
    ])
    decoder = tfk.Sequential([
        tfkl.InputLayer(input_shape=[encoded_size]),
        tfkl.Reshape([1, 1, encoded_size]),
        tfkl.Conv2DTranspose(2 * base_depth, 7, strides=1, padding='valid',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2DTranspose(2 * base_depth, 5, strides=1, padding='same',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2DTranspose(2 * base_depth, 5, strides=2, padding='same',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2DTranspose(base_depth, 5, strides=1, padding='same',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2DTranspose(base_depth, 5, strides=2, padding='same',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2DTranspose(base_depth, 5, strides=1, padding='same',
                             activation=tf.nn.leaky_relu),
        tfkl.Conv2D(filters=1, kernel_size=5, strides=1, padding='same', activation=None),
        tfkl.Flatten(),
        tfpl.IndependentBernoulli(input_shape, tfd.Bernoulli.logits),
    ])
    return encoder, decoder


def _binary_images(n, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)) < 0.3).astype(np.float32)


def test_tutorial_networks_are_q_and_p_and_the_kl_counts_once(tmp_path):
    encoder, decoder = _tutorial_networks(kl_weight=0.5)
    model = vae.VAE(16, encoder, decoder)
    x = _binary_images(8)
    # encode(x) is the user's q(z|x): no second head stacked on a sample of it.
    q = model.encode(x)
    np.testing.assert_allclose(q.mean(), encoder(x).mean(), rtol=1e-6)
    assert q.event_shape == (16,)
    assert model.posterior.trainable_variables == []
    assert model.likelihood.trainable_variables == []
    assert len(model.trainable_variables) == (len(encoder.trainable_variables)
                                              + len(decoder.trainable_variables))
    # decode(z) is the user's p(x|z).
    z = tf.zeros([3, 16])
    np.testing.assert_allclose(model.decode(z).mean(), decoder(z).mean(), rtol=1e-6)
    # The regulariser's weight is beta and its prior the prior; KL counted once.
    assert model.beta == 0.5 and isinstance(model.prior, vae.StandardNormalPrior)
    loss, values = model._loss_and_metrics(x, None, tf.constant(model.beta))
    expected_kl = tf.reduce_mean(tfd.kl_divergence(q, tfd.MultivariateNormalDiag(
        tf.zeros(16), tf.ones(16))))
    np.testing.assert_allclose(values["kl"], expected_kl, rtol=1e-4)
    np.testing.assert_allclose(loss, values["reconstruction"] + 0.5 * values["kl"], rtol=1e-5)
    model.compile(optimizer=tfk.optimizers.Adam(1e-3))
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # .keras save / load (the tutorial's Lambda layer needs safe_mode=False, as in Keras).
    path = str(tmp_path / "tutorial.keras")
    model.save(path)
    loaded = tfk.models.load_model(path, safe_mode=False)
    seed = tf.constant([1, 2])
    np.testing.assert_allclose(loaded.elbo(x, seed=seed), model.elbo(x, seed=seed), rtol=1e-5)
    assert loaded.beta == 0.5
    assert isinstance(loaded.encoder.layers[-1], tfpl.MultivariateNormalTriL)
    assert isinstance(loaded.decoder.layers[-1], tfpl.IndependentBernoulli)
    loaded.fit(x, batch_size=8, epochs=1, verbose=0)


def test_tutorial_networks_refuse_a_second_head_or_prior():
    encoder, decoder = _tutorial_networks()
    with pytest.raises(ValueError, match="leave `posterior` unset"):
        vae.VAE(16, encoder, decoder, posterior="diagonal")
    with pytest.raises(ValueError, match="KLDivergenceRegularizer"):
        vae.VAE(16, encoder, decoder, prior="mixture")
    with pytest.raises(ValueError, match="KLDivergenceRegularizer"):
        vae.VAE(16, encoder, decoder, beta=4.0)
    with pytest.raises(ValueError, match="leave `likelihood` unset"):
        vae.VAE(16, encoder, decoder, likelihood="bernoulli")
    with pytest.raises(ValueError, match="latent_dim"):
        vae.VAE(8, encoder, decoder)


def test_tutorial_vae_exports_for_serving(tmp_path):
    encoder, decoder = _tutorial_networks()
    model = vae.VAE(16, encoder, decoder)
    path = export.save_for_serving(model, str(tmp_path / "served"), log_likelihood_samples=4)
    served = tf.saved_model.load(path)
    x = _binary_images(2)
    np.testing.assert_allclose(served.signatures["elbo"](x=tf.constant(x))["elbo"],
                               model.elbo(x, seed=tf.constant(export.SEED)), rtol=1e-4)
    out = served.signatures["encode"](x=tf.constant(x))
    np.testing.assert_allclose(out["mean"], encoder(x).mean(), rtol=1e-5, atol=1e-6)
    assert out["scale_tril"].shape == (2, 16, 16)


# -- a user's own parts, without touching the package -----------------------------------
@tfk.utils.register_keras_serializable(package="user")
class LaplacePrior(vae.Prior):
    """A fixed product of Laplace(0, b)."""

    def __init__(self, latent_dim, scale=1.0, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.scale = float(scale)

    def distribution(self):
        return tfd.Independent(tfd.Laplace(tf.zeros(self.latent_dim), self.scale), 1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


@tfk.utils.register_keras_serializable(package="user")
class LogisticLikelihood(vae.Likelihood):
    """Independent logistic pixels with a learned scale (a head of its own)."""

    def __init__(self, event_shape, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.loc = tfkl.Dense(int(np.prod(self.event_shape)))
        self.log_scale = self.add_weight(name="log_scale", shape=[], initializer="zeros")

    def call(self, decoded):
        loc = tf.reshape(self.loc(decoded), [-1, *self.event_shape])
        return tfd.Independent(tfd.Logistic(loc, tf.exp(self.log_scale)),
                               len(self.event_shape))


@tfk.utils.register_keras_serializable(package="user")
class StudentTPosterior(vae.Posterior):
    """A heavy-tailed posterior: independent Student-t(df=5) factors."""

    def __init__(self, latent_dim, **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.params = tfkl.Dense(2 * self.latent_dim)

    def call(self, features):
        loc, raw = tf.split(self.params(features), 2, axis=-1)
        return tfd.Independent(tfd.StudentT(5.0, loc, tf.nn.softplus(raw) + 1e-3), 1)


def test_user_parts_train_report_and_save(tmp_path):
    x = data.load_digits().train.x[:256] / 16.0
    encoder = tfk.Sequential([tfk.Input((8, 8, 1)), tfkl.Flatten(), tfkl.Dense(32, "relu")])
    decoder = tfk.Sequential([tfk.Input((4,)), tfkl.Dense(32, "relu")])
    model = vae.VAE(4, encoder, decoder, posterior=StudentTPosterior(4),
                    prior=LaplacePrior(4, scale=0.5), likelihood=LogisticLikelihood((8, 8, 1)))
    terms = model.terms(x[:10], num_samples=3)
    assert isinstance(terms, vae.Terms)
    assert terms.log_px_z.shape == (3, 10) and terms.kl.shape == (10,)
    assert terms.kl_per_latent is None   # no closed form: the Monte Carlo KL
    q = model.encode(x[:10])
    np.testing.assert_allclose(terms.log_q, q.log_prob(terms.z), rtol=1e-5)
    np.testing.assert_allclose(terms.log_p_z, LaplacePrior(4, scale=0.5).distribution().log_prob(
        terms.z), rtol=1e-5)
    np.testing.assert_allclose(terms.elbo, np.mean(terms.log_px_z, 0) - terms.kl, rtol=1e-5)
    model.compile(optimizer=tfk.optimizers.Adam(1e-3))
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.fit(x, batch_size=64, epochs=2, verbose=0)
    moved = [not np.allclose(a, b.numpy()) for a, b in zip(before, model.trainable_variables)]
    assert all(moved)
    assert model.diagnostics(x[:100])["latent_dim"] == 4
    path = str(tmp_path / "user.keras")
    model.save(path)
    loaded = tfk.models.load_model(path)
    assert isinstance(loaded.prior, LaplacePrior) and loaded.prior.scale == 0.5
    assert isinstance(loaded.posterior, StudentTPosterior)
    seed = tf.constant([5, 6])
    np.testing.assert_allclose(loaded.elbo(x[:16], seed=seed), model.elbo(x[:16], seed=seed),
                               rtol=1e-5)


def test_parts_are_checked():
    encoder = tfk.Sequential([tfk.Input((8, 8, 1)), tfkl.Flatten(), tfkl.Dense(8)])
    decoder = tfk.Sequential([tfk.Input((4,)), tfkl.Dense(8)])
    with pytest.raises(ValueError, match="latent_dim"):
        vae.VAE(4, encoder, decoder, posterior=vae.DiagonalGaussianPosterior(3))
    with pytest.raises(ValueError, match="event_shape"):
        vae.VAE(4, encoder, decoder, likelihood=vae.BernoulliLikelihood((7,)))
    with pytest.raises(ValueError, match="`posterior`"):
        vae.VAE(4, encoder, decoder, posterior=object())
    with pytest.raises(ValueError, match="`prior`"):
        vae.VAE(4, encoder, decoder, prior="laplace")


# -- the conditional VAE -------------------------------------------------------------------
def _conditional_networks(latent=4, classes=10):
    x_in, c_in = tfk.Input((8, 8, 1)), tfk.Input((classes,))
    h = tfkl.Concatenate()([tfkl.Flatten()(tfkl.Rescaling(1 / 16)(x_in)), c_in])
    encoder = tfk.Model([x_in, c_in], tfkl.Dense(64, "relu")(h))
    z_in, c2 = tfk.Input((latent,)), tfk.Input((classes,))
    decoder = tfk.Model([z_in, c2], tfkl.Dense(64, "relu")(tfkl.Concatenate()([z_in, c2])))
    return encoder, decoder


def test_conditional_vae_uses_its_context(tmp_path):
    digits = data.load_digits()
    x, labels = digits.train.x, digits.train.y
    c = np.eye(10, dtype=np.float32)[labels]
    tfk.utils.set_random_seed(0)
    model = vae.VAE(4, *_conditional_networks(), likelihood="categorical", pixel_levels=17,
                    context_shape=(10,))
    model.compile(optimizer=tfk.optimizers.Adam(3e-3))
    model.fit((x, c), batch_size=64, epochs=15, verbose=0)
    test_x, test_c = digits.test.x, np.eye(10, dtype=np.float32)[digits.test.y]
    seed = tf.constant([1, 1])
    right = np.mean(model.elbo(test_x, num_samples=8, seed=seed, context=test_c))
    wrong = np.mean(model.elbo(test_x, num_samples=8, seed=seed,
                               context=np.roll(test_c, 1, axis=-1)))
    assert right > wrong + 5.0, (right, wrong)   # the decoder reads the label
    assert model.encode(test_x[:3], context=test_c[:3]).batch_shape == (3,)
    assert model.decode(tf.zeros([5, 4]), context=test_c[:5]).batch_shape == (5,)
    # sample(n, context=c): one label for all, or one per row.
    assert model.sample(6, context=test_c[0]).shape == (6, 8, 8, 1)
    assert model.sample(2, context=test_c[:2], mean=True).shape == (2, 8, 8, 1)
    assert model.log_likelihood(test_x[:4], num_samples=20, context=test_c[:4]).shape == (4,)
    assert model.interpolate(test_x[0], test_x[1], steps=3, context=test_c[0]).shape == (
        3, 8, 8, 1)
    evaluated = model.evaluate((test_x, test_c), batch_size=256, verbose=0, return_dict=True)
    assert np.isfinite(evaluated["elbo"])
    with pytest.raises(ValueError, match="`context`"):
        model.elbo(test_x[:2])
    with pytest.raises(ValueError, match="`context`"):
        model.elbo(test_x[:2], context=np.zeros((2, 3), np.float32))
    # tf.data batches (x, c), save / load, and the export's context inputs.
    ds = tf.data.Dataset.from_tensor_slices((x[:128], c[:128])).batch(64)
    model.fit(ds, epochs=1, verbose=0)
    path = str(tmp_path / "cvae.keras")
    model.save(path)
    loaded = tfk.models.load_model(path)
    np.testing.assert_allclose(loaded.elbo(test_x[:8], seed=seed, context=test_c[:8]),
                               model.elbo(test_x[:8], seed=seed, context=test_c[:8]), rtol=1e-5)
    served = tf.saved_model.load(export.save_for_serving(model, str(tmp_path / "served"),
                                                         log_likelihood_samples=4))
    out = served.signatures["elbo"](x=tf.constant(test_x[:4]), context=tf.constant(test_c[:4]))
    np.testing.assert_allclose(out["elbo"], model.elbo(test_x[:4], seed=tf.constant(export.SEED),
                                                       context=test_c[:4]), rtol=1e-4)
    samples = served.signatures["sample"](context=tf.constant(test_c[:3]))["samples"]
    assert samples.shape == (3, 8, 8, 1)
    decoded = served.signatures["decode"](z=tf.zeros([2, 4]), context=tf.constant(test_c[:2]))
    assert decoded["mean"].shape == (2, 8, 8, 1)


def test_unconditional_vae_refuses_a_context():
    encoder = tfk.Sequential([tfk.Input((8, 8, 1)), tfkl.Flatten(), tfkl.Dense(8)])
    decoder = tfk.Sequential([tfk.Input((4,)), tfkl.Dense(8)])
    model = vae.VAE(4, encoder, decoder, likelihood="categorical", pixel_levels=17)
    with pytest.raises(ValueError, match="without `context_shape`"):
        model.elbo(np.zeros((2, 8, 8, 1), np.float32), context=np.zeros((2, 3), np.float32))


def test_conditional_vae_with_a_one_input_encoder_says_what_to_build():
    encoder = tfk.Sequential([tfk.Input((8, 8, 1)), tfkl.Flatten(), tfkl.Dense(8)])
    decoder = tfk.Sequential([tfk.Input((4,)), tfkl.Dense(8)])
    with pytest.raises(ValueError, match=r"\[x, c\] and \[z, c\]"):
        vae.VAE(4, encoder, decoder, likelihood="categorical", pixel_levels=17,
                context_shape=(10,))
