"""``tfp-genmodels train``: fit a model crash-safely and write the run directory."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from typing import Any

import numpy as np

from tfp_genmodels import _io, data
from tfp_genmodels._distribute import make_strategy
from tfp_genmodels.cli import reports, runs
from tfp_genmodels.cli.errors import CLIError, TrainingFailed
from tfp_genmodels.cli.parser import upgrade_keys

# Options that do not change what is trained (may differ on --resume).
#: Every finished epoch's logs, rewritten in the backup directory after each epoch
#: (metrics.json's history survives an interruption and --resume through it).
HISTORY_FILE = "history.json"
_RUN_ONLY_OPTIONS = ("command", "out", "resume", "verbose", "overwrite", "eval_limit")


def training_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The options that define what is trained (saved as ``train_args.json``)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(vars(args).items())
            if k not in _RUN_ONLY_OPTIONS}


def _check_resume(args: argparse.Namespace, backup_dir: str) -> None:
    """A backup means an interrupted run: continue it only when asked, with the same options."""
    from tfp_genmodels.callbacks import latest_backup

    args_path = os.path.join(args.out, "train_args.json")
    backup = latest_backup(backup_dir)
    if not args.resume:
        if backup is not None:
            raise CLIError(f"{args.out} holds an interrupted run (backup {backup}); pass "
                           f"--resume to continue it, or remove {backup_dir} to start over.")
        return
    if backup is None or not os.path.isfile(args_path):
        raise CLIError(f"--resume: {args.out} holds no interrupted run to continue "
                       f"(no {backup_dir}).")
    before = upgrade_keys(_io.read_json(args_path))
    now = training_arguments(args)
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        raise CLIError("--resume needs the interrupted run's options; these differ: "
                       + ", ".join(f"{k} ({before.get(k)!r} before, {now.get(k)!r} now)"
                                   for k in changed) + ".")


def splits(args: argparse.Namespace, dataset: runs.Dataset, config: dict[str, Any]
            ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """The arrays (or dataset) to fit on, and the train / validation / test arrays."""
    train_x, val_x, test_x = (runs.as_model_input(x, config) for x in dataset[:3])
    if config["model"] == "vae" and config["likelihood"] == "bernoulli":
        # Binary MNIST: dynamic binarisation for training, fixed draws to evaluate.
        fit_x = data.dynamic_binarization(train_x, seed=args.seed).shuffle(
            10000, seed=args.seed).batch(args.batch_size)
        return (fit_x, data.fixed_binarization(train_x[:10000], seed=args.seed + 3),
                data.fixed_binarization(val_x, seed=args.seed + 1),
                data.fixed_binarization(test_x, seed=args.seed + 2))
    return train_x, train_x, val_x, test_x


def _fit(model: Any, args: argparse.Namespace, fit_x: Any, val_x: np.ndarray,
         backup_dir: str, history_path: str | None) -> tuple[dict[str, list[float]], list[int]]:
    """``fit`` with a ``BackupAndRestore`` backup and the non-finite-loss guard.

    Returns the history of every epoch (those before a ``--resume`` too, from
    :data:`HISTORY_FILE`) and the epochs run in this process.
    """
    import tensorflow as tf

    from tfp_genmodels._keras import keras
    from tfp_genmodels.callbacks import EpochRecorder, NonFiniteLossError, NonFiniteLossGuard

    epochs = EpochRecorder(history_path, resume=args.resume)
    callbacks = [NonFiniteLossGuard(backup_dir), keras.callbacks.BackupAndRestore(backup_dir),
                 epochs]
    try:
        model.fit(fit_x, validation_data=val_x, epochs=args.epochs,
                  batch_size=None if isinstance(fit_x, tf.data.Dataset) else args.batch_size,
                  callbacks=callbacks, verbose=args.verbose)
    except NonFiniteLossError as error:
        raise TrainingFailed(f"{error} Lower --learning-rate; --resume continues from "
                             "that checkpoint. No weights were written.") from error
    return epochs.history(), epochs.epochs


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Trains, evaluates, and writes the run directory; returns the metrics."""
    from tfp_genmodels._keras import keras

    if not args.resume and not args.overwrite and os.path.isfile(
            os.path.join(args.out, "metrics.json")):
        raise CLIError(f"--out {args.out} holds a finished run (metrics.json); pass "
                       "--overwrite to replace it, or choose another --out.")
    strategy = make_strategy(args.strategy)
    backup_dir = os.path.join(args.out, "backup")
    _check_resume(args, backup_dir)
    chief = strategy.extended.should_checkpoint  # false on non-chief workers only
    # Non-chief workers compute what the chief does (evaluation is collective)
    # but write to a scratch directory.
    out = args.out if chief else tempfile.mkdtemp(prefix="tfp-genmodels-worker-")
    try:
        keras.utils.set_random_seed(args.seed)
        dataset = runs.load_dataset(args.data, args.num_train, args.seed, args.mnist_path,
                                    args.data_path)
        config = runs.run_config(args, dataset)
        with strategy.scope():
            model = runs.build_model(config)
            model.compile(optimizer=keras.optimizers.Adam(args.learning_rate),
                          jit_compile=args.jit_compile)
        fit_x, train_x, val_x, test_x = splits(args, dataset, config)
        os.makedirs(out, exist_ok=True)
        _io.write_json(os.path.join(out, "config.json"), config)
        _io.write_json(os.path.join(out, "train_args.json"), training_arguments(args))
        start = time.perf_counter()
        # The history of an unfinished run lives with its backup (a run that fails
        # writes nothing over a finished run in --out).
        history, epochs = _fit(model, args, fit_x, val_x, backup_dir,
                               os.path.join(backup_dir, HISTORY_FILE) if chief else None)
        seconds = time.perf_counter() - start
        if chief and os.path.isdir(backup_dir) and set(os.listdir(backup_dir)) <= {HISTORY_FILE}:
            # BackupAndRestore empties it when training completes; the history is in hand.
            shutil.rmtree(backup_dir)
        runs.save_model(model, out)
        if os.path.isdir(os.path.join(out, runs.LEGACY_WEIGHTS)):  # --overwrite of a 0.1.0 run
            shutil.rmtree(os.path.join(out, runs.LEGACY_WEIGHTS))
        metrics = {"model": args.model, "data": args.data, "epochs": args.epochs,
                   "epochs_run": len(epochs),
                   "resumed_from_epoch": epochs[0] if epochs else args.epochs,
                   "strategy": args.strategy, "replicas": strategy.num_replicas_in_sync,
                   "train_seconds": round(seconds, 2),
                   "num_parameters": int(sum(np.prod(v.shape)
                                             for v in model.trainable_variables)),
                   "history": history}
        arrays = (train_x, val_x, test_x)
        if config["model"] == "vae":
            metrics.update(reports.vae_results(model, config, args, *arrays, out,
                                               dataset.test_labels))
        else:
            metrics.update(reports.flow_results(model, config, args, *arrays, out))
        _io.write_json(os.path.join(out, "metrics.json"), metrics)
        return metrics
    finally:
        if not chief:
            shutil.rmtree(out, ignore_errors=True)
