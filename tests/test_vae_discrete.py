"""Discrete latents: the exact KL, unbiased estimators (against gradients computed by
enumeration), and every estimator fitting a Gaussian mixture, which is a VAE with one
categorical latent whose log p(x) and p(z|x) are known exactly."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tfp_genmodels import vae

tfd = tfp.distributions

# -- a Gaussian mixture as a VAE: z ~ Uniform{1..K}, x | z ~ N(mu_z, s^2 I) -------------
MEANS = np.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 2.5], [0.5, -2.5]], np.float32)
SIGMA = 0.8


@keras.utils.register_keras_serializable(package="tests")
class FixedScaleGaussian(vae.Likelihood):
    """``N(x; decoded, s^2 I)``: the decoder's output is the mean (no head)."""

    def __init__(self, event_shape, scale: float = SIGMA, **kwargs):
        super().__init__(event_shape, **kwargs)
        self.scale = float(scale)

    def call(self, decoded):
        return tfd.Independent(tfd.Normal(decoded, self.scale), 1)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def _frozen_decoder(means, code_size):
    """``z (one-hot or binary) -> mean``: a linear map holding the true means."""
    layer = keras.layers.Dense(means.shape[1], use_bias=code_size != len(means),
                               trainable=False)
    decoder = keras.Sequential([keras.Input((code_size,)), layer])
    if code_size == len(means):                  # one-hot: row k is mu_k
        layer.set_weights([means])
    else:                                        # one bit: mu_0 + z (mu_1 - mu_0)
        layer.set_weights([means[1:2] - means[:1], means[0]])
    return decoder


def _mixture_data(means, n, seed):
    rng = np.random.default_rng(seed)
    z = rng.integers(len(means), size=n)
    return (means[z] + SIGMA * rng.standard_normal((n, means.shape[1]))).astype(np.float32)


def _log_px_given_each_z(x, means):
    """``log N(x; mu_k, s^2 I)`` ``[N, K]``."""
    return np.asarray(tfd.Independent(tfd.Normal(means, SIGMA), 1).log_prob(x[:, None, :]))


def _exact_log_px(x, means):
    return np.asarray(tf.reduce_logsumexp(_log_px_given_each_z(x, means), -1)) - np.log(
        len(means))


def _exact_elbo(model, x, means):
    """``sum_k q_k (log p(x|k) + log (1/K) - log q_k)`` by enumeration."""
    features = model.features(x)
    post = model.posterior
    if post.num_classes is None:                 # one Bernoulli latent: classes 0, 1
        p1 = np.asarray(tf.sigmoid(post.logits(features)))[:, 0]
        q = np.stack([1 - p1, p1], -1)
    else:
        q = np.asarray(tf.nn.softmax(post.logits(features)))[:, 0, :]
    q = np.clip(q.astype(np.float64), 1e-12, 1.0)
    return np.sum(q * (_log_px_given_each_z(x, means) - np.log(len(means)) - np.log(q)), -1)


def _mixture_vae(means, **kwargs):
    bernoulli = len(means) == 2 and kwargs.get("posterior") == "bernoulli"
    code_size = 1 if bernoulli else len(means)
    encoder = keras.Sequential([keras.Input((means.shape[1],))])  # features = x: linear logits
    kwargs.setdefault("posterior", "categorical")
    if kwargs["posterior"] == "categorical":
        kwargs["num_classes"] = len(means)
    return vae.VAE(1, encoder, _frozen_decoder(means, code_size),
                   likelihood=FixedScaleGaussian((means.shape[1],)), **kwargs)


def _fit(model, x, epochs, batch_size=128):
    """Adam at 3e-2, then 3e-3 for the last quarter (averages the estimators' noise out)."""
    steps = epochs * -(-len(x) // batch_size)
    model.compile(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.PiecewiseConstantDecay([int(0.75 * steps)], [3e-2, 3e-3])))
    model.fit(x, batch_size=batch_size, epochs=epochs, verbose=0)


ESTIMATOR_CASES = {
    "reinforce": {"estimator": "reinforce"},
    "reinforce-loo": {"estimator": "reinforce", "num_samples": 4},
    # The relaxed estimators at their default annealing, tau_t = max(0.1, exp(-5e-3 t)).
    "gumbel_softmax": {"estimator": "gumbel_softmax"},
    "straight_through": {"estimator": "straight_through"},
    "vimco": {"estimator": "vimco", "objective": "iwae", "num_samples": 4},
}


@pytest.mark.parametrize("case", sorted(ESTIMATOR_CASES))
def test_every_estimator_fits_the_mixture_posterior_exactly(case):
    tf.keras.utils.set_random_seed(0)
    x = _mixture_data(MEANS, 4096, seed=1)
    model = _mixture_vae(MEANS, **ESTIMATOR_CASES[case])
    _fit(model, x, epochs=60)
    test = _mixture_data(MEANS, 2000, seed=2)
    gap = np.mean(_exact_log_px(test, MEANS)) - np.mean(_exact_elbo(model, test, MEANS))
    print(f"{case}: log p(x) - ELBO = {gap:.4f} nats")
    assert 0.0 <= gap < 0.03, f"{case}: log p(x) - ELBO = {gap:.4f} nats"
    # The model's own (Monte Carlo, discrete) ELBO agrees with the enumeration.
    mc = np.mean(model.elbo(test, num_samples=64, seed=tf.constant([1, 2])))
    assert abs(mc - np.mean(_exact_elbo(model, test, MEANS))) < 0.02


@pytest.mark.parametrize("estimator", ["disarm", "reinforce"])
def test_bernoulli_estimators_fit_a_two_component_mixture(estimator):
    tf.keras.utils.set_random_seed(0)
    means = MEANS[:2]
    x = _mixture_data(means, 4096, seed=3)
    model = _mixture_vae(means, posterior="bernoulli", estimator=estimator)
    _fit(model, x, epochs=40)
    test = _mixture_data(means, 2000, seed=4)
    gap = np.mean(_exact_log_px(test, means)) - np.mean(_exact_elbo(model, test, means))
    print(f"{estimator}: log p(x) - ELBO = {gap:.4f} nats")
    assert 0.0 <= gap < 0.03, f"{estimator}: log p(x) - ELBO = {gap:.4f} nats"


def test_untrained_mixture_vae_is_far_from_log_px():
    """The fit above is the estimators' doing: a fresh encoder is far from p(z|x)."""
    model = _mixture_vae(MEANS)
    test = _mixture_data(MEANS, 2000, seed=2)
    assert np.mean(_exact_log_px(test, MEANS)) - np.mean(_exact_elbo(model, test, MEANS)) > 0.3


# -- unbiasedness: the estimators' mean gradient against enumeration -------------------
def _enumerated_elbo(model, x):
    """The exact ELBO of a VAE with ``L`` Bernoulli latents, summed over all 2^L codes."""
    features = model.features(x)
    logits = model.posterior.logits(features)                          # [B, L]
    codes = tf.constant(list(itertools.product([0.0, 1.0], repeat=model.latent_dim)))
    log_q = tf.reduce_sum(codes[:, None] * tf.math.log_sigmoid(logits)
                          + (1 - codes[:, None]) * tf.math.log_sigmoid(-logits), -1)
    log_px = model.log_px_z(x, tf.broadcast_to(codes[:, None], [len(codes), x.shape[0],
                                                               model.latent_dim]))
    kl, _ = model.posterior.kl_divergence(features, model.prior)
    return tf.reduce_mean(tf.reduce_sum(tf.exp(log_q) * log_px, 0) - kl)


@pytest.mark.parametrize("estimator, num_samples, repeats", [
    ("reinforce", 4000, 1),   # leave-one-out baselines
    ("reinforce", 1, 4000),   # NVIL: running mean and the input-dependent baseline
    ("disarm", 1, 4000),
])
def test_estimator_gradient_is_unbiased(estimator, num_samples, repeats):
    tf.keras.utils.set_random_seed(3)
    latent, d = 3, 4
    encoder = keras.Sequential([keras.Input((d,)), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((latent,)), keras.layers.Dense(8, "tanh")])
    model = vae.VAE(latent, encoder, decoder, likelihood="gaussian", posterior="bernoulli",
                    estimator=estimator, num_samples=num_samples)
    x = tf.constant(np.random.default_rng(0).normal(size=(5, d)).astype(np.float32))
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    encoder_vars = model.encoder.trainable_variables + model.posterior.trainable_variables
    flat = lambda grads: tf.concat([tf.reshape(g, [-1]) for g in grads], 0)  # noqa: E731
    with tf.GradientTape() as tape:
        exact = -_enumerated_elbo(model, x)
    expected = flat(tape.gradient(exact, encoder_vars))

    @tf.function
    def estimate():
        with tf.GradientTape() as tape:
            loss, _ = model._loss_and_metrics(x, None, tf.constant(1.0), training=True)
        return flat(tape.gradient(loss, encoder_vars))

    got = np.mean([estimate().numpy() for _ in range(repeats)], axis=0)
    err = np.linalg.norm(got - expected) / np.linalg.norm(expected)
    assert err < 0.1, f"{estimator}: relative gradient error {err:.3f}"
    # A wrong sign or a dropped factor would be far off; so is no estimator at all.
    assert np.linalg.norm(expected) > 0.01


# -- the exact KL and the parts -----------------------------------------------------------
@pytest.mark.parametrize("prior", ["uniform", "learned"])
def test_categorical_kl_is_exact(prior):
    model = vae.VAE(3, keras.Sequential([keras.Input((5,)), keras.layers.Dense(4)]),
                    keras.Sequential([keras.Input((12,)), keras.layers.Dense(4)]),
                    likelihood="gaussian", posterior="categorical", num_classes=4, prior=prior)
    if prior == "learned":
        model.prior.logits.assign(np.random.default_rng(0).normal(size=(3, 4)))
        assert model.prior.logits.trainable
    x = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    q = tf.nn.softmax(model.posterior.logits(model.features(x))).numpy().astype(np.float64)
    p = tf.nn.softmax(model.prior.logits).numpy().astype(np.float64)
    expected = np.sum(q * (np.log(q) - np.log(p)), axis=(-1, -2))
    terms = model.terms(x)
    np.testing.assert_allclose(terms.kl, expected, rtol=1e-4, atol=1e-6)
    assert terms.kl_per_latent.shape == (6, 3)
    assert terms.z.shape == (1, 6, 12)
    np.testing.assert_array_equal(np.sum(terms.z.numpy().reshape(6, 3, 4), -1), 1.0)


def test_discrete_model_generates_encodes_and_reports():
    digits = _digits()
    model = vae.VAE(6, _encoder(), _decoder(6 * 3), likelihood="categorical",
                    pixel_levels=17, posterior="categorical", num_classes=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(digits[:256], batch_size=64, epochs=1, verbose=0)
    q = model.encode(digits[:5])
    assert q.event_shape == (6, 3)
    assert model.sample(4).shape == (4, 8, 8, 1)
    assert model.reconstruct(digits[:3]).shape == (3, 8, 8, 1)
    ll = model.log_likelihood(digits[:8], num_samples=50)
    elbo = model.elbo(digits[:8], num_samples=50)
    assert np.all(np.isfinite(ll)) and np.mean(ll) >= np.mean(elbo) - 0.05
    report = model.diagnostics(digits[:200])
    assert report["latent_dim"] == 6 and len(report["kl_per_dim"]) == 6
    assert len(report["activity"]) == 6
    with pytest.raises(ValueError, match="continuous latents"):
        model.interpolate(digits[0], digits[1])
    with pytest.raises(ValueError, match="`z`"):
        model.decode(tf.zeros([2, 6]))


def _digits():
    from tfp_genmodels import data
    return data.load_digits().train.x


def _encoder():
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                             keras.layers.Flatten(), keras.layers.Dense(32, "relu")])


def _decoder(code_size):
    return keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(32, "relu")])


@pytest.mark.parametrize("kwargs", [
    {"posterior": "categorical", "num_classes": 3, "estimator": "reinforce"},
    {"posterior": "categorical", "num_classes": 3, "estimator": "gumbel_softmax",
     "temperature": 0.7, "temperature_decay": 1e-3, "prior": "learned"},
    {"posterior": "bernoulli", "estimator": "disarm"},
    {"posterior": "bernoulli", "estimator": "vimco", "objective": "iwae", "num_samples": 3},
    {"posterior": vae.BernoulliPosterior(6), "prior": vae.UniformPrior(6, learned=True),
     "estimator": "straight_through"},
])
def test_discrete_vaes_save_and_load(tmp_path, kwargs):
    code = 18 if kwargs.get("num_classes") else 6
    model = vae.VAE(6, _encoder(), _decoder(code), likelihood="categorical", pixel_levels=17,
                    **kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(_digits()[:128], batch_size=64, epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    x, seed = _digits()[:16], tf.constant([3, 4])
    np.testing.assert_allclose(loaded.elbo(x, seed=seed), model.elbo(x, seed=seed), rtol=1e-5)
    assert type(loaded.estimator) is type(model.estimator)
    assert type(loaded.prior) is type(model.prior)
    assert loaded.prior.trainable_variables == [] or kwargs.get("prior") is not None
    for a, b in zip(model.variables, loaded.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    loaded.fit(_digits()[:64], batch_size=64, epochs=1, verbose=0)


@pytest.mark.parametrize("kwargs, match", [
    ({"posterior": "categorical"}, "num_classes"),
    ({"posterior": "diagonal", "num_classes": 3}, "num_classes"),
    ({"posterior": "categorical", "num_classes": 3, "estimator": "what"}, "estimator"),
    ({"posterior": "categorical", "num_classes": 3, "estimator": "vimco"}, "objective"),
    ({"posterior": "categorical", "num_classes": 3, "estimator": "vimco",
      "objective": "iwae"}, "num_samples"),
    ({"posterior": "categorical", "num_classes": 3, "estimator": "disarm"}, "Bernoulli"),
    ({"posterior": "categorical", "num_classes": 3, "prior": "normal"}, "prior"),
    ({"posterior": "diagonal", "prior": "uniform"}, "prior"),
    ({"posterior": "diagonal", "estimator": "reinforce"}, "discrete"),
    ({"posterior": "categorical", "num_classes": 3, "estimator": "gumbel_softmax",
      "temperature": 0.0}, "temperature"),
])
def test_discrete_arguments_are_checked(kwargs, match):
    code = 18 if kwargs.get("num_classes") else 6
    with pytest.raises(ValueError, match=match):
        vae.VAE(6, _encoder(), _decoder(code), likelihood="categorical", pixel_levels=17,
                **kwargs)


def test_wrong_decoder_input_size_names_the_code_size():
    with pytest.raises(ValueError, match="code of size 18"):
        vae.VAE(6, _encoder(), _decoder(6), likelihood="categorical", pixel_levels=17,
                posterior="categorical", num_classes=3)


def test_temperature_is_annealed_to_its_floor():
    from tfp_genmodels.vae.estimators import GumbelSoftmax
    default = GumbelSoftmax()   # tau_t = max(0.1, exp(-5e-3 t))
    np.testing.assert_allclose(default.current_temperature(0), 1.0)
    np.testing.assert_allclose(default.current_temperature(100), np.exp(-0.5), rtol=1e-6)
    np.testing.assert_allclose(default.current_temperature(10_000), 0.1, rtol=1e-6)
    constant = GumbelSoftmax(0.7, temperature_decay=0.0)
    np.testing.assert_allclose(constant.current_temperature(10_000), 0.7, rtol=1e-6)


def test_relaxed_draws_have_finite_gradients_at_low_temperature():
    """tfd.RelaxedBernoulli's gradient is NaN here (saturated sigmoid bijector); the
    posteriors' relaxed draws must stay finite where the annealing ends."""
    for posterior in (vae.BernoulliPosterior(5), vae.CategoricalPosterior(5, num_classes=2)):
        features = tf.Variable(np.tile([[-30.0], [-5.0], [0.0], [5.0], [30.0]], [200, 1])
                               .astype(np.float32))
        posterior(features)  # build
        posterior.params.set_weights([np.ones([1, posterior.params.units], np.float32),
                                      np.zeros([posterior.params.units], np.float32)])
        for hard in (False, True):
            with tf.GradientTape() as tape:
                y = posterior.relaxed_sample(features, 2, 0.1, hard=hard, seed=tf.constant([1, 2]))
                loss = tf.reduce_sum(y * np.arange(y.shape[-1], dtype=np.float32))
            grad = tape.gradient(loss, features)
            assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad)), (posterior, hard)


def test_relaxed_bernoulli_draws_follow_the_binary_concrete_law():
    posterior = vae.BernoulliPosterior(1)
    features = tf.ones([1, 1])
    posterior(features)
    posterior.params.set_weights([np.array([[0.7]], np.float32), np.zeros([1], np.float32)])
    ours = np.sort(posterior.relaxed_sample(features, 100_000, 0.5, seed=tf.constant([3, 4]))
                   .numpy().ravel())
    tfp_draws = np.sort(tfd.RelaxedBernoulli(0.5, logits=0.7).sample(100_000, seed=(5, 6))
                        .numpy().ravel())
    # Kolmogorov-Smirnov distance between the two samples of 100k (5% level: 0.0061).
    grid = np.linspace(0, 1, 201)
    ks = np.max(np.abs(np.searchsorted(ours, grid) - np.searchsorted(tfp_draws, grid))) / 1e5
    assert ks < 0.0061, ks
