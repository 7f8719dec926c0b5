"""Standard encoder / decoder networks (fully connected), for the CLI and examples.

Any Keras networks work with :class:`~tfp_genmodels.vae.VAE`; these are the
plain MLPs of the VAE literature: the encoder rescales pixels to ``[0, 1]``.
With ``context_dim`` they are the two-input networks of a conditional VAE
(Sohn et al., 2015): the encoder reads ``[x, c]``, the decoder ``[z, c]``,
each concatenating the context to its (flattened) input.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfp_genmodels import _validation
from tfp_genmodels._keras import keras


def _mlp(inputs: list, flat, hidden_units: Sequence[int], name: str) -> keras.Model:
    """Dense ELU layers on ``flat`` (the inputs, concatenated when there are two)."""
    h = flat if len(inputs) == 1 else keras.layers.Concatenate()([flat, inputs[1]])
    for units in hidden_units:
        h = keras.layers.Dense(units, activation="elu")(h)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], h, name=name)


def mlp_encoder(event_shape: Sequence[int], hidden_units: Sequence[int] = (256, 256),
                input_scale: float = 1.0, name: str = "encoder",
                context_dim: int | None = None) -> keras.Model:
    """``x -> features`` (``[x, c] -> features`` with ``context_dim``): flatten,
    multiply by ``input_scale``, ELU dense layers."""
    if context_dim is None:
        layers = [keras.Input(tuple(event_shape)), keras.layers.Flatten(),
                  keras.layers.Rescaling(float(input_scale))]
        layers += [keras.layers.Dense(u, activation="elu") for u in hidden_units]
        return keras.Sequential(layers, name=name)
    inputs = [keras.Input(tuple(event_shape)), keras.Input((int(context_dim),))]
    flat = keras.layers.Rescaling(float(input_scale))(keras.layers.Flatten()(inputs[0]))
    return _mlp(inputs, flat, hidden_units, name)


def mlp_decoder(latent_dim: int, hidden_units: Sequence[int] = (256, 256),
                name: str = "decoder", context_dim: int | None = None) -> keras.Model:
    """``z -> features`` (``[z, c] -> features`` with ``context_dim``); the VAE adds the
    likelihood head. ``latent_dim`` is the code size the decoder receives (``L * K``
    for categorical latents)."""
    if context_dim is None:
        layers = [keras.Input((int(latent_dim),))]
        layers += [keras.layers.Dense(u, activation="elu") for u in hidden_units]
        return keras.Sequential(layers, name=name)
    inputs = [keras.Input((int(latent_dim),)), keras.Input((int(context_dim),))]
    return _mlp(inputs, inputs[0], hidden_units, name)


def data_event_shape(event_shape: Sequence[int] | None, encoder) -> tuple[int, ...]:
    """``event_shape`` checked, or (``None``) the encoder's input shape without the batch
    (a conditional encoder's first input); ``ValueError`` when neither is known."""
    if event_shape is not None:
        return _validation.event_shape_arg(event_shape)
    shape = getattr(encoder, "input_shape", None)
    if isinstance(shape, list) and shape:
        shape = shape[0]  # a conditional encoder's [x, c]
    if shape is None or None in tuple(shape)[1:]:
        raise ValueError("`event_shape` is required when the encoder has no known input "
                         f"shape (give it an Input layer); got encoder input shape {shape}.")
    return tuple(int(d) for d in tuple(shape)[1:])
