"""Vector fields ``f(t, z[, c])`` for continuous flows (:class:`~.continuous.ContinuousFlow`).

A continuous flow integrates ``dz/dt = f(t, z)``; ``f`` is any callable
``(t, z, context=None) -> dz/dt`` with ``t`` a scalar. :class:`TimeDerivative`
is FFJORD's "concat" MLP (Grathwohl et al., 2019): every layer also sees ``t``
(and the context).

References:
  Grathwohl, Chen, Bettencourt, Sutskever & Duvenaud. FFJORD: Free-form
  Continuous Dynamics for Scalable Reversible Generative Models. 2019.
  arXiv:1810.01367.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfp_genmodels._keras import keras


class TimeDerivative(keras.layers.Layer):
    """The dynamics ``f(t, z[, c])`` of a CNF: an MLP whose every layer also sees
    ``t`` (and the context), FFJORD's "concat" layers.

    The output layer starts at zero, so a fresh CNF is the identity map.
    Smooth activations (``tanh``, ``softplus``) keep the ODE non-stiff.

    Args:
      dim: ``D``, the size of ``z``.
      hidden_units: the hidden layers' widths.
      activation: of the hidden layers.
      **kwargs: Keras layer arguments.
    """

    def __init__(self, dim: int, hidden_units: Sequence[int], activation: str = "tanh",
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.hidden = [keras.layers.Dense(u, activation=activation, dtype=self.dtype,
                                          name=f"hidden_{i}")
                       for i, u in enumerate(hidden_units)]
        self.out = keras.layers.Dense(dim, kernel_initializer="zeros", bias_initializer="zeros",
                                      dtype=self.dtype, name="output")

    def call(self, t, z, context=None) -> tf.Tensor:
        # Any batch shape (none included): flattened to [N, D] for the Dense layers.
        shape = tf.shape(z)
        h = tf.reshape(z, [-1, z.shape[-1]])
        extras = [tf.broadcast_to(tf.cast(t, z.dtype), [tf.shape(h)[0], 1])]
        if context is not None:
            context = tf.cast(context, z.dtype)
            context = tf.broadcast_to(context, tf.concat([shape[:-1], tf.shape(context)[-1:]], 0))
            extras.append(tf.reshape(context, [tf.shape(h)[0], context.shape[-1]]))
        for layer in [*self.hidden, self.out]:
            h = layer(tf.concat([h, *extras], axis=-1))
        return tf.reshape(h, shape)


__all__ = ["TimeDerivative"]
