"""Where ``fit`` is (epoch, batch, skipped steps), for the non-finite policy's error and
warnings."""

from __future__ import annotations

import warnings

from tfp_genmodels.callbacks import NonFiniteLossError


class EpochAndBatch:
    """Remembers where ``fit`` is, for error messages and warnings."""

    def __init__(self, model):
        from tfp_genmodels._keras import keras

        position = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                position.epoch, position.skipped_at_start = epoch, model.skipped_count()

            def on_train_batch_begin(self, batch, logs=None):
                position.batch = batch

            def on_train_batch_end(self, batch, logs=None):
                if (model.on_nonfinite == "raise"
                        and model.skipped_count() > position.skipped_at_start):
                    raise position.error()

            def on_epoch_end(self, epoch, logs=None):
                skipped = model.skipped_count() - position.skipped_at_start
                if skipped:
                    warnings.warn(f"epoch {epoch + 1}: skipped {skipped} batch(es) whose loss, "
                                  "gradients or weights held NaN or inf "
                                  "(on_nonfinite='skip'); their updates were not applied.",
                                  RuntimeWarning, stacklevel=2)

        self.model, self.guards = model, []
        self.epoch, self.batch, self.skipped_at_start = 0, 0, 0
        self.callback = Callback()

    def error(self) -> NonFiniteLossError:
        """The error of ``on_nonfinite="raise"``: where it happened and what to do."""
        checkpoints = [guard.last_good_checkpoint() for guard in self.guards]
        return NonFiniteLossError(
            f"the loss, a gradient or a weight was NaN or inf at step "
            f"{int(self.model.optimizer.iterations.numpy()) + 1} (epoch {self.epoch + 1}, "
            f"batch {self.batch + 1}); that update was not applied, so the weights "
            "are the last finite ones. Check the data for NaN/inf rows (np.isfinite) or "
            "pixels out of range (with jit_compile=True they show up here), "
            "lower the learning rate, or compile(on_nonfinite='skip') to skip such "
            "batches with a warning."
            + (f" Last good checkpoint: {checkpoints[0] or 'none yet'}."
               if checkpoints else ""))
