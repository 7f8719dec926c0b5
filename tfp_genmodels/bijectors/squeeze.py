"""Space-to-depth squeeze for multi-scale image flows."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation

tfb = tfp.bijectors


class Squeeze(tfb.Bijector):
    """Trades spatial resolution for channels: ``[H, W, C] <-> [H/f, W/f, f*f*C]``.

    ::

        Forward:  y[i, j, (a*f + b)*C + c] = x[f*i + a, f*j + b, c]   (tf.nn.space_to_depth)
        Inverse:  the reverse rearrangement                          (tf.nn.depth_to_space)
        log|det dy/dx| = 0                                           (a permutation)

    In a flow built in TFP's direction (forward: base -> data) the squeeze
    sits inside ``tfb.Invert`` or is applied in the data-to-base direction,
    as in RealNVP's and Glow's multi-scale architectures.

    Shapes are computed with int32 tensors from ``tf.shape``, so any batch
    shape, including an unknown batch dimension inside ``tf.function``, works
    (``tfb.Glow``'s squeeze builds int64 shapes and fails there).

    Args:
      factor: the spatial factor ``f`` (default 2).
      event_shape: optional ``[H, W, C]`` to validate at construction;
        otherwise the static shape is validated at call time.

    References:
      Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP. 2017.
      arXiv:1605.08803.
    """

    def __init__(self, factor: int = 2, event_shape: Sequence[int] | None = None,
                 validate_args: bool = False, name: str = "squeeze"):
        parameters = dict(locals())
        self._factor = _validation.positive_int_arg(factor, "factor")
        self._event_shape = None
        if event_shape is not None:
            self._event_shape = _validation.event_shape_arg(event_shape, ranks=(3,))
            self._check_divisible(self._event_shape, "event_shape")
        with tf.name_scope(name) as scope_name:
            super().__init__(forward_min_event_ndims=3, is_constant_jacobian=True,
                             validate_args=validate_args, parameters=parameters,
                             name=scope_name)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        return {}  # Python-number parameters only: scalar batch shape

    @property
    def factor(self) -> int:
        return self._factor

    def _check_divisible(self, shape, name):
        h, w = shape[0], shape[1]
        for axis, size in (("height", h), ("width", w)):
            if size is not None and size % self._factor != 0:
                raise ValueError(f"`{name}`: {axis} must be divisible by the squeeze "
                                 f"factor {self._factor}; got {axis} {size} in shape "
                                 f"{list(shape)}.")

    def _check_input(self, x, name, squeezed):
        shape = x.shape
        if shape.rank is not None and shape.rank < 3:
            raise ValueError(f"`{name}` must have rank >= 3 ([..., H, W, C]); got "
                             f"shape {shape.as_list()}.")
        if shape.rank is None:
            return
        event = shape[-3:].as_list()
        if squeezed:
            c = event[2]
            if c is not None and c % (self._factor ** 2) != 0:
                raise ValueError(f"`{name}`: channels must be divisible by "
                                 f"{self._factor ** 2}; got shape {shape.as_list()}.")
        else:
            self._check_divisible(event, name)
        if self._event_shape is not None:
            expected = (self._event_shape if not squeezed else
                        self._forward_event_shape(tf.TensorShape(self._event_shape)))
            _validation.check_event_shape(x, list(expected), name)

    def _reshape_batch(self, x, fn):
        batch_shape = tf.shape(x)[:-3]
        flat = tf.reshape(x, tf.concat([[-1], tf.shape(x)[-3:]], axis=0))
        out = fn(flat)
        return tf.reshape(out, tf.concat([batch_shape, tf.shape(out)[1:]], axis=0))

    def _forward(self, x):
        self._check_input(x, "x", squeezed=False)
        return self._reshape_batch(x, lambda t: tf.nn.space_to_depth(t, self._factor))

    def _inverse(self, y):
        self._check_input(y, "y", squeezed=True)
        return self._reshape_batch(y, lambda t: tf.nn.depth_to_space(t, self._factor))

    def _forward_log_det_jacobian(self, x):
        return tf.zeros([], dtype=x.dtype)

    def _forward_event_shape(self, input_shape):
        h, w, c = tf.TensorShape(input_shape)[-3:].as_list()
        f = self._factor
        return tf.TensorShape([None if h is None else h // f,
                               None if w is None else w // f,
                               None if c is None else c * f * f])

    def _inverse_event_shape(self, output_shape):
        h, w, c = tf.TensorShape(output_shape)[-3:].as_list()
        f = self._factor
        return tf.TensorShape([None if h is None else h * f,
                               None if w is None else w * f,
                               None if c is None else c // (f * f)])

    def _forward_event_shape_tensor(self, input_shape):
        f = self._factor
        input_shape = tf.cast(input_shape, tf.int32)
        return tf.stack([input_shape[-3] // f, input_shape[-2] // f,
                         input_shape[-1] * f * f])

    def _inverse_event_shape_tensor(self, output_shape):
        f = self._factor
        output_shape = tf.cast(output_shape, tf.int32)
        return tf.stack([output_shape[-3] * f, output_shape[-2] * f,
                         output_shape[-1] // (f * f)])
