"""Standard encoder / decoder networks (fully connected), for the CLI and examples.

Any Keras networks work with :class:`~tfp_genmodels.vae.VAE`; these are the
plain MLPs of the VAE literature: the encoder rescales pixels to ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfp_genmodels._keras import keras


def mlp_encoder(event_shape: Sequence[int], hidden_units: Sequence[int] = (256, 256),
                input_scale: float = 1.0, name: str = "encoder") -> keras.Sequential:
    """``x -> features``: flatten, multiply by ``input_scale``, ELU dense layers."""
    layers = [keras.Input(tuple(event_shape)), keras.layers.Flatten(),
              keras.layers.Rescaling(float(input_scale))]
    layers += [keras.layers.Dense(u, activation="elu") for u in hidden_units]
    return keras.Sequential(layers, name=name)


def mlp_decoder(latent_dim: int, hidden_units: Sequence[int] = (256, 256),
                name: str = "decoder") -> keras.Sequential:
    """``z -> features`` (the VAE adds the likelihood head)."""
    layers = [keras.Input((int(latent_dim),))]
    layers += [keras.layers.Dense(u, activation="elu") for u in hidden_units]
    return keras.Sequential(layers, name=name)
