"""TFP's bijector contract beyond the shared checks: cache identity across models,
``validate_args``, batch shapes of amortised bijectors, ``cdf`` and ``mean``
through our bijectors (issue: no silent wrong answers, parts 1 and 2)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

from tests import recipes
from tests.bijector_checks import perturb_variables
from tfp_genmodels import bijectors as B
from tfp_genmodels import vae

tfb, tfd = tfp.bijectors, tfp.distributions
X4 = tf.constant([[0.5, 1.0, 0.2, 0.1], [0.1, -0.2, 0.3, 0.3]])



def _contract_flow(name):
    """A tiny recipe on 4 dimensions (4x4x1 images, continuous: no pixel end)."""
    if recipes.is_image(name):
        return recipes.tiny(name, event_shape=(4, 4, 1), pixel_levels=None)
    return recipes.tiny(name, event_shape=(4,))


FLOW_RECIPES = {name: functools.partial(_contract_flow, name) for name in recipes.RECIPES}


def _input_for(model):
    if model.event_shape == (4,):
        return X4
    return tf.constant(np.random.default_rng(0).normal(size=(2, *model.event_shape)),
                       tf.float32)


@pytest.mark.parametrize("name", sorted(FLOW_RECIPES))
def test_two_models_built_alike_do_not_share_tfp_cache(name):
    """The issue's repro: b returned a's log_prob inside one tf.function."""
    a, b = FLOW_RECIPES[name](), FLOW_RECIPES[name]()
    perturb_variables(b.flow, scale=0.05, seed=2)
    x = _input_for(a)
    expected = [m.log_prob(tf.identity(x)) for m in (a, b)]
    assert not np.allclose(expected[0], expected[1])  # the perturbation matters
    traced = tf.function(lambda t: (a.log_prob(t), b.log_prob(t)))(x)
    eager = [m.log_prob(x) for m in (a, b)]  # the same tensor object twice
    for got in (traced, eager):
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-5)


def test_different_recipes_do_not_share_tfp_cache():
    a = FLOW_RECIPES["realnvp"]()
    b = FLOW_RECIPES["spline"]()
    perturb_variables(b.flow, scale=0.1, seed=3)
    got = tf.function(lambda t: (a.log_prob(t), b.log_prob(t)))(X4)
    np.testing.assert_allclose(got[1], b.log_prob(tf.identity(X4)), rtol=1e-5)


def test_two_actnorms_with_equal_arguments_in_eager_mode():
    a, b = B.ActNorm([2]), B.ActNorm([2])
    a.initialize(np.array([[0.0, 0.0], [2.0, 4.0]], np.float32))
    b.initialize(np.array([[5.0, 1.0], [9.0, 2.0]], np.float32))
    y = tf.constant([[1.0, 2.0]])
    za, zb = a.inverse(y), b.inverse(y)
    np.testing.assert_allclose(za, [[0.0, 0.0]], atol=1e-5)
    np.testing.assert_allclose(zb, [[-3.0, 1.0]], atol=1e-4)
    assert a != b and hash(a) != hash(b)
    # Stateless bijectors keep TFP's equality by value, which is right for them.
    assert B.Logit(0.05) == B.Logit(0.05) and B.Squeeze() == B.Squeeze()


def test_vae_flow_parts_do_not_share_tfp_cache():
    def make(posterior, prior):
        enc = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, "tanh")])
        dec = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "tanh")])
        return vae.VAE(2, enc, dec, likelihood="gaussian", posterior=posterior, prior=prior)

    for posterior, prior in (("iaf", "flow"), ("planar", "normal")):
        a, b = make(posterior, prior), make(posterior, prior)
        for v in b.trainable_variables:
            v.assign_add(0.05 * tf.ones_like(v))
        seed = tf.constant([3, 4])
        expected = [m.elbo(tf.identity(X4), seed=seed) for m in (a, b)]
        assert not np.allclose(expected[0], expected[1])
        got = tf.function(lambda t: (a.elbo(t, seed=seed), b.elbo(t, seed=seed)))(X4)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-4, atol=1e-4)


def test_amortised_planar_has_the_parameters_batch_shape():
    """Issue repro: batch_shape () and sample(2) crashed with incompatible shapes."""
    rng = np.random.default_rng(0)
    u, w = rng.normal(size=(2, 6, 3)).astype(np.float32)
    bias = rng.normal(size=6).astype(np.float32)
    dist = tfd.TransformedDistribution(tfd.Sample(tfd.Normal(0.0, 1.0), [3]),
                                       B.Planar(u, w, bias))
    assert dist.batch_shape == [6]
    x = dist.sample(2, seed=(1, 2))
    assert x.shape == [2, 6, 3] and dist.log_prob(x).shape == [2, 6]
    assert B.Planar(u, w, bias)[:2].experimental_batch_shape() == [2]
    assert B.Radial(u, bias, bias).experimental_batch_shape() == [6]
    assert B.Householder(u).experimental_batch_shape() == [6]
    assert B.AffineCoupling([3], hidden_units=[4]).experimental_batch_shape() == []


def test_cdf_through_monotone_scalar_bijectors():
    dist = tfd.TransformedDistribution(tfd.Uniform(0.0, 1.0), B.Dequantize(4))
    np.testing.assert_allclose(dist.cdf([1.0, 3.0]), [0.25, 0.75], rtol=1e-6)
    logit = tfd.TransformedDistribution(tfd.Uniform(0.0, 1.0), B.Logit(0.0))
    np.testing.assert_allclose(logit.cdf([0.0]), [0.5], rtol=1e-6)


def test_constant_jacobian_bijectors_give_transformed_mean():
    linear = B.InvertibleLinear([3], seed=0)
    norm = B.ActNorm([3])
    norm.initialize(np.random.default_rng(0).normal(2.0, 3.0, size=(64, 3)))
    base = tfd.MultivariateNormalDiag(tf.ones([3]))
    for bij in (linear, norm):
        assert bij.is_constant_jacobian
        dist = tfd.TransformedDistribution(base, bij)
        np.testing.assert_allclose(dist.mean(), bij.forward(tf.ones([3])), rtol=1e-5)


@pytest.mark.parametrize("make, arg, bad, message", [
    (lambda v: B.Householder(v, validate_args=True), "v", np.zeros(3, np.float32),
     "must be non-zero"),
    (lambda v: B.Planar(v, np.ones(3, np.float32), 0.0, validate_args=True), "u",
     np.array([np.nan, 0, 0], np.float32), "`u` must be finite"),
    (lambda v: B.Radial(v, 1.0, 1.0, validate_args=True), "center",
     np.array([np.inf, 0, 0], np.float32), "`center` must be finite"),
])
def test_validate_args_checks_parameters(make, arg, bad, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        make(bad)
    make(np.ones(3, np.float32))  # valid values pass
    # Variables are checked at every call, since their values can change.
    var = tf.Variable(np.ones(3, np.float32))
    bij = make(var)
    bij.forward(tf.ones([1, 3]))
    var.assign(bad)
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        bij.forward(tf.ones([1, 3]))


def test_validate_args_checks_domains_and_state():
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \[0, 1\]"):
        B.Logit(0.05, validate_args=True).forward(tf.constant([1.5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \(0, 1\)"):
        B.Logit(0.0, validate_args=True).forward(tf.constant([0.0]))
    B.Logit(0.05).forward(tf.constant([1.5]))  # no check without validate_args (TFP's rule)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"must lie in \[0, 4\]"):
        B.Dequantize(4, validate_args=True).inverse(tf.constant([4.5]))
    norm = B.ActNorm([2], validate_args=True)
    norm.log_scale.assign([np.inf, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log_scale"):
        norm.forward(tf.ones([1, 2]))
    linear = B.InvertibleLinear([2], validate_args=True)
    linear.log_abs_diag.assign([np.nan, 0.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="log_abs_diag"):
        linear.inverse(tf.ones([1, 2]))
