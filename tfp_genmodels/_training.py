"""Pieces shared by the Keras models' training steps (``FlowModel`` and ``VAE``).

:class:`CheckedModel` holds what both models need from Keras' ``compile`` and
``fit``: no ``loss``/``metrics`` (the loss is the model's own), Keras 3
objects refused, inputs of the wrong kind refused with the argument's name,
and the non-finite policy (``compile(on_nonfinite=...)``):

* ``"raise"`` (default): a step whose loss, any gradient or any weight is NaN or inf
  applies no update and ``fit`` raises :class:`NonFiniteLossError` naming the
  epoch, batch and optimizer step; the weights are the last finite ones.
* ``"skip"``: such a step applies no update, is counted in
  ``model.skipped_batches`` and ``fit`` warns at the end of each epoch that
  skipped any; training goes on. (A batch with a NaN row is skipped whole.)

The update is gated by a ``tf.cond`` (XLA keeps it; it drops assertions) and
a refused step is counted in ``model.skipped_batches``; under ``"raise"`` a
callback raises after that batch. Under a ``tf.distribute`` strategy an
assertion guards the update instead (the optimizer's ``merge_call`` cannot
run in a cond), so there ``"skip"`` is refused and ``jit_compile`` drops the
guard.
"""

from __future__ import annotations

import contextlib
import re
import warnings

import numpy as np
import tensorflow as tf

from tfp_genmodels import _keras
from tfp_genmodels.callbacks import NonFiniteLossError, NonFiniteLossGuard

NONFINITE_POLICIES = ("raise", "skip")
# Marks the run-time assertion, so fit can tell it from other InvalidArgumentErrors.
_NONFINITE_MARKER = "tfp_genmodels: non-finite loss, gradient or weight"


def weighted_mean(values: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """``sum_b(w_b * v_b) / sum_b(w_b)`` over the batch axis 0 (the plain mean
    without weights); ``values`` ``[B]`` gives a scalar, ``[B, L]`` gives ``[L]``.

    Weights act as example frequencies: a weight of 2 counts an example twice.
    """
    if sample_weight is None:
        return tf.reduce_mean(values, axis=0)
    w = tf.cast(tf.reshape(sample_weight, [-1]), values.dtype)
    w = tf.reshape(w, tf.concat([[-1], tf.ones([tf.rank(values) - 1], tf.int32)], 0))
    return tf.math.divide_no_nan(tf.reduce_sum(w * values, axis=0), tf.reduce_sum(w))


def unpack_context(data):
    """``(x, context, sample_weight)`` from what Keras hands a step (or ``call``):
    ``x``, ``(x, c)``, ``((x, c),)``, ``(x, c, w)`` or ``((x, c), None, w)``."""
    if not isinstance(data, (tuple, list)):
        return data, None, None
    x, y, sample_weight = _keras.keras.utils.unpack_x_y_sample_weight(tuple(data))
    if is_weight_placeholder(y):
        y = None
    if y is None and isinstance(x, (tuple, list)) and len(x) == 2:
        x, y = x
    return x, y, sample_weight


def batch_weight(x: tf.Tensor, sample_weight: tf.Tensor | None) -> tf.Tensor:
    """The batch's total weight: its size, or ``sum(w)`` (for epoch averages of
    batch means)."""
    if sample_weight is None:
        return tf.cast(tf.shape(x)[0], tf.float32)
    return tf.reduce_sum(tf.cast(sample_weight, tf.float32))


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
    check = tf.debugging.Assert(finite, [_NONFINITE_MARKER, "at optimizer step",
                                         model.optimizer.iterations + 1, "loss", loss])
    with tf.control_dependencies([check]):
        model.optimizer.apply_gradients(zip(grads, variables))
        return tf.identity(finite)


def only_if(applied: tf.Tensor, values, sample_weight=None):
    """``(values, weight)`` for metric updates that count a step only if it was
    applied: a skipped step's (non-finite) values become 0 with weight 0."""
    values = tf.nest.map_structure(
        lambda v: tf.where(applied, v, tf.zeros_like(v)), values)
    first = tf.nest.flatten(values)[0]
    weight = tf.ones_like(first) if sample_weight is None else tf.cast(
        tf.reshape(sample_weight, tf.shape(first)), first.dtype)
    return values, weight * tf.cast(applied, first.dtype)


def as_validation_data(validation_data):
    """Keras' ``fit`` rejects a bare array as ``validation_data``; wrap it as ``(x,)``.

    Array-likes (a pandas DataFrame, a list of rows) become NumPy arrays first:
    Keras would otherwise test their truth value.
    """
    if validation_data is None or isinstance(validation_data, (tuple, tf.data.Dataset)):
        return validation_data
    if isinstance(validation_data, (np.ndarray, tf.Tensor)):
        return (validation_data,)
    if hasattr(validation_data, "__array__") or isinstance(validation_data, list):
        return (check_data_arg(np.asarray(validation_data), "validation_data"),)
    return validation_data


def check_data_arg(value, name: str):
    """Refuses data Keras would misread: strings, dicts, empty or non-numeric arrays."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"`{name}` must be an array, a tf.Tensor, a tuple (x, context) or a "
                        f"tf.data.Dataset; got the string {value!r}. Load the data first "
                        f"(e.g. tfp_genmodels.data.toy_sample('moons', 10000)).")
    if isinstance(value, dict):
        raise TypeError(f"`{name}` must be an array, a tf.Tensor, a tuple (x, context) or a "
                        f"tf.data.Dataset; got a dict with keys {sorted(value)}.")
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise ValueError(f"`{name}` is empty; got {value!r}.")
        for i, part in enumerate(value):
            check_data_arg(part, f"{name}[{i}]")
        return value
    if isinstance(value, np.ndarray) or hasattr(value, "__array__") and not isinstance(
            value, (tf.Tensor, tf.Variable)):
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"`{name}` must hold numbers; got dtype {array.dtype} "
                            f"({type(value).__name__}).")
        if array.size == 0:
            raise ValueError(f"`{name}` is empty; got an array of shape {array.shape}.")
    return value


def with_weight_placeholder(y, sample_weight):
    """Keras drops ``sample_weight`` when ``y`` is None (there is nothing to weigh
    a loss against), which would ignore the weights silently. Our models have
    no targets, so an empty ``[N, 0]`` placeholder stands in for ``y``;
    :func:`is_weight_placeholder` recognises it in the step."""
    if sample_weight is None or y is not None:
        return y
    return np.zeros([len(sample_weight), 0], np.float32)


def is_weight_placeholder(y) -> bool:
    return (y is not None and not isinstance(y, (tuple, list, dict))
            and y.shape.rank == 2 and y.shape[-1] == 0)


# The message of one of our run-time checks (`_validation.assert_*`) inside a
# graph error: "assertion failed: [`x` must ...] [data]".
_INPUT_CHECK = re.compile(
    r"assertion failed: \[(`\w+` must.*?)\](?= \[|\s*$)(?: \[([^\]]*)\])?", re.M)
# The same check by `tf.ensure_shape`, which may fail first (the two run in parallel).
_SHAPE_CHECK = re.compile(r"Shape of tensor \S+ \[([^\]]*)\] is not compatible with "
                          r"expected shape \[([^\]]*)\].*?check_(\w+?)_event_shape", re.S)


@contextlib.contextmanager
def input_errors_as_value_errors():
    """Turns a failed run-time input check inside ``fit``/``evaluate``/``predict``
    (a graph ``InvalidArgumentError`` with a long trace) into the ``ValueError``
    an eager call raises: the argument, the expectation and what was received."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        shape = _SHAPE_CHECK.search(str(error))
        if shape is not None:
            got, expected, name = shape.groups()
            event = tuple(int(d) for d in expected.split(",") if d.strip() not in ("?", ""))
            raise ValueError(f"`{name}` must have trailing (event) shape {event}; got shape "
                             f"[{got}]") from None
        found = _INPUT_CHECK.search(str(error))
        if found is None:
            raise
        message = found.group(1).replace("\\'", "'")  # TF escapes quotes in the trace
        data = found.group(2)
        raise ValueError(message + (f" [{data}]" if data and "Condition" not in data else "")
                         ) from None


class _EpochAndBatch:
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


class CheckedModel:
    """Mixin (before ``keras.Model``): checked ``compile`` and ``fit`` (module docstring)."""

    on_nonfinite = "raise"

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
        y = with_weight_placeholder(y, sample_weight)
        kwargs["sample_weight"] = sample_weight
        callbacks = list(callbacks or [])
        for i, callback in enumerate(callbacks):
            _keras.refuse_keras3(callback, f"callbacks[{i}]")
        position = _EpochAndBatch(self)
        position.guards = [c for c in callbacks if isinstance(c, NonFiniteLossGuard)]
        try:
            with input_errors_as_value_errors():
                return super().fit(x, y, *args,
                                   validation_data=as_validation_data(validation_data),
                                   callbacks=[position.callback, *callbacks], **kwargs)
        except tf.errors.InvalidArgumentError as error:
            if _NONFINITE_MARKER not in str(error):
                raise
            raise position.error() from None

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 *args, **kwargs):
        """``keras.Model.evaluate``, with ``sample_weight`` honoured (see ``fit``)."""
        check_data_arg(x, "x")
        with input_errors_as_value_errors():
            return super().evaluate(x, with_weight_placeholder(y, sample_weight), batch_size,
                                    verbose, sample_weight, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """``keras.Model.predict`` (the per-example log density / ELBO), input checked."""
        check_data_arg(x, "x")
        with input_errors_as_value_errors():
            return super().predict(x, *args, **kwargs)


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
