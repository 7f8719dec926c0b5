"""Planar flow (Rezende & Mohamed, 2015) with a numerical inverse."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._validation import TensorLike, nonnegative_int_arg, positive_int_arg
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector
from tfp_genmodels.bijectors._params import (
    check_same_event_size,
    check_vector_param,
    convert_params,
    finite_assertions,
    parameter_properties,
)

tfb = tfp.bijectors

#: Halvings of the inverse's bracket of width 2|w.u_hat|: 2^-64 of it is below
#: float64 resolution.
BISECTION_STEPS = 64
#: Newton steps that polish the bisection's root (quadratic convergence).
NEWTON_STEPS = 2


class Planar(GreedyLogDetBijector):
    """Planar flow ``y = x + u_hat * tanh(w.x + b)``.

    Invertibility needs ``w.u >= -1``; as in the paper, ``u`` is replaced by
    ``u_hat = u + (m(w.u) - w.u) w / |w|^2`` with ``m(a) = -1 + softplus(a)``,
    so ``w.u_hat = m(w.u) > -1`` for every ``u``. With ``h = tanh``::

        Forward:  y = x + u_hat h(w.x + b)
        log|det dy/dx| = log|1 + h'(w.x + b) w.u_hat|
        Inverse:  a = w.x + b solves the 1-D monotone equation
                  a + (w.u_hat) h(a) = w.y + b,   then x = y - u_hat h(a)

    ``a`` lies in ``[c - |w.u_hat|, c + |w.u_hat|]`` (``c = w.y + b``, since
    ``|h| <= 1``); it is found by bisection on that bracket (64 halvings) and
    polished by Newton steps, inside ``tf.while_loop`` so it traces and
    XLA-compiles. The log-det of the inverse is ``-fldj(inverse(y))``, from the
    same pass (each parameter is read once per call).

    Parameters may carry batch dimensions (amortised by an encoder in a VAE)
    that broadcast against the input's batch; they are the bijector's batch
    shape (``u``, ``w``: event rank 1, ``b``: 0), as for TFP's own bijectors.
    With ``validate_args=True`` the parameters are checked to be finite (the
    reparameterisation makes every finite value invertible).

    Args:
      u: ``[..., D]`` (unconstrained; see ``u_hat``).
      w: ``[..., D]``.
      b: ``[...]`` scalar bias per batch member.
      bisection_steps: halvings of the inverse's bracket.
      newton_steps: Newton steps after the bisection.

    References:
      Rezende & Mohamed. Variational Inference with Normalizing Flows. 2015.
      arXiv:1505.05770.
    """

    def __init__(self, u: TensorLike, w: TensorLike, b: TensorLike,
                 bisection_steps: int = BISECTION_STEPS, newton_steps: int = NEWTON_STEPS,
                 validate_args: bool = False, name: str = "planar"):
        parameters = dict(locals())
        self._bisection_steps = positive_int_arg(bisection_steps, "bisection_steps")
        self._newton_steps = nonnegative_int_arg(newton_steps, "newton_steps")
        with tf.name_scope(name) as scope_name:
            dtype, p = convert_params({"u": u, "w": w, "b": b})
            self._u, self._w, self._b = p["u"], p["w"], p["b"]
            check_vector_param(self._u, "u")
            check_vector_param(self._w, "w")
            if self._u.shape[-1] != self._w.shape[-1]:
                raise ValueError(f"`u` and `w` must have the same last dimension; got "
                                 f"shapes {self._u.shape.as_list()} and "
                                 f"{self._w.shape.as_list()}.")
            super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                             dtype=dtype, parameters=parameters, name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        return parameter_properties(u=1, w=1, b=0)

    def _parameter_control_dependencies(self, is_init):
        return finite_assertions(self, is_init, {"u": self._u, "w": self._w, "b": self._b})

    @property
    def u(self) -> tf.Tensor:
        return self._u

    @property
    def w(self) -> tf.Tensor:
        return self._w

    @property
    def b(self) -> tf.Tensor:
        return self._b

    def _constrained(self):
        """Reads each parameter once: ``(u_hat, w, b, w.u_hat)``."""
        u, w = tf.convert_to_tensor(self._u), tf.convert_to_tensor(self._w)
        wu = tf.reduce_sum(w * u, axis=-1, keepdims=True)
        m_wu = -1.0 + tf.nn.softplus(wu)
        # At w = 0 the map is the identity whatever the correction; divide_no_nan
        # keeps that case finite (values and gradients) instead of 0/0.
        u_hat = u + (m_wu - wu) * tf.math.divide_no_nan(
            w, tf.reduce_sum(w * w, axis=-1, keepdims=True))
        w_u_hat = tf.reduce_sum(w * u_hat, axis=-1)
        return u_hat, w, tf.convert_to_tensor(self._b), w_u_hat

    def u_hat(self) -> tf.Tensor:
        """The constrained ``u_hat`` with ``w.u_hat = -1 + softplus(w.u) > -1``."""
        return self._constrained()[0]

    def _augmented_forward(self, x):
        check_same_event_size(x, self._u.shape[-1], "x")
        u_hat, w, b, wu = self._constrained()
        t = tf.tanh(tf.reduce_sum(w * x, axis=-1) + b)
        fldj = tf.math.log1p((1.0 - t * t) * wu)
        return x + u_hat * t[..., None], {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y):
        check_same_event_size(y, self._u.shape[-1], "y")
        u_hat, w, b, wu = self._constrained()
        c = tf.reduce_sum(w * y, axis=-1) + b
        wu, c = wu + tf.zeros_like(c), c + tf.zeros_like(wu)
        radius = tf.abs(wu)
        g = lambda a: a + wu * tf.tanh(a) - c  # noqa: E731  (increasing in a)

        def bisect(lo, hi):
            mid = 0.5 * (lo + hi)
            above = g(mid) > 0.0
            return tf.where(above, lo, mid), tf.where(above, mid, hi)

        lo, hi = tf.while_loop(lambda lo, hi: True, bisect, (c - radius, c + radius),
                               maximum_iterations=self._bisection_steps)
        a = 0.5 * (lo + hi)
        for _ in range(self._newton_steps):  # Newton polish; g' = 1 + wu h'(a) > 0
            t = tf.tanh(a)
            a = a - g(a) / (1.0 + wu * (1.0 - t * t))
        t = tf.tanh(a)  # a = w.x + b at the solution x
        ildj = -tf.math.log1p((1.0 - t * t) * wu)
        return y - u_hat * t[..., None], {"ildj": ildj, "fldj": -ildj}
