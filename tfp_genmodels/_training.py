"""Pieces shared by the Keras models' training steps."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def checked_gradient_step(model, tape: tf.GradientTape, loss: tf.Tensor) -> None:
    """Applies ``d loss / d variables`` with the model's optimizer, refusing a no-op.

    ``loss`` is this replica's mean over its examples; with ``R`` replicas
    the applied gradient is that of the global-batch mean (see below).

    Raises (at trace time, so on the first step) when Keras tracks no trainable
    variable (``fit`` would silently train nothing, as with
    ``tfb.real_nvp_default_template``'s untracked variables) or when some
    variable gets no gradient from the loss (it would never change).
    """
    variables = model.trainable_variables
    if not variables:
        raise ValueError(f"{type(model).__name__} has no trainable variables that Keras "
                         "tracks, so fit would train nothing (e.g. variables created inside "
                         "a tf.compat.v1 template such as tfb.real_nvp_default_template). "
                         "Build the bijectors from Keras layers or tf.Variables held as "
                         "attributes.")
    grads = tape.gradient(loss, variables)
    missing = [v.name for v, g in zip(variables, grads) if g is None]
    if missing:
        raise ValueError(f"These trainable variables get no gradient from the loss, so fit "
                         f"would never change them: {missing}.")
    # Under tf.distribute each replica computes the mean over its share of the
    # global batch and the optimizer *sums* the replicas' gradients; dividing by
    # the number of replicas makes that sum the gradient of the global-batch mean
    # (what Keras' compiled losses do with scale_loss_for_distribution).
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        grads = [tf.math.scalar_mul(1.0 / replicas, g) for g in grads]  # IndexedSlices too
    model.optimizer.apply_gradients(zip(grads, variables))


def as_validation_data(validation_data):
    """Keras' ``fit`` rejects a bare array as ``validation_data``; wrap it as ``(x,)``."""
    if isinstance(validation_data, (np.ndarray, tf.Tensor)):
        return (validation_data,)
    return validation_data
