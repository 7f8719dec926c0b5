"""Uniform dequantisation of integer data and the change of measure for bits/dim.

Discrete data ``x in {0, ..., K-1}^D`` (e.g. pixels, ``K = 256``) has no
density; a continuous flow is fitted to ``y = x + u`` with ``u ~ U[0, 1)^D``.
For any density ``p`` on ``[0, K]^D``, Jensen's inequality gives the discrete
probability a bound (Theis et al., 2016)::

    log P(x) = log integral_{[0,1)^D} p(x + u) du  >=  E_u[log p(x + u)]

so ``-log p(x + u)`` averaged over ``u`` upper-bounds the discrete NLL, and
``bits/dim = -log p(x + u) / (D log 2)``. Flows usually model ``v = y / K`` in
``[0, 1]^D``; the density in pixel units is then

    log p_y(y) = log p_v(y / K) - D log K

which is what :class:`Dequantize` adds as a bijector (forward ``v -> K v``),
so a flow's ``log_prob`` refers to the user's integer-valued data.

References:
  Theis, van den Oord & Bethge. A note on the evaluation of generative
  models. 2016. arXiv:1511.01844.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation
from tfp_genmodels._validation import TensorLike

tfb = tfp.bijectors


class Dequantize(tfb.Bijector):
    """Scale from the unit cube to the data's ``K`` levels: the change of measure.

    ::

        Forward:  y = K v              (v in [0, 1] -> y in [0, K], pixel units)
        Inverse:  v = y / K
        log|dy/dv| = log K             (elementwise; D log K per event)

    Chain it after the unit-cube part of a flow and feed it dequantised data
    ``x + u`` (:func:`uniform_dequantize`); the flow's ``log_prob`` is then
    the density of ``x + u``, whose mean over ``u`` lower-bounds
    ``log P(x)`` (module docstring).

    The map is TFP's ``tfb.Scale(K)``; this class adds the name ``num_levels``
    and the range checks. Monotone increasing, with a constant Jacobian. With
    ``validate_args=True``, ``forward`` checks ``v`` in ``[0, 1]`` and
    ``inverse`` checks ``y`` in ``[0, K]``.

    Args:
      num_levels: ``K``, the number of discrete values (256 for 8-bit pixels).
    """

    def __init__(self, num_levels: int = 256, validate_args: bool = False,
                 name: str = "dequantize"):
        parameters = dict(locals())
        self._num_levels = _validation.positive_int_arg(num_levels, "num_levels")
        with tf.name_scope(name) as scope_name:
            super().__init__(forward_min_event_ndims=0, is_constant_jacobian=True,
                             validate_args=validate_args, parameters=parameters,
                             name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        return {}  # Python-number parameters only: scalar batch shape

    @property
    def num_levels(self) -> int:
        return self._num_levels

    @classmethod
    def _is_increasing(cls, **kwargs) -> bool:
        return True

    def _range_checks(self, t, upper, name):
        if not self.validate_args:
            return []
        message = f"Dequantize: `{name}` must lie in [0, {upper:g}]."
        return [tf.debugging.assert_non_negative(t, message=message),
                tf.debugging.assert_less_equal(t, tf.constant(upper, t.dtype),
                                               message=message)]

    def _scale(self, dtype):
        return tfb.Scale(tf.constant(self._num_levels, dtype))

    def _forward(self, x):
        with tf.control_dependencies(self._range_checks(x, 1.0, "x")):
            return self._scale(x.dtype).forward(x)

    def _inverse(self, y):
        with tf.control_dependencies(self._range_checks(y, float(self._num_levels), "y")):
            return self._scale(y.dtype).inverse(y)

    def _forward_log_det_jacobian(self, x):
        return self._scale(x.dtype).forward_log_det_jacobian(x, event_ndims=0)


def uniform_dequantize(x: tf.Tensor, seed: TensorLike | None = None,
                       dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Returns ``x + u``, ``u ~ U[0, 1)`` elementwise, for integer-valued ``x``.

    Args:
      x: integer-valued data (any int or float dtype), e.g. pixels in 0..255.
      seed: optional stateless seed (a shape-[2] int tensor) for reproducibility;
        ``None`` draws from the global generator.
      dtype: floating dtype of the result.
    """
    x = tf.cast(x, dtype)
    if seed is None:
        noise = tf.random.uniform(tf.shape(x), dtype=dtype)
    else:
        # Philox explicitly: "auto_select" picks another algorithm under XLA, so
        # the same seed would give other noise with jit_compile=True.
        noise = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=dtype, alg="philox")
    return x + noise


def bits_per_dim(log_prob: tf.Tensor, num_dims: int) -> tf.Tensor:
    """Converts a log-likelihood in nats per example to bits per dimension.

    ``bits/dim = -log_prob / (D log 2)``. For dequantised discrete data pass
    the log density in the data's own units (see the module docstring).
    """
    num_dims = _validation.positive_int_arg(num_dims, "num_dims")
    log_prob = tf.convert_to_tensor(log_prob)
    return -log_prob / tf.constant(num_dims * math.log(2.0), log_prob.dtype)


def unit_cube_to_discrete_log_prob(log_prob_unit: tf.Tensor, num_dims: int,
                                   num_levels: int = 256) -> tf.Tensor:
    """``log p_v(v) - D log K``: a density on ``[0,1]^D`` to the pixel-unit density.

    Its mean over the dequantisation noise lower-bounds ``log P(x)``.
    """
    num_dims = _validation.positive_int_arg(num_dims, "num_dims")
    num_levels = _validation.positive_int_arg(num_levels, "num_levels")
    log_prob_unit = tf.convert_to_tensor(log_prob_unit)
    return log_prob_unit - tf.constant(num_dims * math.log(num_levels), log_prob_unit.dtype)
