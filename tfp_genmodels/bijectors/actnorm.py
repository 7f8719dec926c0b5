"""Activation normalisation (Glow)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation
from tfp_genmodels.bijectors import _params
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector

tfb = tfp.bijectors


class ActNorm(GreedyLogDetBijector):
    """Per-channel affine map with data-dependent initialisation (Glow's ActNorm).

    Channels are the last axis; for an event ``[H, W, C]`` (or ``[C]``, where
    ``H*W`` reads as 1) with per-channel log-scale ``log s`` and location ``b``::

        Forward:  y = x * s + b                      (base -> data)
        Inverse:  x = (y - b) / s                    (data -> base)
        log|det dy/dx| = H * W * sum_c log s_c = -log|det dx/dy|

    Data-dependent initialisation: the first call in the data-to-base
    direction (``inverse`` or ``inverse_log_det_jacobian``) sets ``b`` to the
    per-channel mean and ``s`` to the per-channel standard deviation of that
    batch, so the normalised activations have zero mean and unit variance per
    channel. It is a ``tf.cond`` on a boolean variable, so it runs inside
    ``tf.function`` and with an unknown batch size, exactly once. Calls of
    ``forward`` before that use the current values (the identity).
    Call :meth:`initialize` to initialise explicitly from data.

    The parameters change at that first call, so anything computed earlier
    (including TFP's bijector cache of an earlier ``forward``, e.g. of a
    sample) refers to the old values: initialise before sampling.

    The Jacobian is constant in ``x`` (``is_constant_jacobian``), so
    ``TransformedDistribution.mean`` works through it. With
    ``validate_args=True`` every call checks that ``loc`` and ``log_scale`` are
    finite (a scale of 0 or inf is not invertible).

    Args:
      event_shape: ``[C]`` or ``[H, W, C]``.
      epsilon: added to the variance before the square root.
      dtype: dtype of the variables.

    References:
      Kingma & Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. 2018. arXiv:1807.03039.
    """

    def __init__(self, event_shape: Sequence[int], epsilon: float = 1e-6,
                 dtype: tf.DType = tf.float32, validate_args: bool = False,
                 name: str = "act_norm"):
        parameters = dict(locals())
        self._event_shape = _validation.event_shape_arg(event_shape)
        self._epsilon = _validation.positive_float_arg(epsilon, "epsilon")
        channels = self._event_shape[-1]
        self._spatial_size = int(np.prod(self._event_shape[:-1]))
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as scope_name:
            self.loc = tf.Variable(tf.zeros([channels], dtype), name="loc")
            self.log_scale = tf.Variable(tf.zeros([channels], dtype), name="log_scale")
            self.initialized = tf.Variable(False, trainable=False, name="initialized")
            super().__init__(forward_min_event_ndims=len(self._event_shape),
                             is_constant_jacobian=True,
                             validate_args=validate_args, dtype=dtype,
                             parameters=parameters, name=scope_name)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _parameter_control_dependencies(self, is_init):
        # A scale of 0 or inf (log-scale -inf / inf) is not invertible.
        return _params.finite_assertions(self, is_init,
                                         {"loc": self.loc, "log_scale": self.log_scale})

    def initialize(self, y: tf.Tensor) -> None:
        """Sets ``loc`` and ``log_scale`` from the data batch ``y`` (data space)."""
        y = tf.convert_to_tensor(y, self.dtype)
        _validation.check_event_shape(y, self._event_shape, "y")
        axes = list(range(y.shape.rank - 1))
        mean, variance = tf.nn.moments(y, axes=axes)
        self.loc.assign(mean)
        self.log_scale.assign(0.5 * tf.math.log(variance + self._epsilon))
        self.initialized.assign(True)

    def _maybe_initialize(self, y):
        # Static shape checks first so that bad input fails before any state changes.
        _validation.check_event_shape(y, self._event_shape, "y")

        def init():
            self.initialize(y)
            return tf.constant(True)

        tf.cond(self.initialized, lambda: tf.constant(False), init)

    def _log_det(self, x, log_scale):
        return _params.constant_log_det(
            x, len(self._event_shape), self._spatial_size * tf.reduce_sum(log_scale))

    def _augmented_forward(self, x):
        _validation.check_event_shape(x, self._event_shape, "x")
        log_scale = tf.convert_to_tensor(self.log_scale)  # read once
        fldj = self._log_det(x, log_scale)
        return x * tf.exp(log_scale) + self.loc, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y):
        self._maybe_initialize(y)
        log_scale = tf.convert_to_tensor(self.log_scale)  # read once, after the init
        ildj = -self._log_det(y, log_scale)
        return (y - self.loc) * tf.exp(-log_scale), {"ildj": ildj, "fldj": -ildj}
