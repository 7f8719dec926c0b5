"""The change-of-variables formula on examples with known answers."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import bijectors as B

tfb, tfd = tfp.bijectors, tfp.distributions


def _scale_by(factor: float) -> B.ActNorm:
    """Our ActNorm on a 1-D event with a fixed scale: ``y = factor * x``."""
    bij = B.ActNorm([1], dtype=tf.float64)
    bij.log_scale.assign([np.log(factor)])
    bij.initialized.assign(True)
    return bij


def test_uniform_0_2_scaled_by_4_has_density_one_eighth():
    base = tfd.Independent(tfd.Uniform(tf.zeros([1], tf.float64), 2.0), 1)
    dist = tfd.TransformedDistribution(base, _scale_by(4.0))
    y = tf.constant(np.linspace(0.01, 7.99, 50)[:, None])
    density = np.exp(dist.log_prob(y))
    np.testing.assert_allclose(density, 1.0 / 8.0, rtol=1e-12)
    # The naive substitution p_x(y / 4) = 1/2 forgets the Jacobian and is wrong.
    naive = np.exp(base.log_prob(y / 4.0))
    assert np.allclose(naive, 0.5) and not np.allclose(density, naive)
    assert np.exp(dist.log_prob(tf.constant([[8.5]], tf.float64)))[0] == 0.0


def test_exp_of_uniform_0_2_has_density_one_over_2x():
    dist = tfd.TransformedDistribution(tfd.Uniform(tf.constant(0.0, tf.float64), 2.0), tfb.Exp())
    x = np.linspace(1.01, np.exp(2.0) - 0.01, 50)
    np.testing.assert_allclose(np.exp(dist.log_prob(x)), 1.0 / (2.0 * x), rtol=1e-12)
    # And it integrates to one on [1, e^2].
    grid = np.linspace(1.0, np.exp(2.0), 20001)
    assert abs(np.trapezoid(np.exp(dist.log_prob(grid[1:-1])), grid[1:-1]) - 1.0) < 1e-3


def test_unit_square_through_linear_map_has_density_one_over_abs_det():
    a = np.array([[2.0, 1.0], [0.5, 1.5]])  # det = 2.5
    linear = B.InvertibleLinear([2], initial_matrix=a, trainable=False, dtype=tf.float64)
    base = tfd.Independent(tfd.Uniform(tf.zeros([2], tf.float64), 1.0), 1)
    dist = tfd.TransformedDistribution(base, linear)
    rng = np.random.default_rng(0)
    inside = rng.uniform(0.01, 0.99, size=(100, 2)) @ a.T  # images of interior points
    np.testing.assert_allclose(np.exp(dist.log_prob(inside)), 1.0 / abs(np.linalg.det(a)),
                               rtol=1e-10)
    outside = np.array([[1.5, 1.5]]) @ a.T
    assert np.exp(dist.log_prob(outside))[0] == 0.0
    # Samples land in the parallelogram: inverse maps them into the unit square.
    z = linear.inverse(dist.sample(500, seed=3))
    assert np.all((z.numpy() >= -1e-12) & (z.numpy() <= 1 + 1e-12))


def test_flow_density_integrates_to_one_on_a_grid():
    """A 2-D flow of our bijectors (random weights) integrates to the right mass.

    The grid integral over a box must equal P(X in box), estimated from
    samples drawn through the forward pass (which never uses the log-det).
    """
    from tests.bijector_checks import perturb_variables
    bijs = [B.AffineCoupling([2], hidden_units=[16], dtype=tf.float64),
            B.InvertibleLinear([2], seed=0, dtype=tf.float64),
            B.SplineCoupling([2], num_bins=6, bound=3.0, flip_mask=True, hidden_units=[16],
                             dtype=tf.float64)]
    for b in bijs:
        perturb_variables(b, scale=0.5)
    dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([2], tf.float64)),
                                       tfb.Chain(bijs))
    grid = np.linspace(-8, 8, 801)
    xx, yy = np.meshgrid(grid, grid)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    dens = np.exp(dist.log_prob(pts)).reshape(xx.shape)
    total = np.trapezoid(np.trapezoid(dens, grid, axis=1), grid)
    samples = dist.sample(200_000, seed=11).numpy()
    in_box = np.mean(np.all(np.abs(samples) <= 8.0, axis=-1))
    assert in_box > 0.5  # the box holds most of the mass (0.89 here)
    assert abs(total - in_box) < 0.005, (total, in_box)


def test_dequantized_bits_per_dim_of_uniform_model_is_eight():
    """A uniform density on [0, 256)^D gives exactly 8 bits/dim for 8-bit data."""
    d = 12
    base = tfd.Independent(tfd.Uniform(tf.zeros([d], tf.float64), 1.0), 1)
    dist = tfd.TransformedDistribution(base, B.Dequantize(256))
    pixels = np.random.default_rng(0).integers(0, 256, size=(10, d))
    y = B.uniform_dequantize(pixels, seed=[1, 2], dtype=tf.float64)
    assert np.all((y.numpy() >= pixels) & (y.numpy() < pixels + 1))
    np.testing.assert_allclose(B.bits_per_dim(dist.log_prob(y), d), 8.0, rtol=1e-12)
    np.testing.assert_allclose(
        B.unit_cube_to_discrete_log_prob(base.log_prob(y / 256.0), d, 256),
        dist.log_prob(y), rtol=1e-12)
