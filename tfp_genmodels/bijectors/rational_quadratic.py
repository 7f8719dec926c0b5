"""Monotone rational-quadratic spline with linear tails (Durkan et al., 2019).

On ``[-B, B]`` the map is a piecewise rational-quadratic function with ``K``
bins; knots ``(x_k, y_k)`` and derivatives ``d_k`` at the knots come from
unconstrained parameters (``K`` widths, ``K`` heights, ``K - 1`` interior
derivatives). With ``w_k = x_{k+1} - x_k``, ``h_k = y_{k+1} - y_k``,
``s_k = h_k / w_k`` and ``xi = (x - x_k) / w_k`` in bin ``k``::

    y = y_k + h_k [s_k xi^2 + d_k xi (1 - xi)] / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]
    dy/dx = s_k^2 [d_{k+1} xi^2 + 2 s_k xi (1 - xi) + d_k (1 - xi)^2]
            / [s_k + (d_{k+1} + d_k - 2 s_k) xi (1 - xi)]^2

The inverse solves the quadratic ``a xi^2 + b xi + c = 0`` for ``xi`` with
the root ``xi = 2c / (-b - sqrt(b^2 - 4ac))`` (stable: no cancellation).
Outside ``[-B, B]`` the map is the identity (boundary derivatives are 1, so
the density is continuous there), with log-det 0.

Zero parameters give equal bins and unit derivatives, hence the identity.

NaN safety: the spline branch is evaluated at the input *clipped* into
``[-B, B]``, then ``tf.where`` picks the tail. Without the clip, an input far
outside the range makes the unused branch non-finite, and ``tf.where``
propagates its NaN gradient (0 * inf) into the parameters, the NaN most
often reported against spline flows.
"""

from __future__ import annotations

import math

import tensorflow as tf

DEFAULT_MIN_BIN_WIDTH = 1e-3
DEFAULT_MIN_BIN_HEIGHT = 1e-3
DEFAULT_MIN_DERIVATIVE = 1e-3


def num_spline_params(num_bins: int) -> int:
    """Unconstrained parameters per element: K widths, K heights, K-1 slopes."""
    return 3 * num_bins - 1


def _knots(unnormalized, bound, min_size):
    """Softmax sizes with a floor, scaled to ``2B``; returns (knots, sizes)."""
    num_bins = unnormalized.shape[-1]
    # Softmax over a [-1, K] view: TF's CPU kernel refuses inputs of rank > 5
    # (an image batch with two batch dimensions reaches rank 6 here).
    probs = tf.reshape(tf.nn.softmax(tf.reshape(unnormalized, [-1, num_bins]), axis=-1),
                       tf.shape(unnormalized))
    sizes = min_size + (1.0 - min_size * num_bins) * probs
    sizes = 2.0 * bound * sizes
    cum = tf.cumsum(sizes, axis=-1)[..., :-1] - bound
    lo = -bound * tf.ones_like(sizes[..., :1])
    knots = tf.concat([lo, cum, -lo], axis=-1)  # endpoints exactly -B and B
    return knots, knots[..., 1:] - knots[..., :-1]


def _spline_parameters(params, bound, min_bin_width, min_bin_height, min_derivative):
    num_bins = (params.shape[-1] + 1) // 3
    uw, uh, ud = tf.split(params, [num_bins, num_bins, num_bins - 1], axis=-1)
    x_knots, widths = _knots(uw, bound, min_bin_width)
    y_knots, heights = _knots(uh, bound, min_bin_height)
    # softplus shifted so that a zero parameter gives derivative exactly 1.
    shift = math.log(math.expm1(1.0 - min_derivative))
    inner = min_derivative + tf.nn.softplus(ud + shift)
    ones = tf.ones_like(inner[..., :1])
    derivs = tf.concat([ones, inner, ones], axis=-1)
    return x_knots, widths, y_knots, heights, derivs


def _select_bin(value, knots, widths, other_knots, other_sizes, derivs):
    """Gathers the bin quantities for ``value`` with a one-hot (XLA-friendly)."""
    num_bins = widths.shape[-1]
    idx = tf.reduce_sum(tf.cast(value[..., None] >= knots[..., 1:-1], tf.int32), axis=-1)
    onehot = tf.one_hot(idx, num_bins, dtype=value.dtype)
    pick = lambda t: tf.reduce_sum(onehot * t, axis=-1)  # noqa: E731
    return (pick(knots[..., :-1]), pick(widths), pick(other_knots[..., :-1]),
            pick(other_sizes), pick(derivs[..., :-1]), pick(derivs[..., 1:]))


def rational_quadratic_spline(x: tf.Tensor, params: tf.Tensor, bound: float,
                              inverse: bool = False,
                              min_bin_width: float = DEFAULT_MIN_BIN_WIDTH,
                              min_bin_height: float = DEFAULT_MIN_BIN_HEIGHT,
                              min_derivative: float = DEFAULT_MIN_DERIVATIVE
                              ) -> tuple[tf.Tensor, tf.Tensor]:
    """Applies the spline (or its inverse) elementwise.

    Args:
      x: input, shape ``S``.
      params: unconstrained parameters, shape ``S + [3K - 1]``.
      bound: ``B``; the spline acts on ``[-B, B]``, identity outside.
      inverse: apply the inverse map.

    Returns:
      ``(output, log_det)``, both of shape ``S``: the elementwise
      ``log|d output / d x|``.
    """
    bound = tf.constant(bound, x.dtype)
    x_knots, widths, y_knots, heights, derivs = _spline_parameters(
        params, bound, min_bin_width, min_bin_height, min_derivative)
    inside = (x >= -bound) & (x <= bound)
    xc = tf.clip_by_value(x, -bound, bound)
    if not inverse:
        x_k, w, y_k, h, d0, d1 = _select_bin(xc, x_knots, widths, y_knots, heights, derivs)
        s = h / w
        xi = tf.clip_by_value((xc - x_k) / w, 0.0, 1.0)
    else:
        y_k, h, x_k, w, d0, d1 = _select_bin(xc, y_knots, heights, x_knots, widths, derivs)
        s = h / w
        dy = xc - y_k
        slope_sum = d1 + d0 - 2.0 * s
        a = h * (s - d0) + dy * slope_sum
        b = h * d0 - dy * slope_sum
        c = -s * dy
        disc = tf.maximum(b * b - 4.0 * a * c, 0.0)
        xi = tf.clip_by_value(2.0 * c / (-b - tf.sqrt(disc)), 0.0, 1.0)
    one_minus = 1.0 - xi
    mix = xi * one_minus
    denom = s + (d1 + d0 - 2.0 * s) * mix
    log_dydx = (2.0 * tf.math.log(s)
                + tf.math.log(d1 * xi * xi + 2.0 * s * mix + d0 * one_minus * one_minus)
                - 2.0 * tf.math.log(denom))
    if not inverse:
        out = y_k + h * (s * xi * xi + d0 * mix) / denom
        log_det = log_dydx
    else:
        out = x_k + xi * w
        log_det = -log_dydx
    return tf.where(inside, out, x), tf.where(inside, log_det, tf.zeros_like(log_det))
