"""One optimizer step that refuses a no-op and never lets a non-finite value reach the
weights (the non-finite policy of :class:`~tfp_genmodels._training.checked_model.CheckedModel`).
"""

from __future__ import annotations

import tensorflow as tf

from tfp_genmodels import _keras

# Marks the run-time assertion, so fit can tell it from other InvalidArgumentErrors.
NONFINITE_MARKER = "tfp_genmodels: non-finite loss, gradient or weight"


def _check_variables(model, grads, variables) -> None:
    if not variables:
        raise ValueError(f"{type(model).__name__} has no trainable variables that Keras "
                         "tracks, so fit would train nothing (e.g. variables created inside "
                         "a tf.compat.v1 template such as tfb.real_nvp_default_template). "
                         "Build the bijectors from Keras layers or tf.Variables held as "
                         "attributes.")
    missing = [v.name for v, g in zip(variables, grads) if g is None]
    if missing:
        raise ValueError(f"These trainable variables get no gradient from the loss, so fit "
                         f"would never change them: {missing}.")


def checked_gradient_step(model, tape: tf.GradientTape, loss: tf.Tensor) -> tf.Tensor:
    """Applies ``d loss / d variables`` with the model's optimizer, refusing a no-op
    and never letting a non-finite value reach the weights.

    ``loss`` is this replica's mean over its examples; with ``R`` replicas
    the applied gradient is that of the global-batch mean (see below).

    Raises (at trace time, so on the first step) when Keras tracks no trainable
    variable (``fit`` would silently train nothing, as with
    ``tfb.real_nvp_default_template``'s untracked variables) or when some
    variable gets no gradient from the loss (it would never change). A
    non-finite loss or gradient follows ``model.on_nonfinite`` (module docstring).

    Returns a boolean scalar: whether the update was applied (the step's
    metrics should count only then).
    """
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    _check_variables(model, grads, variables)
    _check_untracked_variables(model, tape)
    # Under tf.distribute each replica computes the mean over its share of the
    # global batch and the optimizer *sums* the replicas' gradients; dividing by
    # the number of replicas makes that sum the gradient of the global-batch mean
    # (what Keras' compiled losses do with scale_loss_for_distribution).
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        grads = [tf.math.scalar_mul(1.0 / replicas, g) for g in grads]  # IndexedSlices too
    # The weights too: a NaN weight can hide behind a fused ReLU (NaN -> 0 in a
    # graph) and give a finite loss and zero gradients while eager calls return NaN.
    finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(loss))] + [
        tf.reduce_all(tf.math.is_finite(getattr(t, "values", t)))
        for t in [*grads, *variables]])
    if not tf.distribute.has_strategy():
        # The update is gated by a tf.cond, not only by an assertion: XLA
        # (jit_compile=True) drops assertions, a cond it keeps. A refused step is
        # counted; under "raise", fit's callback raises after the batch.
        def apply():
            model.optimizer.apply_gradients(zip(grads, variables))
            return tf.constant(True)

        def refuse():
            model.skipped_batches.assign_add(1)
            return tf.constant(False)

        return tf.cond(finite, apply, refuse)
    # A tf.distribute strategy (even one replica): the optimizer's merge_call
    # cannot run inside a tf.cond, so an assertion guards the update ("skip" is
    # refused at compile; under XLA the assertion is dropped).
    check = tf.debugging.Assert(finite, [NONFINITE_MARKER, "at optimizer step",
                                         model.optimizer.iterations + 1, "loss", loss])
    with tf.control_dependencies([check]):
        model.optimizer.apply_gradients(zip(grads, variables))
        return tf.identity(finite)


def _check_untracked_variables(model, tape: tf.GradientTape) -> None:
    """Raises ``ValueError`` when the step read trainable variables the model does not
    track: ``fit`` would never train them (a Keras 3 layer called inside a tf_keras
    ``Lambda``, a ``tf.Variable`` captured by a function). Skipped under a
    ``tf.distribute`` strategy, where the tape sees per-replica components."""
    if tf.distribute.has_strategy():
        return
    tracked = {id(v) for v in model.variables}  # a frozen layer's are tracked too
    untracked = sorted({v.name for v in tape.watched_variables() if id(v) not in tracked})
    if untracked:
        raise ValueError(
            f"{type(model).__name__} reads trainable variables that it does not track, so "
            f"`fit` would never train them: {untracked}. They belong to a layer Keras cannot "
            "see: a Keras 3 layer called inside a tf_keras Lambda or network, or a "
            f"tf.Variable captured by a function. {_keras.KERAS3_HELP} Hold every trainable "
            "piece as a tf_keras layer of the network.")
