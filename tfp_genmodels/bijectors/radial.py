"""Radial flow (Rezende & Mohamed, 2015) with an exact inverse."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._validation import TensorLike
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector
from tfp_genmodels.bijectors._params import (
    check_same_event_size,
    check_vector_param,
    convert_params,
    finite_assertions,
    parameter_properties,
)

tfb = tfp.bijectors


def _safe_norm(v):
    """Euclidean norm over the last axis whose gradient is finite at 0."""
    sq = tf.reduce_sum(v * v, axis=-1)
    positive = sq > 0.0
    return tf.where(positive, tf.sqrt(tf.where(positive, sq, tf.ones_like(sq))),
                    tf.zeros_like(sq))


class Radial(GreedyLogDetBijector):
    """Radial flow ``y = x + beta h(alpha, r) (x - x0)``, ``r = |x - x0|``, ``h = 1/(alpha + r)``.

    Constraints (invertibility needs ``beta >= -alpha``, ``alpha > 0``) are
    enforced by reparameterisation of unconstrained inputs:
    ``alpha = softplus(alpha_raw)``, ``beta = -alpha + softplus(beta_raw)``. In
    ``D`` dimensions::

        Forward:  y = x + beta / (alpha + r) (x - x0)
        log|det dy/dx| = (D - 1) log(1 + beta h) + log(1 + beta h + beta h'(r) r)
                       = (D - 1) log(1 + beta h) + log(1 + beta alpha h^2)
        Inverse:  rho = |y - x0| = r (1 + beta / (alpha + r)), monotone in r; the
                  1-D equation is the quadratic r^2 + (alpha + beta - rho) r - rho alpha = 0,
                  whose positive root is taken in its cancellation-free form, then
                  x = x0 + (y - x0) / (1 + beta / (alpha + r)).

    Parameters may carry batch dimensions (amortised by an encoder): the
    bijector's batch shape (``center``: event rank 1, ``alpha``, ``beta``: 0).
    With ``validate_args=True`` they are checked to be finite (the
    reparameterisation makes every finite value invertible).

    Args:
      center: ``x0``, shape ``[..., D]``.
      alpha: unconstrained ``alpha_raw``, shape ``[...]``.
      beta: unconstrained ``beta_raw``, shape ``[...]``.

    References:
      Rezende & Mohamed. Variational Inference with Normalizing Flows. 2015.
      arXiv:1505.05770.
    """

    def __init__(self, center: TensorLike, alpha: TensorLike, beta: TensorLike,
                 validate_args: bool = False,
                 name: str = "radial"):
        parameters = dict(locals())
        with tf.name_scope(name) as scope_name:
            dtype, p = convert_params({"center": center, "alpha": alpha, "beta": beta})
            self._center, self._alpha, self._beta = p["center"], p["alpha"], p["beta"]
            check_vector_param(self._center, "center")
            super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                             dtype=dtype, parameters=parameters, name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        return parameter_properties(center=1, alpha=0, beta=0)

    def _parameter_control_dependencies(self, is_init):
        return finite_assertions(self, is_init, {"center": self._center, "alpha": self._alpha,
                                                 "beta": self._beta})

    def constrained_parameters(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns ``(alpha, beta)`` with ``alpha > 0`` and ``beta > -alpha``."""
        alpha = tf.nn.softplus(self._alpha)
        return alpha, -alpha + tf.nn.softplus(self._beta)

    @staticmethod
    def _log_det(alpha, beta, r, dim):
        h = 1.0 / (alpha + r)
        return (dim - 1.0) * tf.math.log1p(beta * h) + tf.math.log1p(beta * alpha * h * h)

    def _augmented_forward(self, x):
        check_same_event_size(x, self._center.shape[-1], "x")
        alpha, beta = self.constrained_parameters()
        diff = x - self._center
        r = _safe_norm(diff)
        fldj = self._log_det(alpha, beta, r, tf.cast(tf.shape(x)[-1], x.dtype))
        return x + (beta / (alpha + r))[..., None] * diff, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y):
        check_same_event_size(y, self._center.shape[-1], "y")
        alpha, beta = self.constrained_parameters()
        center = tf.convert_to_tensor(self._center)  # read once
        diff = y - center
        rho = _safe_norm(diff)
        p = alpha + beta - rho
        root = tf.sqrt(p * p + 4.0 * rho * alpha)
        # Both branches are the positive root; each avoids cancellation where used.
        safe_den = tf.where(p >= 0.0, p + root, tf.ones_like(root))
        r = tf.where(p >= 0.0, 2.0 * rho * alpha / safe_den, 0.5 * (root - p))
        ildj = -self._log_det(alpha, beta, r, tf.cast(tf.shape(y)[-1], y.dtype))
        x = center + diff / (1.0 + beta / (alpha + r))[..., None]
        return x, {"ildj": ildj, "fldj": -ildj}
