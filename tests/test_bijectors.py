"""Every bijector through the shared check helper, plus class-specific tests."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tests.bijector_checks import check_bijector, perturb_variables
from tfp_genmodels import bijectors as B

tfb, tfd = tfp.bijectors, tfp.distributions
RNG = np.random.default_rng(1234)
N = 6


def _perturbed(bijector, scale=0.3):
    perturb_variables(bijector, scale=scale)
    return bijector


def _actnorm(dtype, shape):
    b = B.ActNorm(shape, dtype=dtype)
    b.initialize(RNG.normal(0.5, 2.0, size=(16, *shape)))
    return _perturbed(b)


def _factor_out_inner(dtype):
    """A conditional chain on the kept half, so the context routing is checked too."""
    return tfb.Chain([
        _perturbed(B.InvertibleConv1x1([2, 2, 2], seed=5, dtype=dtype)),
        _perturbed(B.AffineCoupling([2, 2, 2], mask="channel", hidden_units=[8],
                                    context_shape=[2], dtype=dtype, name="coupling"))])


def _params(dtype, *shapes):
    """Variables, so that the checks can give a second instance other values."""
    rng = np.random.default_rng(7)
    return [tf.Variable(rng.normal(size=s), dtype=dtype) for s in shapes]


def _sinh_arcsinh(params):
    return tfb.SinhArcsinh(skewness=params[..., 0], tailweight=tf.exp(params[..., 1]))


# Weight noise 0.3 gives some spline bins a slope near the 1e-3 floor, where
# x -> y -> x keeps no float32 digit (error ~ eps |y| / (dy/dx), whatever the
# implementation; plain or followed by the affine map alike). 0.1 still moves
# every knot and slope far from the identity.
SPLINE_NOISE = 0.1

# name -> (factory(dtype), input [N, *event], event_ndims, kwargs, batched_parameters)
CASES = {
    "affine_vector_half": (lambda d: _perturbed(B.AffineCoupling([5], hidden_units=[16], dtype=d)),
                           RNG.normal(size=(N, 5)), 1, None, False),
    # Both soft bounds (the shift's too), tight enough that the perturbed network reaches them.
    "affine_vector_bounded": (
        lambda d: _perturbed(B.AffineCoupling([4], hidden_units=[16], log_scale_clamp=1.0,
                                              shift_clamp=0.5, dtype=d)),
        RNG.normal(size=(N, 4)), 1, None, False),
    "affine_vector_alternating_flip": (
        lambda d: _perturbed(B.AffineCoupling([4], mask="alternating", flip_mask=True,
                                              hidden_units=[16], dtype=d)),
        RNG.normal(size=(N, 4)), 1, None, False),
    "affine_vector_context": (
        lambda d: _perturbed(B.AffineCoupling([4], hidden_units=[16], context_shape=[3], dtype=d)),
        RNG.normal(size=(N, 4)), 1, {"context": RNG.normal(size=(N, 3))}, False),
    "affine_image_checkerboard": (
        lambda d: _perturbed(B.AffineCoupling([4, 4, 2], hidden_units=[8], dtype=d)),
        RNG.normal(size=(N, 4, 4, 2)), 3, None, False),
    "affine_image_channel_context": (
        lambda d: _perturbed(B.AffineCoupling([2, 2, 4], mask="channel", hidden_units=[8],
                                              context_shape=[2], dtype=d)),
        RNG.normal(size=(N, 2, 2, 4)), 3, {"context": RNG.normal(size=(N, 2))}, False),
    "additive_vector": (lambda d: _perturbed(B.AdditiveCoupling([5], hidden_units=[16], dtype=d)),
                        RNG.normal(size=(N, 5)), 1, None, False),
    "additive_image": (lambda d: _perturbed(B.AdditiveCoupling([2, 2, 2], mask="channel",
                                                               hidden_units=[8], dtype=d)),
                       RNG.normal(size=(N, 2, 2, 2)), 3, None, False),
    # Inputs span the spline's interval and both tails (bound 3). Splines get
    # smaller noise (SPLINE_NOISE).
    "spline_vector": (lambda d: _perturbed(B.SplineCoupling([4], num_bins=5, bound=3.0,
                                                            hidden_units=[16], dtype=d),
                                           SPLINE_NOISE),
                      RNG.uniform(-5, 5, size=(N, 4)), 1, None, False),
    "spline_vector_plain": (lambda d: _perturbed(B.SplineCoupling(
        [4], num_bins=5, bound=3.0, affine=False, hidden_units=[16], dtype=d), SPLINE_NOISE),
        RNG.uniform(-5, 5, size=(N, 4)), 1, None, False),
    # A coupling written as a function params -> elementwise tfb.Bijector.
    "function_coupling": (lambda d: _perturbed(B.CouplingBijector(
        [4], transform=_sinh_arcsinh, num_params=2, hidden_units=[8], dtype=d)),
        RNG.normal(size=(N, 4)), 1, None, False),
    "spline_image_context": (
        lambda d: _perturbed(B.SplineCoupling([2, 2, 2], num_bins=4, bound=2.0, hidden_units=[8],
                                              context_shape=[2], dtype=d), SPLINE_NOISE),
        RNG.uniform(-3, 3, size=(N, 2, 2, 2)), 3, {"context": RNG.normal(size=(N, 2))}, False),
    "actnorm_vector": (lambda d: _actnorm(d, [3]), RNG.normal(size=(N, 3)), 1, None, False),
    "actnorm_image": (lambda d: _actnorm(d, [2, 3, 2]), RNG.normal(size=(N, 2, 3, 2)), 3,
                      None, False),
    "invertible_linear": (lambda d: _perturbed(B.InvertibleLinear([5], seed=3, dtype=d)),
                          RNG.normal(size=(N, 5)), 1, None, False),
    "invertible_conv1x1": (lambda d: _perturbed(B.InvertibleConv1x1([2, 2, 3], seed=4, dtype=d)),
                           RNG.normal(size=(N, 2, 2, 3)), 3, None, False),
    "squeeze": (lambda d: B.Squeeze(), RNG.normal(size=(N, 4, 2, 3)), 3, None, False),
    "squeeze_factor3": (lambda d: B.Squeeze(factor=3), RNG.normal(size=(N, 3, 6, 1)), 3,
                        None, False),
    "logit": (lambda d: B.Logit(alpha=0.05), RNG.uniform(0, 1, size=(N, 3)), 1, None, False),
    "logit_no_alpha": (lambda d: B.Logit(alpha=0.0), RNG.uniform(0.01, 0.99, size=(N, 3)), 1,
                       None, False),
    # One squeeze per element (an array alpha), in [0, 0.5).
    "logit_array_alpha": (lambda d: B.Logit(alpha=np.array([0.0, 0.05, 0.2])),
                          RNG.uniform(0.01, 0.99, size=(N, 3)), 1, None, False),
    "dequantize": (lambda d: B.Dequantize(256), RNG.uniform(0, 1, size=(N, 3)), 1, None,
                   False),
    "planar": (lambda d: B.Planar(*_params(d, [3], [3], [])), RNG.normal(size=(N, 3)), 1,
               None, False),
    "planar_amortised": (lambda d: B.Planar(*_params(d, [N, 3], [N, 3], [N])),
                         RNG.normal(size=(N, 3)), 1, None, True),
    "radial": (lambda d: B.Radial(*_params(d, [3], [], [])), RNG.normal(size=(N, 3)), 1,
               None, False),
    "radial_amortised": (lambda d: B.Radial(*_params(d, [N, 4], [N], [N])),
                         RNG.normal(size=(N, 4)), 1, None, True),
    "factor_out": (lambda d: B.FactorOut(_factor_out_inner(d), event_shape=[2, 2, 4]),
                   RNG.normal(size=(N, 2, 2, 4)), 3,
                   {"coupling": {"context": RNG.normal(size=(N, 2))}}, False),
    "householder": (lambda d: B.Householder(*_params(d, [4])), RNG.normal(size=(N, 4)), 1,
                    None, False),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bijector_passes_shared_checks(case):
    make, x, event_ndims, kwargs, batched_parameters, *options = CASES[case]
    check_bijector(make, x, event_ndims, kwargs=kwargs, batched_parameters=batched_parameters,
                   **(options[0] if options else {}))


@pytest.mark.parametrize("make", [
    lambda: B.AffineCoupling([6], hidden_units=[8]),
    lambda: B.AdditiveCoupling([6], hidden_units=[8]),
    lambda: B.SplineCoupling([6], hidden_units=[8]),
    lambda: B.AffineCoupling([4, 4, 2], hidden_units=[8]),
    lambda: B.SplineCoupling([4, 4, 2], mask="channel", hidden_units=[8]),
], ids=["affine", "additive", "spline", "affine_image", "spline_image"])
def test_fresh_coupling_is_identity(make):
    bij = make()
    x = tf.random.normal([5, *bij.event_shape])
    np.testing.assert_allclose(bij.forward(x), x, atol=1e-6)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x), np.zeros(5), atol=1e-6)


def test_spline_all_zero_parameters_are_identity():
    from tfp_genmodels.bijectors.rational_quadratic import rational_quadratic_spline
    x = tf.constant(np.linspace(-4, 4, 101))
    y, ldj = rational_quadratic_spline(x, tf.zeros([101, 3 * 6 - 1], tf.float64), bound=3.0)
    np.testing.assert_allclose(y, x, atol=1e-12)
    np.testing.assert_allclose(ldj, 0.0, atol=1e-12)


def test_spline_tails_identity_and_finite_gradients_far_outside():
    bij = B.SplineCoupling([2], num_bins=4, bound=2.0, affine=False, hidden_units=[8],
                           dtype=tf.float32)
    perturb_variables(bij, scale=1.0)
    x = tf.constant([[0.3, 1e6], [0.3, -1e30], [-0.5, 2.5], [0.1, 1.0]])
    with tf.GradientTape() as tape:
        y = bij.forward(x)
        loss = tf.reduce_sum(y) + tf.reduce_sum(bij.forward_log_det_jacobian(x, event_ndims=1))
    grads = tape.gradient(loss, bij.trainable_variables)
    # Transformed element (index 1) outside [-2, 2] passes through unchanged.
    np.testing.assert_array_equal(y[:3, 1], x[:3, 1])
    assert abs(float(y[3, 1]) - 1.0) > 1e-4  # inside the range, the spline acts
    for g in grads:
        assert np.all(np.isfinite(g)), "NaN/inf gradient from out-of-range input"
    # Inverse also finite far out.
    assert np.all(np.isfinite(bij.inverse(tf.constant([[0.0, -1e20]]))))


def test_spline_with_affine_has_affine_tails_of_bounded_slope():
    """Outside [-B, B] the spline is the identity, so the affine map alone acts:
    y = exp(s) x + t with the same slope on both sides and |s| < log_scale_clamp."""
    bij = B.SplineCoupling([2], num_bins=4, bound=2.0, log_scale_clamp=1.5, hidden_units=[8],
                           dtype=tf.float64)
    perturb_variables(bij, scale=30.0)
    far = np.array([-1e6, -50.0, -3.0, 3.0, 70.0, 1e8])
    x = tf.constant(np.stack([np.full_like(far, 0.7), far], axis=1))
    y = bij.forward(x).numpy()[:, 1]
    slopes = np.diff(y[[0, 1, 2]]) / np.diff(far[[0, 1, 2]])
    slopes = np.concatenate([slopes, np.diff(y[[3, 4, 5]]) / np.diff(far[[3, 4, 5]])])
    np.testing.assert_allclose(slopes, slopes[0], rtol=1e-6)
    assert 1e-3 < abs(np.log(slopes[0])) <= 1.5 + 1e-12  # tanh may round to 1
    ldj = bij.forward_log_det_jacobian(x, event_ndims=1).numpy()
    np.testing.assert_allclose(ldj, np.log(slopes[0]), rtol=1e-6)  # the same in both tails
    np.testing.assert_allclose(bij.inverse(bij.forward(x)), x, rtol=1e-9)


def test_affine_log_scale_is_bounded():
    bij = B.AffineCoupling([2], hidden_units=[4], log_scale_clamp=2.0, dtype=tf.float64)
    perturb_variables(bij, scale=50.0)
    x = tf.constant(RNG.normal(size=(32, 2)) * 100)
    ldj = bij.forward_log_det_jacobian(x, event_ndims=1)
    assert np.all(np.abs(ldj) <= 2.0)  # one transformed element; tanh may round to 1


def test_actnorm_data_dependent_init_in_tf_function_unknown_batch():
    bij = B.ActNorm([4, 4, 3])
    data = tf.constant(RNG.normal(3.0, 5.0, size=(64, 4, 4, 3)), tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 3])])
    def to_base(y):
        return bij.inverse(y), bij.inverse_log_det_jacobian(y, event_ndims=3)

    z, ildj = to_base(data)
    mean, var = tf.nn.moments(z, axes=[0, 1, 2])
    np.testing.assert_allclose(mean, 0.0, atol=1e-4)
    np.testing.assert_allclose(var, 1.0, atol=1e-3)
    expected = -16 * np.sum(0.5 * np.log(np.var(data.numpy(), axis=(0, 1, 2)) + 1e-6))
    np.testing.assert_allclose(ildj, np.full(64, expected), rtol=1e-4)
    # Initialised once: a second, different batch does not re-initialise.
    loc = bij.loc.numpy().copy()
    to_base(data * 10.0)
    np.testing.assert_array_equal(bij.loc.numpy(), loc)


def test_actnorm_forward_before_init_does_not_initialise():
    bij = B.ActNorm([2])
    x = tf.constant([[1.0, 2.0]])
    np.testing.assert_allclose(bij.forward(x), x)
    assert not bool(bij.initialized.numpy())


def test_invertible_linear_is_lu_of_a_rotation_and_log_det_is_cheap():
    bij = B.InvertibleLinear([6], seed=0, dtype=tf.float64)
    w = bij.weight().numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(6), atol=1e-12)  # initialised to a rotation
    perturb_variables(bij)
    w = bij.weight().numpy()
    x = RNG.normal(size=(3, 6))
    np.testing.assert_allclose(bij.forward(x), x @ w.T, atol=1e-12)
    np.testing.assert_allclose(bij.forward_log_det_jacobian(x, event_ndims=1),
                               np.full(3, np.linalg.slogdet(w)[1]), atol=1e-10)


def test_invertible_linear_reproduces_a_given_matrix():
    a = np.array([[2.0, 1.0], [0.5, -3.0]])
    bij = B.InvertibleLinear([2], initial_matrix=a, trainable=False, dtype=tf.float64)
    np.testing.assert_allclose(bij.weight(), a, atol=1e-12)
    assert not bij.trainable_variables


def test_squeeze_matches_space_to_depth_and_unknown_batch():
    x = tf.reshape(tf.range(2 * 4 * 6 * 1, dtype=tf.float32), [2, 4, 6, 1])
    sq = B.Squeeze()
    np.testing.assert_array_equal(sq.forward(x), tf.nn.space_to_depth(x, 2))
    assert sq.forward_event_shape([4, 6, 1]) == [2, 3, 4]

    @tf.function(input_signature=[tf.TensorSpec([None, None, 4, 6, 1])])
    def f(t):
        return sq.inverse(sq.forward(t))

    np.testing.assert_array_equal(f(x[None]), x[None])


def test_householder_is_a_reflection():
    v = tf.constant([1.0, 2.0, -1.0], tf.float64)
    bij = B.Householder(v)
    np.testing.assert_allclose(bij.forward(v), -v.numpy())  # v maps to -v
    perp = tf.constant([2.0, -1.0, 0.0], tf.float64)
    np.testing.assert_allclose(bij.forward(perp), perp.numpy())  # orthogonal stays


def test_planar_and_radial_constraints_hold_for_adversarial_parameters():
    # w.u = -5 would make the raw planar map non-invertible; u_hat fixes it.
    w = tf.constant([1.0, 0.0], tf.float64)
    u = tf.constant([-5.0, 0.0], tf.float64)
    planar = B.Planar(u, w, tf.constant(0.0, tf.float64))
    assert float(tf.reduce_sum(w * planar.u_hat())) > -1.0
    check_bijector(lambda d: B.Planar(tf.cast(u, d), tf.cast(w, d), tf.constant(0.0, d)),
                   RNG.normal(size=(4, 2)), 1)
    radial = B.Radial(tf.zeros([2]), tf.constant(-3.0), tf.constant(-10.0))
    alpha, beta = radial.constrained_parameters()
    assert float(alpha) > 0 and float(beta) > -float(alpha)


def test_bijectors_compose_with_chain_invert_and_transformed_distribution():
    flow = tfb.Chain([B.AffineCoupling([4], hidden_units=[8], dtype=tf.float64),
                      B.InvertibleLinear([4], seed=1, dtype=tf.float64),
                      B.ActNorm([4], dtype=tf.float64)])
    flow.bijectors[-1].initialize(RNG.normal(size=(8, 4)))  # before any cached sample
    for b in flow.bijectors:
        perturb_variables(b)
    dist = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([4], tf.float64)),
                                       flow)
    x = dist.sample(5, seed=1)
    lp = dist.log_prob(x)
    z = flow.inverse(tf.identity(x))
    expected = (tfd.MultivariateNormalDiag(tf.zeros([4], tf.float64)).log_prob(z)
                + flow.inverse_log_det_jacobian(tf.identity(x), event_ndims=1))
    np.testing.assert_allclose(lp, expected, rtol=1e-10)
    inv = tfb.Invert(flow)
    np.testing.assert_allclose(inv.forward(tf.identity(x)), z, atol=1e-10)


def test_planar_with_zero_w_is_finite_identity():
    # Regression: u_hat divided by |w|^2 gave 0/0 = NaN at w = 0 (e.g. an
    # encoder that outputs zeros for an amortised planar step).
    u = tf.Variable(tf.zeros([2, 3]))
    w = tf.Variable(tf.zeros([2, 3]))
    b = tf.Variable(tf.zeros([2]))
    x = tf.constant(RNG.normal(size=(2, 3)), tf.float32)
    with tf.GradientTape() as tape:
        bij = B.Planar(u, w, b)
        y = bij.forward(x)
        ldj = bij.forward_log_det_jacobian(x, event_ndims=1)
        loss = tf.reduce_sum(y) + tf.reduce_sum(ldj)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(ldj, np.zeros(2))
    for g in tape.gradient(loss, [u, w, b]):
        assert np.all(np.isfinite(tf.convert_to_tensor(g)))
    np.testing.assert_allclose(bij.inverse(tf.identity(y)), x, atol=1e-6)


def test_rational_quadratic_spline_matches_tfp_inside_the_bound():
    """Our spline is TFP's ``tfb.RationalQuadraticSpline`` with the same knots and
    slopes: forward, inverse and log-derivative agree on [-B, B] (float64)."""
    from tfp_genmodels.bijectors.rational_quadratic import (
        _spline_parameters,
        rational_quadratic_spline,
    )
    rng = np.random.default_rng(3)
    bound, num_bins, n = 2.5, 6, 400
    params = tf.constant(rng.normal(scale=2.0, size=(n, 3 * num_bins - 1)))
    x = tf.constant(rng.uniform(-bound, bound, size=n))
    _, widths, _, heights, derivs = _spline_parameters(params, tf.constant(bound, tf.float64),
                                                       1e-3, 1e-3, 1e-3)
    theirs = tfb.RationalQuadraticSpline(widths, heights, derivs[..., 1:-1], range_min=-bound)
    y, ldj = rational_quadratic_spline(x, params, bound)
    np.testing.assert_allclose(y, theirs.forward(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ldj, theirs.forward_log_det_jacobian(x, event_ndims=0),
                               rtol=1e-8, atol=1e-10)
    x_back, ildj = rational_quadratic_spline(y, params, bound, inverse=True)
    np.testing.assert_allclose(x_back, theirs.inverse(y), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ildj, theirs.inverse_log_det_jacobian(y, event_ndims=0),
                               rtol=1e-8, atol=1e-10)


def test_coupling_from_a_function_and_its_errors():
    coupling = B.CouplingBijector([4], transform=_sinh_arcsinh, num_params=2, hidden_units=[8])
    x = tf.constant(RNG.normal(size=(3, 4)), tf.float32)
    np.testing.assert_allclose(coupling.forward(x), x, atol=1e-6)  # zero parameters: identity
    with pytest.raises(ValueError, match="`num_params` .* is required"):
        B.CouplingBijector([4], transform=_sinh_arcsinh)
    with pytest.raises(ValueError, match=r"`num_params` \(3\) differs from the map's \(2\)"):
        B.CouplingBijector([4], transform=B.elementwise.AffineMap(), num_params=3)
    wrong = B.CouplingBijector([4], transform=lambda p: "not a bijector", num_params=1,
                               hidden_units=[4])
    with pytest.raises(TypeError, match="must return an elementwise tfb.Bijector"):
        wrong.forward(tf.zeros([1, 4]))

