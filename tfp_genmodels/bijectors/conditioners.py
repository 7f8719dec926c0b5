"""Conditioner networks for coupling bijectors.

A conditioner maps the conditioning part of the input (and an optional
context vector) to the parameters of the elementwise transform applied to the
other part. Both conditioners here are ``tf_keras`` layers whose last layer
has zero kernel and zero bias, so a fresh coupling layer outputs all-zero
parameters, which every coupling here maps to the identity (Glow,
Kingma & Dhariwal 2018, arXiv:1807.03039, section 3.3).

Contract (what a user-supplied conditioner must also satisfy), with ``N``
the flattened batch and ``P`` the number of parameters per element:

* vector events ``[D]``: ``conditioner(x_cond, context)`` with ``x_cond`` of
  shape ``[N, D_1]`` (the conditioning elements) returns ``[N, D_2, P]``
  (parameters for the ``D_2`` transformed elements);
* image events ``[H, W, C]``: ``conditioner(x_masked, context)`` with the
  masked image ``[N, H, W, C]`` returns ``[N, H, W, C, P]``.

``context`` is ``[N, K]`` or ``None``.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tfp_genmodels._keras import keras


class DenseConditioner(keras.layers.Layer):
    """MLP conditioner for vector events: ``[N, D_1] (+ [N, K]) -> [N, D_2, P]``.

    Args:
      input_dim: number of conditioning elements ``D_1``.
      output_dim: number of transformed elements ``D_2``.
      num_params: parameters per transformed element ``P``.
      hidden_units: widths of the hidden layers.
      context_dim: size ``K`` of the context vector, or ``None``.
      activation: hidden activation.
    """

    def __init__(self, input_dim: int, output_dim: int, num_params: int,
                 hidden_units: Sequence[int] = (128, 128),
                 context_dim: int | None = None, activation: str = "relu",
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.num_params = int(num_params)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.context_dim = None if context_dim is None else int(context_dim)
        self.activation = activation
        self.hidden = [keras.layers.Dense(u, activation=activation, dtype=self.dtype,
                                          name=f"hidden_{i}")
                       for i, u in enumerate(self.hidden_units)]
        self.out = keras.layers.Dense(self.output_dim * self.num_params,
                                      kernel_initializer="zeros",
                                      bias_initializer="zeros", dtype=self.dtype,
                                      name="params")
        # Build now so the variables exist before the first (possibly traced) call.
        self.build(tf.TensorShape([None, self.input_dim]))

    def build(self, input_shape) -> None:
        width = self.input_dim + (self.context_dim or 0)
        for layer in self.hidden:
            layer.build(tf.TensorShape([None, width]))
            width = layer.units
        self.out.build(tf.TensorShape([None, width]))
        super().build(input_shape)

    def call(self, x_cond: tf.Tensor, context: tf.Tensor | None = None) -> tf.Tensor:
        h = x_cond if context is None else tf.concat([x_cond, context], axis=-1)
        for layer in self.hidden:
            h = layer(h)
        return tf.reshape(self.out(h), [-1, self.output_dim, self.num_params])

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, "num_params": self.num_params,
                "hidden_units": self.hidden_units, "context_dim": self.context_dim,
                "activation": self.activation}


class ConvConditioner(keras.layers.Layer):
    """CNN conditioner for image events: ``[N, H, W, C] (+ [N, K]) -> [N, H, W, C_out, P]``.

    Hidden convolutions with "same" padding (3x3 by default; Glow uses 3x3
    then 1x1), then a zero-initialised 3x3 output convolution. A context
    vector is tiled over the spatial positions and concatenated to the
    channels.

    Args:
      event_shape: ``[H, W, C]`` of the input.
      num_params: parameters per output element ``P``.
      filters: channels of each hidden convolution.
      context_dim: size ``K`` of the context vector, or ``None``.
      activation: hidden activation.
      output_channels: ``C_out`` (default ``C``).
      kernel_sizes: one kernel size per hidden convolution (default all 3).
    """

    def __init__(self, event_shape: Sequence[int], num_params: int,
                 filters: Sequence[int] = (64, 64), context_dim: int | None = None,
                 activation: str = "relu", output_channels: int | None = None,
                 kernel_sizes: Sequence[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(d) for d in event_shape)
        self.num_params = int(num_params)
        self.filters = tuple(int(f) for f in filters)
        self.context_dim = None if context_dim is None else int(context_dim)
        self.activation = activation
        h, w, c = self.event_shape
        self.output_channels = c if output_channels is None else int(output_channels)
        self.kernel_sizes = (tuple(3 for _ in self.filters) if kernel_sizes is None
                             else tuple(int(k) for k in kernel_sizes))
        if len(self.kernel_sizes) != len(self.filters):
            raise ValueError(f"`kernel_sizes` must have one entry per hidden layer "
                             f"({len(self.filters)}); got {self.kernel_sizes}.")
        self.hidden = [keras.layers.Conv2D(f, k, padding="same", activation=activation,
                                           dtype=self.dtype, name=f"hidden_{i}")
                       for i, (f, k) in enumerate(zip(self.filters, self.kernel_sizes))]
        self.out = keras.layers.Conv2D(self.output_channels * self.num_params, 3,
                                       padding="same", kernel_initializer="zeros",
                                       bias_initializer="zeros", dtype=self.dtype,
                                       name="params")
        self.build(tf.TensorShape([None, h, w, c]))

    def build(self, input_shape) -> None:
        h, w, c = self.event_shape
        width = c + (self.context_dim or 0)
        for layer in self.hidden:
            layer.build(tf.TensorShape([None, h, w, width]))
            width = layer.filters
        self.out.build(tf.TensorShape([None, h, w, width]))
        super().build(input_shape)

    def call(self, x: tf.Tensor, context: tf.Tensor | None = None) -> tf.Tensor:
        h, w, _ = self.event_shape
        net = x
        if context is not None:
            tiled = tf.tile(context[:, None, None, :], [1, h, w, 1])
            net = tf.concat([net, tiled], axis=-1)
        for layer in self.hidden:
            net = layer(net)
        return tf.reshape(self.out(net), [-1, h, w, self.output_channels, self.num_params])

    def get_config(self) -> dict:
        return {**super().get_config(), "event_shape": self.event_shape,
                "num_params": self.num_params, "filters": self.filters,
                "context_dim": self.context_dim, "activation": self.activation,
                "output_channels": self.output_channels, "kernel_sizes": self.kernel_sizes}
