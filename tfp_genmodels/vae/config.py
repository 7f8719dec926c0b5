"""Saving a VAE: its Keras config (parts by name or by their own config) and ``save``.

The networks' ``tfp.layers`` heads are written as portable entries
(:func:`~tfp_genmodels.vae.tfp_layers.portable_config`); a config written by
0.1.x, whose part options are the VAE's own keyword arguments, loads without
a deprecation warning.
"""

from __future__ import annotations

from tfp_genmodels._keras import keras
from tfp_genmodels.vae import parts, tfp_layers
from tfp_genmodels.vae.priors import DistributionPrior


class VAEConfig:
    """Mixin (before ``keras.Model``) for :class:`~tfp_genmodels.vae.VAE`: ``save`` and
    its config."""

    def save(self, filepath, *args, **kwargs) -> None:
        """``keras.Model.save``, without Keras' misleading ``safe_mode`` warnings about the
        ``tfp.layers`` heads (see :meth:`get_config`); a ``Lambda`` layer of your own still
        warns, and needs ``load_model(..., safe_mode=False)``."""
        with tfp_layers.without_head_lambda_warnings(self.encoder, self.decoder):
            return super().save(filepath, *args, **kwargs)

    def get_config(self) -> dict:
        if isinstance(self.prior, DistributionPrior):
            raise TypeError("the encoder's KLDivergenceRegularizer has a prior other than "
                            "N(0, I), and a tfd.Distribution has no Keras config; pass the "
                            "prior as a tfp_genmodels.vae.Prior (`prior=`) instead.")
        config = dict(self._config)
        for key, spec in self._specs.items():
            config[key] = parts.serialized_part(spec)
        networks = {}
        for key in ("encoder", "decoder"):
            net = getattr(self, key)
            with tfp_layers.without_head_lambda_warnings(net):
                serialized = keras.saving.serialize_keras_object(net)
            networks[key] = tfp_layers.portable_config(net, serialized, self._event_shapes)
        return {**config, **networks, "name": self.name, "dtype": self.vae_dtype.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> keras.Model:
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects)
        for key in ("likelihood", "posterior", "prior", "estimator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(
                    config[key], custom_objects=custom_objects)
        # A 0.1.x config holds the part options as the VAE's: taken without a warning.
        return cls(**config, _from_config=True)
