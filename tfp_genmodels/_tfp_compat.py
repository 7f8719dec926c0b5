"""Every use of a private TensorFlow Probability name, in one place.

TFP's public API does not cover a few things this package needs; each is
reached here and nowhere else, so that a TFP release that renames one breaks
this module (and ``tests/test_tfp_compat.py``, which exercises each name)
rather than a model deep in a training run. ``setup.cfg`` bounds TFP to the
releases this was tested with.

* ``BijectorCacheWithGreedyAttrs``: the cache that stores a log-det computed
  in the same pass as the output (what ``tfb.FFJORD`` uses).
* ``dtype_util.common_dtype``, ``tensor_util.convert_nonref_to_tensor`` /
  ``is_ref`` and ``ParameterProperties``: TFP's parameter conventions
  (tensors checked at construction, variables at every call; batch shapes).
* ``_Chain`` / ``_Invert``: the classes ``tfb.Chain`` / ``tfb.Invert`` return
  for members that are not ``CompositeTensor`` s (ours hold Keras layers).
* A MADE's (``tfb.AutoregressiveNetwork``) conditional flag and its Keras
  layers, and a ``MaskedAutoregressiveFlow``'s network.
"""

from __future__ import annotations

import tensorflow_probability as tfp
from tensorflow_probability.python.bijectors.chain import _Chain as Chain
from tensorflow_probability.python.bijectors.invert import _Invert as Invert
from tensorflow_probability.python.internal import cache_util, dtype_util, tensor_util
from tensorflow_probability.python.internal.parameter_properties import ParameterProperties

from tfp_genmodels._keras import keras

tfb = tfp.bijectors

__all__ = ["Chain", "Invert", "ParameterProperties", "common_dtype", "convert_nonref_to_tensor",
           "greedy_cache", "is_ref", "made_is_conditional", "made_layers_after_activation",
           "maf_network"]

common_dtype = dtype_util.common_dtype
convert_nonref_to_tensor = tensor_util.convert_nonref_to_tensor
is_ref = tensor_util.is_ref


def greedy_cache(forward_name: str, inverse_name: str):
    """A bijector ``_cache`` that keeps the extra values (log-dets) that
    ``forward_name`` / ``inverse_name`` return next to the output."""
    return cache_util.BijectorCacheWithGreedyAttrs(forward_name=forward_name,
                                                   inverse_name=inverse_name)


def maf_network(bijector: tfb.MaskedAutoregressiveFlow):
    """The ``shift_and_log_scale_fn`` a ``MaskedAutoregressiveFlow`` was built with."""
    return getattr(bijector, "_shift_and_log_scale_fn", None)


def made_is_conditional(network) -> bool:
    """Whether a MADE (or a layer that wraps one and copies the flag) takes a
    ``conditional_input``."""
    return bool(getattr(network, "_conditional", False))


def made_layers_after_activation(made: tfb.AutoregressiveNetwork) -> list:
    """A built MADE's Keras layers after its last activation: the masked output
    Dense and, when conditional, the context Dense and the ``Add`` joining them."""
    after = []
    for layer in reversed(made._network.layers):
        if isinstance(layer, keras.layers.Activation):
            break
        after.append(layer)
    return after
