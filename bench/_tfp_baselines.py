"""TFP's built-in flows at our recipes' architectures, for side-by-side benchmarks.

Each conditioner is a tf_keras network (so Keras tracks its variables and the
same ``FlowModel`` trains both sides): Dense(h)...Dense(h) with ReLU, then a
zero-initialised Dense, so TFP's flows start at the identity as ours do.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras as keras

tfb = tfp.bijectors


class Conditioner(keras.layers.Layer):
    """``x [..., d_in] -> [..., d_out * num_params]``: ReLU MLP, zero last layer."""

    def __init__(self, input_dim: int, output_dim: int, hidden=(256, 256), **kwargs):
        super().__init__(**kwargs)
        self.hidden = [keras.layers.Dense(u, activation="relu") for u in hidden]
        self.out = keras.layers.Dense(output_dim, kernel_initializer="zeros")
        self(tf.zeros([1, input_dim]))

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(x)


class ShiftLogScale(keras.layers.Layer):
    """TFP's ``shift_and_log_scale_fn`` contract; ``log_scale_bound`` bounds the
    log-scale with ``bound * tanh(raw / bound)`` (``None``: unbounded)."""

    def __init__(self, input_dim: int, output_dim: int, hidden=(256, 256),
                 log_scale_bound: float | None = None):
        super().__init__()
        self.net = Conditioner(input_dim, 2 * output_dim, hidden)
        self.bound = log_scale_bound

    def call(self, x, output_units):
        shift, log_scale = tf.split(self.net(x), 2, axis=-1)
        if self.bound is not None:
            log_scale = self.bound * tf.tanh(log_scale / self.bound)
        return shift, log_scale


def _reversal(dim, index):
    return tfb.Permute(np.arange(dim)[::-1].copy(), name=f"reverse_{index}")


def realnvp(dim: int, layers: int, hidden=(256, 256), log_scale_bound: float | None = 3.0):
    """``tfb.RealNVP`` couplings with reversals between them (data -> base list order)."""
    out = []
    for i in range(layers):
        out.append(tfb.RealNVP(num_masked=dim // 2, shift_and_log_scale_fn=ShiftLogScale(
            dim // 2, dim - dim // 2, hidden, log_scale_bound), name=f"tfp_realnvp_{i}"))
        if i < layers - 1:
            out.append(_reversal(dim, i))
    return out


def maf(dim: int, layers: int, hidden=(256, 256)):
    """``tfb.MaskedAutoregressiveFlow`` on MADE networks, reversals between them."""
    out = []
    for i in range(layers):
        made = tfb.AutoregressiveNetwork(params=2, event_shape=[dim], hidden_units=list(hidden),
                                         activation="relu")
        out.append(tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=made,
                                                name=f"tfp_maf_{i}"))
        if i < layers - 1:
            out.append(_reversal(dim, i))
    return out


class _SplineFn(keras.layers.Layer):
    """``bijector_fn`` for ``tfb.RealNVP``: a ``tfb.RationalQuadraticSpline`` whose
    bins and slopes come from a conditioner (TFP's neural-spline recipe)."""

    def __init__(self, input_dim: int, output_dim: int, num_bins: int, bound: float, hidden):
        super().__init__()
        self.num_bins, self.bound, self.output_dim = num_bins, bound, output_dim
        self.net = Conditioner(input_dim, output_dim * (3 * num_bins - 1), hidden)

    def call(self, x, output_units, **kwargs):
        k, b = self.num_bins, self.bound
        params = tf.reshape(self.net(x), tf.concat([tf.shape(x)[:-1],
                                                    [self.output_dim, 3 * k - 1]], 0))
        size = lambda raw: 2 * b * (1e-3 + (1 - 1e-3 * k) * tf.nn.softmax(raw))  # noqa: E731
        # softplus(raw + log(e - 1)) = 1 at raw = 0: identity slopes at initialisation.
        slopes = 1e-3 + tf.nn.softplus(params[..., 2 * k:] + np.log(np.expm1(1.0)))
        return tfb.RationalQuadraticSpline(size(params[..., :k]), size(params[..., k:2 * k]),
                                           slopes, range_min=-b)


def spline(dim: int, layers: int, hidden=(256, 256), num_bins: int = 8, bound: float = 5.0):
    """``tfb.RealNVP`` with a rational-quadratic spline ``bijector_fn``, reversals between."""
    out = []
    for i in range(layers):
        out.append(tfb.RealNVP(num_masked=dim // 2, bijector_fn=_SplineFn(
            dim // 2, dim - dim // 2, num_bins, bound, hidden), name=f"tfp_spline_{i}"))
        if i < layers - 1:
            out.append(_reversal(dim, i))
    return out
