"""Householder flow (Tomczak & Welling, 2016)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels._validation import TensorLike
from tfp_genmodels.bijectors._params import (
    check_same_event_size,
    check_vector_param,
    convert_params,
    parameter_properties,
    values_to_check,
)
from tfp_genmodels.bijectors._stateful import StatefulBijector

tfb = tfp.bijectors


class Householder(StatefulBijector, tfb.Bijector):
    """Householder reflection ``y = (I - 2 v v^T / |v|^2) x``.

    ::

        Forward:  y = x - 2 v (v.x) / (v.v)
        Inverse:  x = y - 2 v (v.y) / (v.v)      (a reflection is its own inverse)
        log|det dy/dx| = 0                        (orthogonal, det = -1)

    A chain of K reflections with ``v`` amortised by the encoder gives a
    volume-preserving, full-covariance refinement of a diagonal Gaussian
    posterior.

    ``v`` may carry batch dimensions (the bijector's batch shape; event rank
    1). With ``validate_args=True``, ``v`` is checked to be non-zero and finite.
    The reflection itself is TFP's ``tfb.Householder`` on ``v / |v|``; this
    class adds the unnormalised parameter, the checks and the shape errors.

    Args:
      v: the reflection vector, ``[..., D]``, non-zero.

    References:
      Tomczak & Welling. Improving Variational Auto-Encoders using
      Householder Flow. 2016. arXiv:1611.09630.
    """

    def __init__(self, v: TensorLike, validate_args: bool = False, name: str = "householder"):
        parameters = dict(locals())
        with tf.name_scope(name) as scope_name:
            dtype, p = convert_params({"v": v})
            self._v = p["v"]
            check_vector_param(self._v, "v")
            super().__init__(forward_min_event_ndims=1, is_constant_jacobian=True,
                             validate_args=validate_args, dtype=dtype,
                             parameters=parameters, name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        return parameter_properties(v=1)

    def _parameter_control_dependencies(self, is_init):
        checks = []
        for v in values_to_check(self, is_init, {"v": self._v}).values():
            checks += [tf.debugging.assert_all_finite(v, "Householder: `v` must be finite."),
                       tf.debugging.assert_positive(
                           tf.reduce_sum(v * v, axis=-1),
                           message="Householder: `v` must be non-zero (a reflection needs a "
                                   "normal vector).")]
        return checks

    @property
    def v(self) -> tf.Tensor:
        return self._v

    def _reflect(self, x, name):
        check_same_event_size(x, self._v.shape[-1], name)
        # TFP's reflection wants a unit normal; ours takes any non-zero v.
        unit_normal = tf.math.l2_normalize(tf.convert_to_tensor(self._v), axis=-1)
        return tfb.Householder(reflection_axis=unit_normal).forward(x)

    def _forward(self, x):
        return self._reflect(x, "x")

    def _inverse(self, y):
        return self._reflect(y, "y")

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], dtype=x.dtype)
