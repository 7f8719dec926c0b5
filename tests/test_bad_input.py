"""Bad input raises a clear error naming the argument, expected and received value."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfp_genmodels import bijectors as B


def test_mask_shape_mismatch():
    with pytest.raises(ValueError, match=r"`mask`.*\(4,\).*\(3,\)"):
        B.AffineCoupling([4], mask=np.array([1, 0, 1]))


def test_mask_name_for_wrong_rank_and_unknown_name():
    with pytest.raises(ValueError, match=r"`mask`='checkerboard'.*\[H, W, C\].*\(4,\)"):
        B.AffineCoupling([4], mask="checkerboard")
    with pytest.raises(ValueError, match=r"`mask` must be one of.*'diagonal'"):
        B.AffineCoupling([4], mask="diagonal")
    with pytest.raises(ValueError, match=r"`mask` must contain both"):
        B.AffineCoupling([3], mask=np.ones(3))


@pytest.mark.parametrize("num_bins", [0, -3])
def test_non_positive_num_bins(num_bins):
    with pytest.raises(ValueError, match=rf"`num_bins` must be a positive int; got {num_bins}"):
        B.SplineCoupling([4], num_bins=num_bins)


def test_non_integer_num_bins():
    with pytest.raises(TypeError, match=r"`num_bins` must be a positive int; got 2.5"):
        B.SplineCoupling([4], num_bins=2.5)


def test_squeeze_odd_height():
    with pytest.raises(ValueError, match=r"`x`: height must be divisible by.*2; got height 5"):
        B.Squeeze().forward(tf.zeros([1, 5, 4, 1]))
    with pytest.raises(ValueError, match=r"`event_shape`: height .* got height 3"):
        B.Squeeze(event_shape=[3, 4, 1])


@pytest.mark.parametrize("make, bad_shape", [
    (lambda: B.AffineCoupling([4], hidden_units=[4]), [2, 5]),
    (lambda: B.AffineCoupling([4, 4, 2], hidden_units=[4]), [2, 4, 2]),
    (lambda: B.InvertibleLinear([3]), [2, 4]),
    (lambda: B.ActNorm([2, 2, 3]), [2, 2, 3, 4]),
    (lambda: B.Planar(tf.ones([3]), tf.ones([3]), 0.0), [2, 4]),
], ids=["affine_vector", "affine_image_rank", "linear", "actnorm", "planar"])
def test_wrong_event_shape_at_call_time(make, bad_shape):
    bij = make()
    with pytest.raises(ValueError, match=r"`[xy]` must have .*(rank|dimension|shape)"):
        bij.forward(tf.zeros(bad_shape))


def test_actnorm_bad_input_leaves_it_uninitialised():
    bij = B.ActNorm([3])
    with pytest.raises(ValueError, match=r"`y` must have trailing \(event\) shape \(3,\)"):
        bij.inverse(tf.zeros([4, 5]))
    assert not bool(bij.initialized.numpy())


def test_context_errors():
    conditional = B.AffineCoupling([4], hidden_units=[4], context_shape=[2])
    with pytest.raises(ValueError, match=r"`context` of shape \[..., 2\] is required"):
        conditional.forward(tf.zeros([3, 4]))
    with pytest.raises(ValueError, match=r"`context` must have trailing \(event\) shape \(2,\)"):
        conditional.forward(tf.zeros([3, 4]), context=tf.zeros([3, 5]))
    plain = B.AffineCoupling([4], hidden_units=[4])
    with pytest.raises(ValueError, match=r"`context` was given to a coupling built without"):
        plain.forward(tf.zeros([3, 4]), context=tf.zeros([3, 2]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(event_shape=[0]), r"`event_shape` must be a non-empty shape of positive ints"),
    (dict(event_shape=[4, 4]), r"`event_shape` must have rank in \(1, 3\); got \(4, 4\)"),
    (dict(event_shape=[4], log_scale_clamp=-1.0), r"`log_scale_clamp` must be a finite positive"),
])
def test_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        B.AffineCoupling(hidden_units=[4], **kwargs)


def test_logit_alpha_and_linear_matrix():
    with pytest.raises(ValueError, match=r"`alpha` must be in \[0, 0.5\); got 0.5"):
        B.Logit(alpha=0.5)
    with pytest.raises(ValueError, match=r"`initial_matrix` must have shape \(3, 3\).*\(2, 2\)"):
        B.InvertibleLinear([3], initial_matrix=np.eye(2))
    with pytest.raises(ValueError, match=r"`initial_matrix` must be invertible"):
        B.InvertibleLinear([2], initial_matrix=np.ones((2, 2)))
