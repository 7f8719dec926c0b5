"""The Keras side both models share (``FlowModel`` and ``VAE``): checked ``compile``,
``fit``, ``evaluate`` and ``predict``.

:class:`CheckedModel` holds what both models need from Keras' ``compile`` and
``fit``: no ``loss``/``metrics`` (the loss is the model's own), Keras 3
objects refused, data checked before the call (:mod:`.inputs`), and the
non-finite policy (``compile(on_nonfinite=...)``):

* ``"raise"`` (default): a step whose loss, any gradient or any weight is NaN or inf
  applies no update and ``fit`` raises :class:`NonFiniteLossError` naming the
  epoch, batch and optimizer step; the weights are the last finite ones.
* ``"skip"``: such a step applies no update, is counted in
  ``model.skipped_batches`` and ``fit`` warns at the end of each epoch that
  skipped any; training goes on. (A batch with a NaN row is skipped whole.)

The update is gated by a ``tf.cond`` (XLA keeps it; it drops assertions) and
a refused step is counted in ``model.skipped_batches``; under ``"raise"`` a
callback raises after that batch (:mod:`.gradient_step`). Under a
``tf.distribute`` strategy an assertion guards the update instead (the
optimizer's ``merge_call`` cannot run in a cond), so there ``"skip"`` is
refused and ``jit_compile`` drops the guard.
"""

from __future__ import annotations

import tensorflow as tf

from tfp_genmodels import _keras
from tfp_genmodels._training.batches import with_weight_placeholder
from tfp_genmodels._training.bookkeeping import EpochAndBatch
from tfp_genmodels._training.gradient_step import NONFINITE_MARKER
from tfp_genmodels._training.inputs import (
    as_validation_data,
    check_before_call,
    check_data_arg,
    input_errors_as_value_errors,
)
from tfp_genmodels.callbacks import NonFiniteLossGuard

NONFINITE_POLICIES = ("raise", "skip")


class CheckedModel:
    """Mixin (before ``keras.Model``): checked ``compile`` and ``fit`` (module docstring)."""

    on_nonfinite = "raise"

    def check_inputs(self, x, context=None, finite: bool = True) -> None:
        """Checks a batch of data as every call of the model does (shape, range or
        support, finiteness, context), eagerly: ``ValueError`` / ``TypeError`` naming
        the argument. Run on array data before ``fit``/``evaluate``/``predict``."""
        raise NotImplementedError

    def _create_skip_counter(self) -> None:
        self.skipped_batches = tf.Variable(0, trainable=False, dtype=tf.int64,
                                           name="skipped_batches")

    def skipped_count(self) -> int:
        return int(self.skipped_batches.numpy())

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, on_nonfinite: str = "raise", **kwargs):
        """``keras.Model.compile`` for a model whose loss is its own.

        Args:
          optimizer: a tf_keras optimizer or its name (Keras 3 ones are refused).
          on_nonfinite: ``"raise"`` or ``"skip"`` (module docstring).
        """
        name = type(self).__name__
        for arg, value in (("loss", loss), ("loss_weights", loss_weights)):
            if value is not None:
                raise ValueError(f"`{arg}` is not used by {name}: its loss is fixed (the "
                                 f"negative log-likelihood / negative ELBO); got {value!r}. "
                                 "Call compile(optimizer=...) without it.")
        for arg, value in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
            if value:
                raise ValueError(f"`{arg}` is not supported by {name}: there are no targets "
                                 f"to compare predictions with; got {value!r}. Its own "
                                 "metrics are logged (see `model.metrics`); add a callback "
                                 "for anything else.")
        _keras.refuse_keras3(optimizer, "optimizer")
        if on_nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"`on_nonfinite` must be one of {NONFINITE_POLICIES}; got "
                             f"{on_nonfinite!r}.")
        if on_nonfinite == "skip" and tf.distribute.has_strategy():
            raise ValueError("`on_nonfinite='skip'` works without a tf.distribute strategy "
                             "(the skip is a tf.cond around the optimizer step, and a "
                             "strategy's gradient all-reduce cannot run inside one); under "
                             f"{type(tf.distribute.get_strategy()).__name__} use the default "
                             "'raise'.")
        self.on_nonfinite = on_nonfinite
        super().compile(optimizer=optimizer, **kwargs)
        if hasattr(self.optimizer, "build"):
            # Slots exist before the first step (a skipped step must not create them
            # inside a tf.cond branch).
            self.optimizer.build(self.trainable_variables)

    def get_compile_config(self) -> dict | None:
        """Keras' compile config plus ``on_nonfinite`` (saved in ``.keras`` files)."""
        config = super().get_compile_config()
        if config is not None:
            config = {**config, "on_nonfinite": self.on_nonfinite}
        return config

    def compile_from_config(self, config: dict) -> None:
        """Re-compiles a loaded model (Keras skips models with a custom ``compile``)."""
        from tfp_genmodels._keras import keras

        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)  # builds the optimizer's slots (see compile)

    def fit(self, x=None, y=None, *args, validation_data=None, callbacks=None,
            sample_weight=None, **kwargs):
        """``keras.Model.fit``; also accepts a bare array (or DataFrame) as
        ``validation_data``, and applies the non-finite policy."""
        check_data_arg(x, "x")
        if y is not None:
            check_data_arg(y, "y")
        # NaN rows are left to the non-finite policy (raise or skip) in training.
        check_before_call(self, x, y, finite=False)
        y = with_weight_placeholder(y, sample_weight)
        kwargs["sample_weight"] = sample_weight
        callbacks = list(callbacks or [])
        for i, callback in enumerate(callbacks):
            _keras.refuse_keras3(callback, f"callbacks[{i}]")
        position = EpochAndBatch(self)
        position.guards = [c for c in callbacks if isinstance(c, NonFiniteLossGuard)]
        try:
            with input_errors_as_value_errors():
                return super().fit(x, y, *args,
                                   validation_data=as_validation_data(validation_data),
                                   callbacks=[position.callback, *callbacks], **kwargs)
        except tf.errors.InvalidArgumentError as error:
            if NONFINITE_MARKER not in str(error):
                raise
            raise position.error() from None

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 *args, **kwargs):
        """``keras.Model.evaluate``, with ``sample_weight`` honoured (see ``fit``)."""
        check_data_arg(x, "x")
        check_before_call(self, x, y, finite=True)
        with input_errors_as_value_errors():
            return super().evaluate(x, with_weight_placeholder(y, sample_weight), batch_size,
                                    verbose, sample_weight, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """``keras.Model.predict`` (the per-example log density / ELBO), input checked."""
        check_data_arg(x, "x")
        check_before_call(self, x, None, finite=True)
        with input_errors_as_value_errors():
            return super().predict(x, *args, **kwargs)
