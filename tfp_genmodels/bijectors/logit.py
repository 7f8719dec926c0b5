"""The alpha-squeezed logit transform for data in [0, 1]."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._tfp_compat import ParameterProperties

tfb = tfp.bijectors


class Logit(tfb.Bijector):
    """``y = logit(alpha + (1 - 2 alpha) x)``: maps ``[0, 1]`` to the real line.

    Squeezing by ``alpha`` keeps pixel values 0 and 1 away from ``-inf``/``inf``
    (RealNVP uses ``alpha = 0.05`` on images). With ``p = alpha + (1 - 2 alpha) x``::

        Forward:  y = log p - log(1 - p)
        Inverse:  x = (sigmoid(y) - alpha) / (1 - 2 alpha)
        log|dy/dx| = log(1 - 2 alpha) - log p - log(1 - p)        (elementwise)
        log|dx/dy| = -log(1 - 2 alpha) - softplus(-y) - softplus(y)

    ``1 - p`` is computed as ``alpha + (1 - 2 alpha)(1 - x)`` so no precision is
    lost near ``x = 1``. Elementwise (``forward_min_event_ndims = 0``). In a
    flow whose forward maps base to data, use ``tfb.Invert(Logit(...))``.

    Monotone increasing (``_is_increasing``), so a ``TransformedDistribution``
    through it has a ``cdf``. With ``validate_args=True``, ``forward`` and its
    log-det check that ``x`` lies in ``[0, 1]`` (``(0, 1)`` when ``alpha = 0``).

    ``alpha`` may be an array (one squeeze per element): the bijector then has
    that batch shape (``experimental_batch_shape``), as TFP's bijectors with
    array parameters do.

    Args:
      alpha: the squeeze, in ``[0, 0.5)``: a float or an array of them.

    References:
      Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP. 2017.
      arXiv:1605.08803, section 4.1.
    """

    def __init__(self, alpha: float | np.ndarray = 0.05, validate_args: bool = False,
                 name: str = "logit"):
        parameters = dict(locals())
        try:
            values = np.asarray(alpha, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(f"`alpha` must be a float (or an array of floats) in [0, 0.5); "
                            f"got {alpha!r}.") from err
        if values.size == 0 or not np.all((values >= 0.0) & (values < 0.5)):
            raise ValueError(f"`alpha` must be in [0, 0.5); got {alpha}.")
        # A Python float when scalar: equal squeezes give equal bijectors (TFP's cache).
        self._alpha = float(values) if values.ndim == 0 else values
        with tf.name_scope(name) as scope_name:
            super().__init__(forward_min_event_ndims=0, validate_args=validate_args,
                             parameters=parameters, name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        # Elementwise: an array `alpha` is a batch of bijectors.
        return {"alpha": ParameterProperties()}

    @property
    def alpha(self) -> float | np.ndarray:
        return self._alpha

    @classmethod
    def _is_increasing(cls, **kwargs) -> bool:
        return True

    def _domain_checks(self, x):
        if not self.validate_args:
            return []
        a = tf.constant(self._alpha, x.dtype)
        inside = tf.logical_and(x >= 0.0, x <= 1.0)
        # alpha = 0: 0 and 1 map to -inf / inf, so the domain is open there.
        open_ok = tf.logical_or(a > 0.0, tf.logical_and(x > 0.0, x < 1.0))
        zero = np.asarray(self._alpha) == 0.0
        domain = ("(0, 1)" if zero.all() else
                  "[0, 1] ((0, 1) where alpha = 0)" if zero.any() else "[0, 1]")
        message = (f"Logit: `x` must lie in {domain} (alpha={self._alpha}); values outside "
                   "map to NaN or inf.")
        return [tf.debugging.Assert(tf.reduce_all(tf.logical_and(inside, open_ok)),
                                    [message])]

    def _forward(self, x):
        with tf.control_dependencies(self._domain_checks(x)):
            return self._logit(x)

    def _logit(self, x):
        a = tf.constant(self._alpha, x.dtype)
        p = a + (1.0 - 2.0 * a) * x
        one_minus_p = a + (1.0 - 2.0 * a) * (1.0 - x)
        return tf.math.log(p) - tf.math.log(one_minus_p)

    def _inverse(self, y):
        a = tf.constant(self._alpha, y.dtype)
        return (tf.sigmoid(y) - a) / (1.0 - 2.0 * a)

    def _forward_log_det_jacobian(self, x):
        with tf.control_dependencies(self._domain_checks(x)):
            return self._log_slope(x)

    def _log_slope(self, x):
        a = tf.constant(self._alpha, x.dtype)
        p = a + (1.0 - 2.0 * a) * x
        one_minus_p = a + (1.0 - 2.0 * a) * (1.0 - x)
        return tf.math.log1p(-2.0 * a) - tf.math.log(p) - tf.math.log(one_minus_p)

    def _inverse_log_det_jacobian(self, y):
        a = tf.constant(self._alpha, y.dtype)
        return -tf.math.log1p(-2.0 * a) - tf.nn.softplus(-y) - tf.nn.softplus(y)
