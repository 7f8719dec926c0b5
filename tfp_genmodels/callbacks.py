"""Keras callbacks for crash-safe training.

Pair :class:`NonFiniteLossGuard` with ``tf_keras.callbacks.BackupAndRestore``
(guard first)::

    backup = "runs/x/backup"
    model.fit(x, epochs=100, callbacks=[
        NonFiniteLossGuard(backup_dir=backup),
        keras.callbacks.BackupAndRestore(backup)])

A killed process resumes from the last backup when the same ``fit`` is run
again; a non-finite loss stops training at once, before the backup (or
anything else) could store the broken weights.
"""

from __future__ import annotations

import math
import os

import tensorflow as tf

from tfp_genmodels._keras import keras


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; raised by :class:`NonFiniteLossGuard`."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Stops ``fit`` at the first step whose loss is not finite (TerminateOnNaN, strict).

    Keras' ``TerminateOnNaN`` sets ``stop_training``, which still ends the
    epoch: ``on_epoch_end`` callbacks such as ``BackupAndRestore`` or
    ``ModelCheckpoint`` would then save the NaN weights over the last good
    ones. This guard raises :class:`NonFiniteLossError` from
    ``on_train_batch_end`` instead, so no later callback runs; the message
    names the optimizer step, the epoch and batch, and the last good
    checkpoint in ``backup_dir`` (the ``BackupAndRestore`` directory), if any.
    List it before the callbacks that save.
    """

    def __init__(self, backup_dir: str | None = None):
        super().__init__()
        self.backup_dir = backup_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None) -> None:
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        step = int(self.model.optimizer.iterations.numpy())
        raise NonFiniteLossError(
            f"the training loss became {float(loss)} at step {step} (epoch {self._epoch + 1}, "
            f"batch {batch + 1}); training stopped and nothing was saved after it. "
            f"Last good checkpoint: {self.last_good_checkpoint() or 'none yet'}.")

    def last_good_checkpoint(self) -> str | None:
        return latest_backup(self.backup_dir) if self.backup_dir else None


def latest_backup(backup_dir: str) -> str | None:
    """The newest checkpoint that ``BackupAndRestore(backup_dir)`` left (in ``chief/``
    or directly in the directory), or ``None``: the run finished or never saved."""
    for directory in (os.path.join(backup_dir, "chief"), backup_dir):
        if os.path.isdir(directory):
            found = tf.train.latest_checkpoint(directory)
            if found:
                return found
    return None


class EpochRecorder(keras.callbacks.Callback):
    """Records the epochs that ran in this process (after ``BackupAndRestore``
    resumes a run, the first is the epoch it resumed at) and every epoch's logs.

    With ``history_path`` the logs of every finished epoch are written there
    (atomically, as JSON) at the end of each epoch; with ``resume=True`` the
    file of the interrupted run is read first, so that :meth:`history` holds
    the epochs before the interruption too (``fit``'s own ``History`` only
    knows this process's epochs).
    """

    def __init__(self, history_path: str | None = None, resume: bool = False):
        super().__init__()
        self.epochs: list[int] = []
        self.history_path = history_path
        self.logs: dict[int, dict[str, float]] = {}
        if resume and history_path is not None and os.path.isfile(history_path):
            from tfp_genmodels import _io

            saved = _io.read_json(history_path).get("epochs", {})
            self.logs = {int(epoch): logs for epoch, logs in saved.items()}

    def on_epoch_begin(self, epoch, logs=None) -> None:
        if not self.epochs:  # this process starts (or resumes) here: later logs are stale
            self.logs = {e: values for e, values in self.logs.items() if e < epoch}
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.logs[epoch] = {k: float(v) for k, v in (logs or {}).items()}
        if self.history_path is not None:
            from tfp_genmodels import _io

            os.makedirs(os.path.dirname(self.history_path) or ".", exist_ok=True)
            _io.write_json(self.history_path,
                           {"epochs": {str(e): v for e, v in sorted(self.logs.items())}})

    def history(self) -> dict[str, list[float]]:
        """Every recorded epoch's logs, key by key, in epoch order (``History.history``'s
        layout, across resumes)."""
        keys = sorted({k for values in self.logs.values() for k in values})
        return {k: [self.logs[e].get(k, math.nan) for e in sorted(self.logs)] for k in keys}
