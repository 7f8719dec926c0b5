"""The VAE: bounds checked against an exactly solvable model, the KL against
an independent computation, and every posterior / prior trains."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tfp_genmodels import data, vae

tfd = tfp.distributions
DIGITS = data.load_digits()
X = DIGITS.train.x[:512]


def _digits_vae(latent=4, **kwargs):
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                                keras.layers.Flatten(), keras.layers.Dense(32, "relu")])
    decoder = keras.Sequential([keras.Input((latent,)), keras.layers.Dense(32, "relu")])
    kwargs.setdefault("likelihood", "categorical")
    kwargs.setdefault("pixel_levels", 17)
    return vae.VAE(latent, encoder, decoder, **kwargs)


def _trained(model, epochs=3, **fit_kwargs):
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(X, batch_size=128, epochs=epochs, verbose=0, **fit_kwargs)
    return model, history


# -- an exactly solvable model: linear Gaussian ----------------------------------------
D, L, SIGMA = 4, 2, 0.5
W_TRUE = np.array([[1.0, 0.5], [-0.7, 1.2], [0.3, -0.9], [1.5, 0.2]], np.float32)
B_TRUE = np.array([0.5, -1.0, 0.0, 2.0], np.float32)


def _exact_log_px(x):
    cov = W_TRUE.astype(np.float64) @ W_TRUE.T + SIGMA ** 2 * np.eye(D)
    return tfd.MultivariateNormalTriL(B_TRUE.astype(np.float64), np.linalg.cholesky(cov)
                                      ).log_prob(x.astype(np.float64)).numpy()


def test_bounds_on_a_linear_gaussian_model_with_known_likelihood():
    """x = W z + b + sigma eps, z ~ N(0, I): log p(x) = log N(x; b, W W^T + sigma^2 I),
    and the true posterior is N(S W^T (x - b) / sigma^2, S), S = (I + W^T W / sigma^2)^-1.

    For any q the ELBO gap is exactly KL(q(z|x) || p(z|x)), which is computable
    here; the importance-weighted estimate converges to log p(x).
    """
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4096, L)).astype(np.float32)
    x = (z @ W_TRUE.T + B_TRUE + SIGMA * rng.normal(size=(4096, D))).astype(np.float32)
    encoder = keras.Sequential([keras.Input((D,)), keras.layers.Dense(32, "tanh")])
    decoder = keras.Sequential([keras.Input((L,)), keras.layers.Activation("linear")])
    model = vae.VAE(L, encoder, decoder, likelihood="gaussian", likelihood_scale=SIGMA,
                    posterior="full")
    head = model.likelihood.dense
    head.set_weights([W_TRUE.T, B_TRUE])
    head.trainable = False  # the decoder is the true model; only q(z|x) learns
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(x, batch_size=256, epochs=10, verbose=0)

    x_test = x[:200]
    exact = _exact_log_px(x_test)
    w, s2 = W_TRUE.astype(np.float64), SIGMA ** 2
    post_cov = np.linalg.inv(np.eye(L) + w.T @ w / s2)
    post_mean = (x_test - B_TRUE) @ w @ post_cov.T / s2
    q = model.encode(x_test)
    true_post = tfd.MultivariateNormalTriL(post_mean, np.linalg.cholesky(post_cov))
    q64 = tfd.MultivariateNormalTriL(tf.cast(q.mean(), tf.float64),
                                     tf.cast(q.scale.to_dense(), tf.float64))
    kl_to_posterior = tfd.kl_divergence(q64, true_post).numpy()
    gap = exact - model.elbo(x_test, num_samples=512).numpy()
    assert float(np.mean(gap)) > 0.0                                      # ELBO <= log p(x)
    assert abs(float(np.mean(gap - kl_to_posterior))) < 0.02              # gap = KL(q || post)
    iwae = model.log_likelihood(x_test, num_samples=2000, chunk_size=500).numpy()
    assert abs(float(np.mean(iwae - exact))) < 0.02                       # IWAE -> log p(x)


def test_elbo_below_iwae_which_rises_with_k():
    model, _ = _trained(_digits_vae(), epochs=4)
    x = DIGITS.test.x[:200]
    tf.random.set_seed(0)
    elbo = float(np.mean(model.elbo(x, num_samples=16)))
    iwae = [float(np.mean(model.log_likelihood(x, num_samples=k))) for k in (1, 10, 200)]
    assert elbo <= iwae[1] <= iwae[2], (elbo, iwae)
    assert abs(iwae[0] - elbo) < 1.0  # K = 1 is a single-sample ELBO
    bpd = float(np.mean(model.log_likelihood(x, num_samples=10, bits_per_dim=True)))
    assert 0 < bpd < np.log2(17) + 1


@pytest.mark.parametrize("posterior", ["diagonal", "full"])
def test_reported_kl_equals_an_independent_analytic_computation(posterior):
    model, _ = _trained(_digits_vae(posterior=posterior), epochs=1)
    x = DIGITS.test.x[:64]
    q = model.encode(x)
    mu = q.mean().numpy().astype(np.float64)
    if posterior == "diagonal":  # Independent(Normal): build the diagonal covariance
        cov = np.stack([np.diag(v) for v in q.variance().numpy().astype(np.float64)])
    else:
        cov = q.covariance().numpy().astype(np.float64)
    # KL(N(mu, S) || N(0, I)) = (tr S + mu.mu - L - log det S) / 2
    expected = 0.5 * (np.trace(cov, axis1=1, axis2=2) + np.sum(mu ** 2, -1) - model.latent_dim
                      - np.linalg.slogdet(cov)[1])
    kl = model.terms(x).kl.numpy()
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-4)
    # evaluate() reports the same KL and loss = -ELBO at beta = 1.
    result = model.evaluate(x, batch_size=64, verbose=0, return_dict=True)
    np.testing.assert_allclose(result["kl"], expected.mean(), rtol=1e-4)
    np.testing.assert_allclose(result["loss"], -result["elbo"], rtol=1e-6)
    np.testing.assert_allclose(result["loss"], result["reconstruction"] + result["kl"],
                               rtol=1e-5)
    assert not model.losses, "the KL must not also sit in layer.losses (TFP #1215)"


def test_beta_warmup_and_free_bits_change_only_the_objective():
    x = X[:128]
    model = _digits_vae(beta=2.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    tf.random.set_seed(1)
    loss, values = model._loss_and_metrics(x, None, tf.constant(2.0))
    np.testing.assert_allclose(loss, values["reconstruction"] + 2.0 * values["kl"], rtol=1e-5)
    # Warm-up: beta_t = beta * step / N.
    warm = _digits_vae(beta=2.0, kl_warmup_steps=10)
    warm.compile(optimizer=keras.optimizers.Adam(1e-3))
    assert float(warm.current_beta()) == 0.0
    warm.optimizer.iterations.assign(5)
    assert float(warm.current_beta()) == pytest.approx(1.0)
    warm.optimizer.iterations.assign(50)
    assert float(warm.current_beta()) == pytest.approx(2.0)
    # Free bits: sum_i max(lambda, E_batch KL_i), with KL_i from the diagonal posterior.
    fb = _digits_vae(free_bits=100.0)
    loss, values = fb._loss_and_metrics(x, None, tf.constant(1.0))
    np.testing.assert_allclose(loss, values["reconstruction"] + 100.0 * 4, rtol=1e-5)
    assert float(values["kl"]) < 100.0  # the logged KL is the true one


# Every posterior and every prior at least once.
POSTERIOR_PRIOR = [("diagonal", "normal"), ("full", "mixture"), ("diagonal", "vamp"),
                   ("iaf", "flow"), ("planar", "mixture")]


@pytest.mark.parametrize("posterior, prior", POSTERIOR_PRIOR)
def test_every_posterior_and_prior_trains_with_all_variables(posterior, prior):
    model = _digits_vae(posterior=posterior, prior=prior)
    with tf.GradientTape() as tape:
        loss, _ = model._loss_and_metrics(X[:64], None, tf.constant(1.0))
    grads = tape.gradient(loss, model.trainable_variables)
    for v, g in zip(model.trainable_variables, grads):
        assert g is not None, f"{v.name} gets no gradient"
    model, history = _trained(model, epochs=2, validation_data=DIGITS.validation.x[:128])
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert {"loss", "reconstruction", "kl", "elbo", "val_elbo"} <= set(history.history)
    x = DIGITS.test.x[:8]
    elbo = model.elbo(x, num_samples=4)
    iwae = model.log_likelihood(x, num_samples=20)
    assert elbo.shape == iwae.shape == (8,) and np.all(np.isfinite(iwae))
    assert model.sample(3).shape == (3, 8, 8, 1)


def test_log_likelihood_in_chunks_handles_k_5000():
    model = _digits_vae()
    x = DIGITS.test.x[:16]
    a = model.log_likelihood(x, num_samples=5000, chunk_size=250).numpy()
    b = model.log_likelihood(x, num_samples=5000, chunk_size=1000).numpy()
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(a, b, atol=0.5)  # two estimates of the same quantity


def test_methods_and_shapes():
    model, _ = _trained(_digits_vae(), epochs=1)
    x = DIGITS.test.x[:5]
    assert model.encode(x).event_shape == (4,) and model.encode(x).batch_shape == (5,)
    assert model.decode(tf.zeros([3, 4])).event_shape == (8, 8, 1)
    assert model.reconstruct(x).shape == (5, 8, 8, 1)
    means = model.sample(6, mean=True).numpy()
    assert means.shape == (6, 8, 8, 1) and means.min() >= 0 and means.max() <= 16
    path = model.interpolate(x[0], x[1], steps=7)
    assert path.shape == (7, 8, 8, 1)
    samples = model.sample(4).numpy()
    np.testing.assert_array_equal(samples, np.round(samples))  # categorical draws


def test_diagnostics_show_posterior_collapse():
    latent = 3
    # A decoder that ignores z: the optimum sets q(z|x) = p(z), a collapsed posterior.
    blind = vae.VAE(latent, keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                              keras.layers.Rescaling(1 / 16),
                                              keras.layers.Dense(16, "relu")]),
                    keras.Sequential([keras.Input((latent,)),
                                      keras.layers.Lambda(lambda z: 0.0 * z)]),
                    likelihood="categorical", pixel_levels=17)
    blind.compile(optimizer=keras.optimizers.Adam(1e-2))
    blind.fit(X, batch_size=128, epochs=15, verbose=0)
    collapsed = blind.diagnostics(DIGITS.test.x[:200])
    model = _digits_vae(latent=latent)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(DIGITS.train.x, batch_size=64, epochs=8, verbose=0)
    healthy = model.diagnostics(DIGITS.test.x[:200])
    assert collapsed["active_units"] == 0 and collapsed["mutual_information"] < 0.05
    assert healthy["active_units"] >= 1 and healthy["mutual_information"] > 0.3
    assert max(collapsed["kl_per_dim"]) < 0.05 < max(healthy["kl_per_dim"])
    from tfp_genmodels.vae.diagnostics import format_table
    assert "active units: 0 / 3" in format_table(collapsed)


def test_callable_likelihood_and_bad_arguments():
    def likelihood(decoded):
        return tfd.Independent(tfd.Bernoulli(logits=tf.reshape(decoded, [-1, 8, 8, 1]),
                                             dtype=tf.float32), 3)

    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(64)])
    encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                keras.layers.Dense(8)])
    model = vae.VAE(2, encoder, decoder, likelihood=likelihood)
    x = (X[:4] > 8).astype(np.float32)
    assert model.elbo(x).shape == (4,)
    with pytest.raises(ValueError, match=r"`posterior` must be one of .*; got 'flowy'"):
        vae.VAE(2, encoder, decoder, posterior="flowy")
    with pytest.raises(ValueError, match=r"`pixel_levels` must be an int >= 2"):
        vae.VAE(2, encoder, decoder, likelihood="categorical")
    with pytest.raises(ValueError, match=r"`beta` must be a finite float >= 0; got -1"):
        vae.VAE(2, encoder, decoder, beta=-1)
    with pytest.raises(ValueError, match=r"`x` must have trailing \(event\) shape"):
        model.elbo(np.zeros([2, 7, 7, 1]))


def test_format_table_marks_rows_with_the_reports_threshold():
    from tfp_genmodels.vae.diagnostics import format_table
    report = {"active_units": 2, "latent_dim": 2, "activity": [0.005, 0.5],
              "kl_per_dim": None, "kl": 1.0, "mutual_information": 0.5, "threshold": 0.001}
    rows = format_table(report).splitlines()[-2:]
    assert all("| yes |" in row for row in rows)  # 0.005 > 0.001: active
    rows = format_table({**report, "threshold": 0.01}).splitlines()[-2:]
    assert "| no |" in rows[0] and "| yes |" in rows[1]
