"""Autoregressive recipes on TFP's MADE (``tfb.AutoregressiveNetwork``): MAF and IAF."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _saving
from tfp_genmodels.bijectors import _validation
from tfp_genmodels.flows.flow_model import FlowModel

tfb = tfp.bijectors


def zero_made_output(net: tfb.AutoregressiveNetwork) -> None:
    """Zeroes a built MADE's output layer(s), so its flow step starts as the identity.

    Every weight after the last activation: the masked output Dense and, for
    a conditional MADE, the context Dense added to it.
    """
    for layer in reversed(net._network.layers):
        if layer.__class__.__name__ == "Activation":
            break
        for weight in layer.weights:
            weight.assign(tf.zeros_like(weight))


@_saving.register
class MAF(FlowModel):
    """Masked autoregressive flow: ``num_layers`` MADE-parameterised affine maps.

    In the data -> base direction each layer is
    ``z_i = (x_i - mu_i(x_<i)) * exp(-alpha_i(x_<i))``, all ``i`` in one pass, so
    ``log_prob`` is fast (one network call per layer) and sampling is slow
    (``D`` sequential calls per layer). Reversal permutations sit between layers.
    MADE's output layer starts at zero, so a fresh flow is the identity.

    References:
      Papamakarios, Pavlakou & Murray. Masked Autoregressive Flow for Density
      Estimation. 2017. arXiv:1705.07057.
    """

    _invert = False

    def __init__(self, event_shape: Sequence[int], num_layers: int = 5,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None, name: str | None = None,
                 **kwargs):
        self.num_layers = _validation.positive_int_arg(num_layers, "num_layers")
        self.hidden_units = tuple(int(u) for u in hidden_units)
        event_shape = _validation.event_shape_arg(event_shape, ranks=(1,))
        super().__init__(event_shape, context_shape=context_shape,
                         name=name or ("iaf" if self._invert else "maf"), **kwargs)

    def _made(self, index: int) -> tfb.Bijector:
        dim = self.event_shape[0]
        net = tfb.AutoregressiveNetwork(
            params=2, event_shape=[dim], hidden_units=list(self.hidden_units),
            activation="relu", conditional=self.context_shape is not None,
            conditional_event_shape=self.context_shape, name=f"made_net_{index}")
        # Build now (variables exist before any trace), then zero the output layer.
        dummy = tf.zeros([1, dim])
        net(dummy, conditional_input=None if self.context_shape is None else tf.zeros(
            [1, *self.context_shape]))
        zero_made_output(net)
        # The chain routes context by name, so the outer bijector is `made_{index}`.
        if not self._invert:
            return tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=net,
                                                name=f"made_{index}")
        maf = tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=net,
                                           name=f"inner_made_{index}")
        return tfb.Invert(maf, name=f"made_{index}")

    def build_bijectors(self):
        dim = self.event_shape[0]
        data_to_base = []
        for i in range(self.num_layers):
            data_to_base.append(self._made(i))
            if i < self.num_layers - 1:
                data_to_base.append(tfb.Permute(np.arange(dim)[::-1].copy(),
                                                name=f"permute_{i}"))
        return data_to_base  # tfb.Chain's inverse applies the first bijector first

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers,
                "hidden_units": self.hidden_units}


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
