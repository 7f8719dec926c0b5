"""Keras saving (``model.save("m.keras")`` / ``tf_keras.models.load_model``) for our models.

Keras' ``.keras`` format saves the variables of the Keras objects it reaches
by walking attributes (layers, metrics, optimizers and containers of them).
A TFP bijector is a ``tf.Module``, not a Keras layer, so the walk stops at
``model.flow``: ActNorm's and the LU factors' variables, and every
conditioner network held by a bijector, would be silently left out and a
loaded model would carry fresh initial weights. :class:`SavesAllVariables`
makes the model save and restore *every* variable it tracks
(``model.variables``, a deterministic order for a given configuration).
Keras still saves the layers it reaches on its own; they load the same
values again.
"""

from __future__ import annotations

from tfp_genmodels._keras import keras

PACKAGE = "tfp_genmodels"


def register(cls):
    """Registers ``cls`` so that ``load_model`` needs no ``custom_objects``."""
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


class SavesAllVariables:
    """Mixin for a ``keras.Model`` whose variables live partly in ``tf.Module`` s."""

    def save_own_variables(self, store) -> None:
        for i, variable in enumerate(self.variables):
            store[str(i)] = variable.numpy()

    def load_own_variables(self, store) -> None:
        variables = self.variables
        if len(store.keys()) != len(variables):
            raise ValueError(f"Cannot load the weights of {type(self).__name__} "
                             f"'{self.name}': the file holds {len(store.keys())} variables, "
                             f"the model built from its config has {len(variables)}.")
        for i, variable in enumerate(variables):
            value = store[str(i)]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"Cannot load variable {i} ({variable.name}) of "
                                 f"{type(self).__name__}: expected shape "
                                 f"{tuple(variable.shape)}, the file holds {tuple(value.shape)}.")
            variable.assign(value)
