"""Autoregressive recipes on TFP's MADE (``tfb.AutoregressiveNetwork``): MAF and IAF."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving, _tfp_compat, _validation
from tfp_genmodels._keras import keras
from tfp_genmodels.bijectors.elementwise import soft_clamp
from tfp_genmodels.bijectors.masks import reversal
from tfp_genmodels.flows.flow_model import FlowModel

tfb = tfp.bijectors


def zero_made_output(net: tfb.AutoregressiveNetwork) -> None:
    """Zeroes a built MADE's output layer(s), so its flow step starts as the identity.

    Every weight after the last activation: the masked output Dense and, for
    a conditional MADE, the context Dense added to it.
    """
    for layer in _tfp_compat.made_layers_after_activation(net):
        for weight in layer.weights:
            weight.assign(tf.zeros_like(weight))


def identity_made(dim: int, hidden_units: Sequence[int], activation: str = "relu",
                  context_shape: Sequence[int] | None = None, name: str | None = None,
                  **kwargs) -> tfb.AutoregressiveNetwork:
    """A built MADE (``params=2``: shift, log-scale) whose output layers are zero,
    so the autoregressive step it drives starts as the identity."""
    net = tfb.AutoregressiveNetwork(
        params=2, event_shape=[dim], hidden_units=list(hidden_units), activation=activation,
        conditional=context_shape is not None, conditional_event_shape=context_shape,
        name=name, **kwargs)
    # Build now (variables exist before any trace), then zero the output layer.
    dtype = net.dtype
    net(tf.zeros([1, dim], dtype), conditional_input=None if context_shape is None
        else tf.zeros([1, *context_shape], dtype))
    zero_made_output(net)
    return net


class BoundedShiftAndLogScale(keras.layers.Layer):
    """A MADE whose log-scale is soft-clamped: ``(shift, clamp * tanh(raw / clamp))``.

    TFP's ``shift_and_log_scale_fn`` contract (a tuple is taken as is);
    ``conditional_input`` goes to the MADE. The clamp bounds each layer's
    scale to ``(e^-clamp, e^clamp)`` as in :class:`AffineCoupling`: with an
    unbounded log-scale MAF can diverge (``docs/benchmarks.md``, "Design
    choices").
    """

    def __init__(self, made: tfb.AutoregressiveNetwork, log_scale_clamp: float, **kwargs):
        super().__init__(**kwargs)
        self.made = made
        self.log_scale_clamp = log_scale_clamp
        # The context routing reads this flag as it reads a MADE's.
        self._conditional = _tfp_compat.made_is_conditional(made)

    def call(self, x, conditional_input=None) -> tf.Tensor:
        shift, raw = tf.unstack(self.made(x, conditional_input=conditional_input), 2, axis=-1)
        return shift, soft_clamp(raw, self.log_scale_clamp)


@_saving.register
class MAF(FlowModel):
    """Masked autoregressive flow: ``num_layers`` MADE-parameterised affine maps.

    In the data -> base direction each layer is
    ``z_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``, all ``i`` in one pass, so
    ``log_prob`` is fast (one network call per layer) and sampling is slow
    (``D`` sequential calls per layer). Reversal permutations sit between layers.
    MADE's output layer starts at zero, so a fresh flow is the identity, and
    ``alpha`` is soft-clamped to ``(-log_scale_clamp, log_scale_clamp)``
    (``None``: unbounded, TFP's default).

    References:
      Papamakarios, Pavlakou & Murray. Masked Autoregressive Flow for Density
      Estimation. 2017. arXiv:1705.07057.
    """

    _invert = False

    def __init__(self, event_shape: Sequence[int], num_layers: int = 5,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None, name: str | None = None,
                 log_scale_clamp: float | None = 3.0, **kwargs):
        self.num_layers = _validation.positive_int_arg(num_layers, "num_layers")
        self.log_scale_clamp = (None if log_scale_clamp is None else
                                _validation.positive_float_arg(log_scale_clamp,
                                                               "log_scale_clamp"))
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        event_shape = _validation.event_shape_arg(event_shape, ranks=(1,))
        super().__init__(event_shape, context_shape=context_shape,
                         name=name or ("iaf" if self._invert else "maf"), **kwargs)

    def _made(self, index: int) -> tfb.Bijector:
        net = identity_made(self.event_shape[0], self.hidden_units,
                            context_shape=self.context_shape, dtype=self.flow_dtype,
                            name=f"made_net_{index}")
        if self.log_scale_clamp is not None:
            net = BoundedShiftAndLogScale(net, self.log_scale_clamp, dtype=self.flow_dtype,
                                          name=f"bounded_{index}")
        # The chain routes context by name, so the outer bijector is `made_{index}`.
        if not self._invert:
            return tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=net,
                                                name=f"made_{index}")
        maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=net,
                                           name=f"inner_made_{index}")
        return tfb.Invert(maf, name=f"made_{index}")

    def build_bijectors(self) -> list[tfb.Bijector]:
        dim = self.event_shape[0]
        data_to_base = []
        for i in range(self.num_layers):
            data_to_base.append(self._made(i))
            if i < self.num_layers - 1:
                data_to_base.append(reversal(dim, name=f"permute_{i}"))
        return data_to_base  # tfb.Chain's inverse applies the first bijector first

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers,
                "hidden_units": self.hidden_units, "log_scale_clamp": self.log_scale_clamp}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> MAF:
        # A config saved before `log_scale_clamp` existed (0.1.0) describes an unbounded MAF.
        return cls(**{"log_scale_clamp": None, **config})


@_saving.register
class IAF(MAF):
    """Inverse autoregressive flow: the inverse of :class:`MAF`.

    Each layer is ``x_i = z_i * exp(alpha_i(z_<i)) + mu_i(z_<i)`` in the base ->
    data direction, computed for all ``i`` in one pass: sampling is fast,
    while ``log_prob`` of external data needs the inverse, ``D`` sequential
    network calls per layer (slow). Use it where samples are drawn and
    scored together (e.g. as a VAE posterior).

    References:
      Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling. Improved
      Variational Inference with Inverse Autoregressive Flow. 2016.
      arXiv:1606.04934.
    """

    _invert = True
