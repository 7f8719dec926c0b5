"""Decoder heads: the observation model p(x | z) over one example's event.

A likelihood turns the decoder network's output into a distribution over
``x`` whose ``log_prob`` sums over the event (``tfd.Independent``):

* ``"bernoulli"``: binary ``x``; ``p(x|z) = prod Bernoulli(x_d; sigmoid(l_d))``.
* ``"gaussian"``: ``N(x_d; mu_d(z), sigma_d)`` with ``sigma`` learned per
  dimension (shared across examples, ``scale="learned"``) or a fixed float.
* ``"categorical"``: ``K`` levels ``x_d in {0..K-1}`` (the digits: 17);
  ``p(x|z) = prod softmax(l_d)[x_d]``: exact discrete probabilities, so
  bits/dim compare directly with a dequantised flow's.
* a callable ``decoder output -> tfd.Distribution`` over ``x`` (no head).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import LIKELIHOODS

tfd = tfp.distributions



class Likelihood(keras.layers.Layer):
    """A dense head ``features -> [..., *event_shape, P]`` and the distribution over ``x``.

    Args:
      kind: one of :data:`LIKELIHOODS` or a callable (then no head is added).
      event_shape: shape of one example ``x``.
      pixel_levels: ``K`` for ``"categorical"`` (``num_levels`` is its deprecated name).
      scale: ``"learned"`` or a positive float, for ``"gaussian"``.
    """

    def __init__(self, kind: str | Callable, event_shape: Sequence[int],
                 pixel_levels: int | None = None, scale: str | float = "learned",
                 **kwargs: Any):
        pixel_levels = _args.renamed_arg(kwargs, "num_levels", "pixel_levels", pixel_levels,
                                         "Likelihood")
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.kind = kind
        self.pixel_levels = pixel_levels
        self.fixed_scale = None
        if callable(kind):
            self.num_params = None
        elif kind not in LIKELIHOODS:
            raise ValueError(f"`likelihood` must be one of {LIKELIHOODS} or a callable "
                             f"returning a tfd.Distribution; got {kind!r}.")
        elif kind == "categorical":
            self.num_params = _args.int_arg(pixel_levels, "pixel_levels", minimum=2)
        else:
            self.num_params = 1
        if kind == "gaussian":
            if scale == "learned":
                self.log_scale = self.add_weight(
                    name="log_scale", shape=self.event_shape, initializer="zeros")
            else:
                try:
                    self.fixed_scale = float(scale)
                except (TypeError, ValueError):
                    self.fixed_scale = -1.0
                if not math.isfinite(self.fixed_scale) or self.fixed_scale <= 0:
                    raise ValueError(f"`scale` must be 'learned' or a positive float; got "
                                     f"{scale!r}.")
        if self.num_params is not None:
            size = int(np.prod(self.event_shape)) * self.num_params
            self.flatten = keras.layers.Flatten()
            self.dense = keras.layers.Dense(size, name="likelihood_params")

    def call(self, decoded: tf.Tensor) -> tfd.Distribution:
        if self.num_params is None:
            dist = self.kind(decoded)
            if not isinstance(dist, tfd.Distribution):
                raise TypeError(f"`likelihood` callable must return a tfd.Distribution; got "
                                f"{type(dist).__name__}.")
            return dist
        batch = tf.shape(decoded)[:-1] if decoded.shape.rank == 2 else tf.shape(decoded)[:1]
        flat = decoded if decoded.shape.rank == 2 else self.flatten(decoded)
        params = self.dense(flat)
        params = tf.reshape(params, tf.concat([batch, self.event_shape, [self.num_params]], 0))
        ndims = len(self.event_shape)
        if self.kind == "bernoulli":
            base = tfd.Bernoulli(logits=params[..., 0], dtype=tf.float32)
        elif self.kind == "gaussian":
            scale = (tf.exp(self.log_scale) if self.fixed_scale is None
                     else tf.constant(self.fixed_scale))
            base = tfd.Normal(params[..., 0], scale)
        else:
            base = tfd.Categorical(logits=params, dtype=tf.float32)
        return tfd.Independent(base, reinterpreted_batch_ndims=ndims)


def distribution_mean(dist: tfd.Distribution) -> tf.Tensor:
    """Mean of ``p(x|z)`` (probabilities for Bernoulli, ``sum_k k p_k`` for categorical)."""
    inner = dist.distribution if isinstance(dist, tfd.Independent) else dist
    if isinstance(inner, tfd.Categorical):
        probs = tf.nn.softmax(inner.logits_parameter())
        levels = tf.range(probs.shape[-1], dtype=probs.dtype)
        return tf.reduce_sum(probs * levels, axis=-1)
    return dist.mean()
