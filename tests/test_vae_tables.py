"""One shared contract per extension point, run over every entry of its table.

The VAE's names are resolved by the tables of ``tfp_genmodels.vae.parts``; a new
built-in part is one table entry, and these tests cover it by that entry alone
(flow recipes have theirs in ``tests/recipes.py``; the CLI's models below).
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfp_genmodels import _registry, flows, vae
from tfp_genmodels.cli import parser as cli_parser
from tfp_genmodels.cli import runs
from tfp_genmodels.vae import parts

LATENT, CLASSES, EVENT = 2, 3, (6,)
X = (np.random.default_rng(0).uniform(size=(16, *EVENT)) > 0.5).astype(np.float32)


def _vae(code_size=LATENT, **kwargs):
    encoder = keras.Sequential([keras.Input(EVENT), keras.layers.Dense(8, "tanh")])
    decoder = keras.Sequential([keras.Input((code_size,)), keras.layers.Dense(8, "tanh")])
    return vae.VAE(LATENT, encoder, decoder, **kwargs)


def _round_trip(part):
    """The part rebuilt from its Keras config: same class, same config."""
    config = keras.saving.serialize_keras_object(part)
    rebuilt = keras.saving.deserialize_keras_object(config)
    assert type(rebuilt) is type(part)
    assert keras.saving.serialize_keras_object(rebuilt)["config"] == config["config"]


def test_tables_hold_the_registered_names():
    assert tuple(parts.POSTERIOR_TABLE) == _registry.POSTERIORS
    assert tuple(parts.PRIOR_TABLE) == _registry.PRIORS
    assert tuple(parts.LIKELIHOOD_TABLE) == _registry.LIKELIHOODS
    assert tuple(parts.ESTIMATOR_TABLE) == _registry.ESTIMATORS
    assert tuple(flows.RECIPES) == tuple(_registry.FLOW_RECIPES)
    assert tuple(runs.BUILDERS) == cli_parser.MODELS == (*_registry.FLOW_RECIPES, "vae")


# -- posteriors: each with the prior and estimator that fit it ----------------------------
POSTERIOR_SETUP = {"diagonal": {}, "full": {}, "iaf": {}, "planar": {},
                   "categorical": {"options": {"num_classes": CLASSES}},
                   "bernoulli": {}}


@pytest.mark.parametrize("name", parts.POSTERIOR_TABLE)
def test_every_posterior_meets_the_contract(name):
    options = POSTERIOR_SETUP[name].get("options")
    posterior = parts.resolve_posterior(name, LATENT, options)
    assert posterior.latent_dim == LATENT
    model = _vae(posterior.code_size, posterior=posterior)
    terms = model.terms(X, num_samples=3, seed=[1, 2])
    assert terms.z.shape == (3, len(X), posterior.code_size)
    assert terms.log_q.shape == (3, len(X)) and np.all(np.isfinite(terms.log_q))
    # log q of the draws, scored again, is the log q the draws came with.
    np.testing.assert_allclose(posterior.log_prob(terms.features, terms.z), terms.log_q,
                               rtol=1e-4, atol=1e-4)
    assert np.all(np.isfinite(model.elbo(X)))
    _round_trip(posterior)
    _every_variable_learns(model, posterior)


def _every_variable_learns(model, part):
    """One training step's loss reaches every trainable variable of ``part``."""
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    with tf.GradientTape() as tape:
        loss, _ = model._loss_and_metrics(tf.constant(X), None, tf.constant(1.0),
                                          training=True)
    grads = tape.gradient(loss, part.trainable_variables)
    assert np.isfinite(float(loss))
    assert part.trainable_variables or not grads
    for v, g in zip(part.trainable_variables, grads):
        assert g is not None and np.all(np.isfinite(g)), f"{v.name} gets no gradient"


# -- priors ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", parts.PRIOR_TABLE)
def test_every_prior_meets_the_contract(name):
    discrete = not parts.PRIOR_TABLE[name]().continuous if name != "vamp" else False
    posterior = "categorical" if discrete else "diagonal"
    code = LATENT * CLASSES if discrete else LATENT
    options = {"num_classes": CLASSES} if discrete else {}
    model = _vae(code, posterior=parts.resolve_posterior(posterior, LATENT, options),
                 prior=name)
    prior = model.prior
    z = prior.sample(5, seed=[3, 4])
    assert z.shape == (5, code)
    log_p = prior.log_prob(z)
    assert log_p.shape == (5,) and np.all(np.isfinite(log_p))
    _round_trip(prior)
    _every_variable_learns(model, prior)
    wrong = "diagonal" if discrete else "categorical"
    with pytest.raises(ValueError, match="`prior`"):
        _vae(LATENT * CLASSES, posterior=parts.resolve_posterior(
            wrong, LATENT, {} if discrete else {"num_classes": CLASSES}), prior=name)


# -- likelihoods -------------------------------------------------------------------------
LIKELIHOOD_DATA = {"bernoulli": (X, 2.5), "gaussian": (X * 3.0 - 1.0, np.nan),
                   "categorical": (X * 4.0, 1.5)}


@pytest.mark.parametrize("name", parts.LIKELIHOOD_TABLE)
def test_every_likelihood_meets_the_contract(name):
    x, outside = LIKELIHOOD_DATA[name]
    model = _vae(likelihood=name, pixel_levels=5)
    likelihood = model.likelihood
    assert likelihood.event_shape == EVENT
    dist = likelihood(tf.zeros([4, 8]))
    assert tuple(dist.event_shape) == EVENT and tuple(dist.batch_shape) == (4,)
    assert np.all(np.isfinite(model.elbo(x)))
    bad = x.copy()
    bad[0, 0] = outside
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError)):
        model.elbo(bad)
    _round_trip(likelihood)
    _every_variable_learns(model, likelihood)


# -- estimators: each with the posterior and objective it serves --------------------------
ESTIMATOR_SETUP = {
    "reparameterized": ("diagonal", "elbo", 1), "reinforce": ("categorical", "elbo", 1),
    "gumbel_softmax": ("categorical", "elbo", 1),
    "straight_through": ("categorical", "elbo", 1), "vimco": ("bernoulli", "iwae", 3),
    "disarm": ("bernoulli", "elbo", 2)}


@pytest.mark.parametrize("name", parts.ESTIMATOR_TABLE)
def test_every_estimator_meets_the_contract(name):
    posterior_name, objective, samples = ESTIMATOR_SETUP[name]
    options = {"num_classes": CLASSES} if posterior_name == "categorical" else {}
    posterior = parts.resolve_posterior(posterior_name, LATENT, options)
    model = _vae(posterior.code_size, posterior=posterior, objective=objective,
                 num_samples=samples, estimator=name)
    est = model.estimator
    features = model.features(X)
    problem = model._problem(tf.constant(X), None, 1.0, features)
    terms = est.terms(problem, samples)
    assert terms.log_px_z.shape[1:] == (len(X),) and np.all(np.isfinite(terms.log_px_z))
    # The surrogate only carries gradients: its value is 0.
    np.testing.assert_allclose(terms.surrogate, 0.0, atol=1e-5)
    _round_trip(est)
    _every_variable_learns(model, model.posterior)
    # An estimator refuses the posterior or objective it does not serve.
    other = "diagonal" if posterior.is_discrete else "bernoulli"
    with pytest.raises(ValueError):
        _vae(posterior=parts.resolve_posterior(other, LATENT), estimator=name,
             objective=objective, num_samples=samples)


# -- the CLI's models --------------------------------------------------------------------
@pytest.mark.parametrize("name", runs.BUILDERS)
def test_every_cli_model_is_built_from_its_run_config(name):

    image = name in _registry.IMAGE_ONLY_RECIPES
    shape = (4, 4, 1) if image else (2,)
    x = np.random.default_rng(1).integers(0, 5, size=(8, *shape)).astype(np.float32)
    dataset = runs.Dataset(x, x, x, 5 if image else None, shape if image else None)
    args = cli_parser.parse_args(["train", "--model", name, "--hidden-units", "4",
                                  "--num-layers", "1", "--num-scales", "1", "--out", "x"])
    args.data = "digits" if image else "moons"
    config = runs.run_config(args, dataset)
    model = runs.build_model(config)
    assert np.all(np.isfinite(model.predict(x if image or name == "vae" else x, verbose=0)))


# -- 0.1's names keep working for one release, with a warning ----------------------------
@pytest.mark.parametrize("make, attribute, value", [
    (lambda: _vae(posterior="iaf", num_flow_steps=2), "posterior.num_layers", 2),
    (lambda: _vae(prior="mixture", num_components=4), "prior.num_components", 4),
    (lambda: _vae(likelihood="gaussian", likelihood_scale=0.3), "likelihood.fixed_scale", 0.3),
    (lambda: _vae(LATENT * CLASSES, posterior="categorical", num_classes=CLASSES,
                  estimator="gumbel_softmax", temperature=0.4, temperature_decay=0.0,
                  min_temperature=0.2), "estimator.temperature", 0.4),
    (lambda: vae.IAFPosterior(LATENT, num_flow_steps=3), "num_layers", 3),
    (lambda: vae.FlowPrior(LATENT, flow_layers=3), "num_layers", 3),
    (lambda: flows.FFJORD((2,), hidden_units=(4,), num_blocks=2), "num_layers", 2),
])
def test_deprecated_names_warn_and_still_work(make, attribute, value):
    with pytest.warns(DeprecationWarning, match="deprecated"):
        made = make()
    got = made
    for name in attribute.split("."):
        got = getattr(got, name)
    assert got == pytest.approx(value)


def test_an_instance_carries_its_own_options():
    with pytest.raises(ValueError, match="options of a named"):
        _vae(posterior=vae.IAFPosterior(num_layers=2), num_flow_steps=3)
    with pytest.raises(ValueError, match="num_samples"):
        _vae(posterior="bernoulli", objective="iwae", num_samples=4,
             estimator=vae.VIMCO(num_samples=3))
    model = _vae(posterior="bernoulli", objective="iwae", estimator=vae.VIMCO(num_samples=3))
    assert model.num_samples == 3
