"""What a training or evaluation step receives: ``(x, context, sample_weight)``, and
weighted batch means.

Keras hands a step ``x``, ``(x, c)``, ``((x, c),)``, ``(x, c, w)`` or
``((x, c), None, w)``; our models have no targets, so an empty ``[N, 0]``
placeholder stands in for ``y`` when there are sample weights (Keras drops
the weights without a ``y``).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfp_genmodels import _keras


def weighted_mean(values: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """``sum_b(w_b * v_b) / sum_b(w_b)`` over the batch axis 0 (the plain mean
    without weights); ``values`` ``[B]`` gives a scalar, ``[B, L]`` gives ``[L]``.

    Weights act as example frequencies: a weight of 2 counts an example twice.
    """
    if sample_weight is None:
        return tf.reduce_mean(values, axis=0)
    w = tf.cast(tf.reshape(sample_weight, [-1]), values.dtype)
    w = tf.reshape(w, tf.concat([[-1], tf.ones([tf.rank(values) - 1], tf.int32)], 0))
    return tf.math.divide_no_nan(tf.reduce_sum(w * values, axis=0), tf.reduce_sum(w))


def unpack_context(data):
    """``(x, context, sample_weight)`` from what Keras hands a step (or ``call``):
    ``x``, ``(x, c)``, ``((x, c),)``, ``(x, c, w)`` or ``((x, c), None, w)``."""
    if not isinstance(data, (tuple, list)):
        return data, None, None
    x, y, sample_weight = _keras.keras.utils.unpack_x_y_sample_weight(tuple(data))
    if is_weight_placeholder(y):
        y = None
    if y is None and isinstance(x, (tuple, list)) and len(x) == 2:
        x, y = x
    return x, y, sample_weight


def batch_weight(x: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """The batch's total weight: its size, or ``sum(w)`` (for epoch averages of
    batch means)."""
    if sample_weight is None:
        return tf.cast(tf.shape(x)[0], tf.float32)
    return tf.reduce_sum(tf.cast(sample_weight, tf.float32))


def only_if(applied: tf.Tensor, values, sample_weight=None):
    """``(values, weight)`` for metric updates that count a step only if it was
    applied: a skipped step's (non-finite) values become 0 with weight 0."""
    values = tf.nest.map_structure(
        lambda v: tf.where(applied, v, tf.zeros_like(v)), values)
    first = tf.nest.flatten(values)[0]
    weight = tf.ones_like(first) if sample_weight is None else tf.cast(
        tf.reshape(sample_weight, tf.shape(first)), first.dtype)
    return values, weight * tf.cast(applied, first.dtype)


def with_weight_placeholder(y, sample_weight):
    """Keras drops ``sample_weight`` when ``y`` is None (there is nothing to weigh
    a loss against), which would ignore the weights silently. Our models have
    no targets, so an empty ``[N, 0]`` placeholder stands in for ``y``;
    :func:`is_weight_placeholder` recognises it in the step."""
    if sample_weight is None or y is not None:
        return y
    return np.zeros([len(sample_weight), 0], np.float32)


def is_weight_placeholder(y) -> bool:
    """Whether ``y`` (a tensor or an array) is :func:`with_weight_placeholder`'s ``[N, 0]``."""
    if y is None or isinstance(y, (tuple, list, dict)):
        return False
    shape = tf.TensorShape(getattr(y, "shape", np.shape(y)))
    return shape.rank == 2 and shape[-1] == 0
