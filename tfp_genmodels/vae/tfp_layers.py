"""Networks that end in a ``tfp.layers`` distribution layer (TFP's tutorial VAE).

TFP's probabilistic-layers VAE tutorial ends the encoder in
``tfpl.MultivariateNormalTriL(L, activity_regularizer=tfpl.KLDivergenceRegularizer(prior,
weight=w))`` and the decoder in ``tfpl.IndependentBernoulli(shape)``. Such an
encoder already computes ``q(z|x)`` and such a decoder ``p(x|z)``: the VAE uses
them as they are (:func:`distribution_layer`) and takes the regulariser's
prior and weight as its own prior and ``beta`` (:func:`kl_regularizer`), so
the KL is counted once, in the VAE's loss (the regulariser's ``layer.losses``
are not added).

Keras cannot rebuild these layers from a ``.keras`` file (their config is a
pickled Python function, and the class is not registered), so
:func:`portable_config` replaces each in a network's config by a
:class:`DistributionHead` entry that rebuilds the same ``tfp.layers`` layer.
The regulariser is not part of the config; the VAE's config keeps its prior
and weight.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import tensorflow_probability as tfp

from tfp_genmodels import _saving
from tfp_genmodels._keras import keras
from tfp_genmodels.vae.priors import (
    DistributionPrior,
    Prior,
    StandardNormalPrior,
    is_standard_normal,
)

tfd, tfpl = tfp.distributions, tfp.layers

#: The ``tfp.layers`` distribution layers a saved VAE can rebuild: name -> whether the
#: constructor takes the event *size* (else the event shape).
PORTABLE_LAYERS: dict[str, bool] = {
    "MultivariateNormalTriL": True, "OneHotCategorical": True,
    "IndependentNormal": False, "IndependentBernoulli": False,
    "IndependentLogistic": False, "IndependentPoisson": False}


def distribution_layer(network) -> keras.layers.Layer | None:
    """The network's last layer when it is a ``tfp.layers`` distribution layer, else None."""
    layers = getattr(network, "layers", None)
    if isinstance(network, tfpl.DistributionLambda):
        return network
    if layers and isinstance(layers[-1], tfpl.DistributionLambda):
        return layers[-1]
    return None


def kl_regularizer(layer) -> tfpl.KLDivergenceRegularizer | None:
    """The layer's ``KLDivergenceRegularizer``, if it has one."""
    reg = getattr(layer, "activity_regularizer", None)
    return reg if isinstance(reg, tfpl.KLDivergenceRegularizer) else None


def regularizer_prior_and_weight(reg: tfpl.KLDivergenceRegularizer
                                 ) -> tuple[tfd.Distribution, float]:
    """The regulariser's prior ``p(z)`` and weight (TFP keeps them private)."""
    return reg._distribution_b, float(reg._weight)  # noqa: SLF001


def regularizer_prior_and_beta(encoder, latent_dim: int, prior, beta
                               ) -> tuple[Prior | Any, float | None]:
    """``(prior, beta)`` for a VAE whose encoder may end in a distribution layer with a
    ``KLDivergenceRegularizer``: the regulariser's prior (as a :class:`Prior`) and
    weight, refusing a ``prior`` or a different ``beta`` given beside it; else the
    arguments as they are."""
    layer = distribution_layer(encoder)
    reg = kl_regularizer(layer) if layer is not None else None
    if reg is None:
        return prior, beta
    reg_prior, weight = regularizer_prior_and_weight(reg)
    if prior is not None or (beta is not None and beta != weight):
        raise ValueError("the encoder's KLDivergenceRegularizer already sets the prior "
                         f"and beta (weight={weight}); leave `prior` and `beta` unset, "
                         "or drop the regularizer and pass them to the VAE.")
    prior = (StandardNormalPrior(latent_dim, name="prior")
             if is_standard_normal(reg_prior, latent_dim)
             else DistributionPrior(reg_prior, name="prior"))
    return prior, weight


@contextlib.contextmanager
def without_head_lambda_warnings(*nets) -> Iterator[None]:
    """Runs the block without Keras' "lambda ... safe_mode=False" warnings about the
    trailing ``tfp.layers`` distribution layers of ``nets``: their lambdas are not what
    a ``.keras`` file holds (:func:`portable_config` writes a :class:`DistributionHead`
    in their place), so those warnings would be wrong. Every other warning (a user's
    own ``Lambda`` layer) is kept."""
    markers = [f"{type(layer).__name__}.new(" for layer in map(distribution_layer, nets)
               if layer is not None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        if not any(marker in str(warning.message) for marker in markers):
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)


def _convert_name(layer) -> str:
    """``convert_to_tensor_fn`` as ``"Class.attribute"`` (``Distribution.sample``)."""
    fn = getattr(layer, "_convert_to_tensor_fn", tfd.Distribution.sample)
    fn = fn.fget if isinstance(fn, property) else fn
    name = getattr(fn, "__qualname__", "")
    cls, _, attr = name.partition(".")
    if not attr or not hasattr(getattr(tfd, cls, None), attr):
        raise TypeError(f"the {type(layer).__name__} layer's convert_to_tensor_fn {fn!r} "
                        "cannot be saved; use a distribution method or property such as "
                        "tfd.Distribution.sample, .mean or tfd.Bernoulli.logits.")
    return name


@_saving.register
class DistributionHead(keras.layers.Layer):
    """A config entry that rebuilds a ``tfp.layers`` distribution layer
    (:data:`PORTABLE_LAYERS`); :meth:`from_config` returns the TFP layer itself."""

    @classmethod
    def from_config(cls, config: dict) -> keras.layers.Layer:
        kind, shape = config["kind"], list(config["event_shape"])
        owner, _, attr = config["convert_to_tensor_fn"].partition(".")
        convert = getattr(getattr(tfd, owner), attr)
        layer_cls = getattr(tfpl, kind)
        event = shape[0] if PORTABLE_LAYERS[kind] else shape
        return layer_cls(event, convert_to_tensor_fn=convert, name=config["name"])


def portable_config(network: keras.Model, serialized: dict,
                    event_shapes: dict[str, Any]) -> dict:
    """``serialized`` (the network's Keras config) with its top-level ``tfp.layers``
    distribution layers replaced by :class:`DistributionHead` entries.

    Args:
      network: the Keras network.
      serialized: ``keras.saving.serialize_keras_object(network)``.
      event_shapes: layer name -> the event shape of the distribution it outputs.
    """
    layers = {layer.name: layer for layer in getattr(network, "layers", [])}
    entries = serialized.get("config", {}).get("layers", [])
    for entry in entries:
        name = entry.get("config", {}).get("name")
        layer = layers.get(name)
        if not isinstance(layer, tfpl.DistributionLambda):
            continue
        kind = type(layer).__name__
        if kind not in PORTABLE_LAYERS or name not in event_shapes:
            raise TypeError(f"the network '{network.name}' ends in a {kind} layer, which a "
                            f".keras file cannot rebuild; use one of {sorted(PORTABLE_LAYERS)}, "
                            "or save the weights (model.save_weights) and rebuild in code.")
        entry.update({"module": None, "class_name": "DistributionHead",
                      "registered_name": f"{_saving.PACKAGE}>DistributionHead",
                      "config": {"name": name, "kind": kind,
                                 "event_shape": [int(d) for d in event_shapes[name]],
                                 "convert_to_tensor_fn": _convert_name(layer)}})
        entry.pop("build_config", None)
    return serialized
