"""Argument, shape and value checks shared by the bijectors and the models.

Every error names the argument, the expected value and the received value.
The argument checks run at Python time and cost nothing inside a traced
graph; the input checks below them also add run-time checks to the graph.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

# The Python-time argument checks live in `_args` (NumPy only, so that `data` and
# the CLI parser can use them without importing TensorFlow); re-exported here.
from tfp_genmodels._args import (  # noqa: F401
    int_arg,
    nonnegative_float_arg,
    nonnegative_int_arg,
    positive_float_arg,
    positive_int_arg,
)

#: What a parameter accepts: anything ``tf.convert_to_tensor`` takes.
TensorLike = tf.Tensor | tf.Variable | np.ndarray | float | Sequence[float]

#: The messages of the run-time checks below, as put into graphs (and the names of
#: their ``ensure_shape`` ops) -> the message: a failed check inside ``fit``,
#: ``evaluate`` or ``predict`` is recognised by its own message
#: (``_training.inputs``), not by parsing TensorFlow's error text.
RUNTIME_CHECKS: dict[str, str] = {}


def runtime_message(message: str, op_name: str | None = None) -> str:
    """Registers ``message`` (and the op ``op_name`` that may fail with it) as one of our
    run-time checks; returns ``message``."""
    RUNTIME_CHECKS[message] = message
    if op_name is not None:
        RUNTIME_CHECKS[op_name] = message
    return message


def event_shape_arg(event_shape: Sequence[int] | tf.TensorShape,
                    name: str = "event_shape",
                    ranks: Sequence[int] | None = None) -> tuple[int, ...]:
    """Returns ``event_shape`` as a tuple of positive Python ints, or raises."""
    if isinstance(event_shape, (int, np.integer)):
        event_shape = (int(event_shape),)
    try:
        shape = tuple(int(d) for d in tf.TensorShape(event_shape).as_list())
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be a fully known shape of positive ints; "
                         f"got {event_shape!r}.") from err
    if not shape or any(d <= 0 for d in shape):
        raise ValueError(f"`{name}` must be a non-empty shape of positive ints; "
                         f"got {event_shape!r}.")
    if ranks is not None and len(shape) not in ranks:
        raise ValueError(f"`{name}` must have rank in {tuple(ranks)}; got "
                         f"{shape} (rank {len(shape)}).")
    return shape


def check_event_shape(x: tf.Tensor, event_shape: Sequence[int],
                      name: str = "x") -> None:
    """Raises if the static trailing dimensions of ``x`` contradict ``event_shape``."""
    shape = x.shape
    if shape.rank is None:
        return
    ndims = len(event_shape)
    if shape.rank < ndims:
        raise ValueError(
            f"`{name}` must have rank >= {ndims} with trailing (event) shape "
            f"{tuple(event_shape)}; got shape {shape.as_list()} (rank {shape.rank}).")
    trailing = shape[shape.rank - ndims:]
    if not trailing.is_compatible_with(event_shape):
        raise ValueError(
            f"`{name}` must have trailing (event) shape {tuple(event_shape)}; got "
            f"shape {shape.as_list()}.")


# -- checks that also run inside traced graphs ------------------------------------------
# Keras traces `train_step` once with relaxed shapes ([None, None]), and a SavedModel
# signature is fed by TF Serving without a shape check, so a static check alone
# passes a wrong column count silently after the first call. These add run-time
# checks (and `ensure_shape`, which XLA checks too) to the graph.
def as_float_tensor(x, name: str, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """``x`` as a float tensor, or a ``TypeError`` naming ``name`` for non-numeric input."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"`{name}` must be a numeric array or tensor; got the string {x!r}.")
    if isinstance(x, dict):
        raise TypeError(f"`{name}` must be a numeric array or tensor; got a dict with keys "
                        f"{sorted(x)}.")
    if isinstance(x, (tf.Tensor, tf.Variable)):
        if not (x.dtype.is_floating or x.dtype.is_integer or x.dtype.is_bool):
            raise TypeError(f"`{name}` must be numeric; got a tensor of dtype {x.dtype.name}.")
        return tf.cast(x, dtype)
    array = np.asarray(x)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"`{name}` must be a numeric array or tensor; got dtype "
                        f"{array.dtype} ({type(x).__name__}).")
    return tf.convert_to_tensor(array, dtype)


def assert_event_shape(x: tf.Tensor, event_shape: Sequence[int], name: str = "x") -> tf.Tensor:
    """``x`` with its trailing shape checked at trace time *and* at run time.

    The static check raises ``ValueError`` at once; in a graph, a run-time
    ``Assert`` (an ``InvalidArgumentError`` with the same message and the
    shape received) and ``tf.ensure_shape`` cover what the static shape leaves
    unknown. The size test (``size == prod(batch) * prod(event)``) cannot be
    constant-folded away while the batch size is unknown.
    """
    check_event_shape(x, event_shape, name)
    op_name = f"check_{name}_event_shape_{'_'.join(str(int(d)) for d in event_shape)}"
    message = runtime_message(
        f"`{name}` must have trailing (event) shape {tuple(event_shape)}; got shape",
        op_name=op_name)
    if tf.executing_eagerly():
        return x  # eager shapes are concrete: the static check was complete
    k = len(event_shape)
    shape = tf.shape(x)
    ok = tf.logical_and(
        tf.equal(tf.size(x), tf.reduce_prod(shape[:-k]) * int(np.prod(event_shape))),
        tf.reduce_all(tf.equal(shape[-k:], list(event_shape))))
    with tf.control_dependencies([tf.debugging.Assert(ok, [message, shape])]):
        x = tf.identity(x)
    if x.shape.rank is not None:
        # The op's name carries the argument's name into the error message
        # (registered above, so that fit can name the argument).
        x = tf.ensure_shape(x, [None] * (x.shape.rank - k) + list(event_shape), name=op_name)
    return x


def require_context(context, context_shape: Sequence[int] | None, owner: str,
                    hint: str = "") -> bool:
    """Whether ``context`` is to be used; raises ``ValueError`` when it is given to
    ``owner`` (e.g. "an unconditional flow") built without ``context_shape``, or
    missing for one built with it. ``hint`` ends the message for a missing context."""
    if context_shape is None:
        if context is not None:
            raise ValueError(f"`context` was given to {owner} built without "
                             f"`context_shape`; got context of shape "
                             f"{getattr(context, 'shape', np.shape(context))}.")
        return False
    if context is None:
        raise ValueError(f"`context` of shape [..., {context_shape[0]}] is required by "
                         f"{owner} (built with context_shape={tuple(context_shape)}); "
                         f"got None.{hint}")
    return True


def checked_input(x, event_shape: Sequence[int], name: str, finite: bool = True,
                  dtype: tf.DType = tf.float32) -> tf.Tensor:
    """A model input cast to ``dtype``, checked on every call (eager and in any
    graph): numeric (:func:`as_float_tensor`), trailing shape ``event_shape``
    (:func:`assert_event_shape`) and, with ``finite``, no NaN or inf."""
    x = assert_event_shape(as_float_tensor(x, name, dtype), event_shape, name)
    return assert_finite(x, name) if finite else x


def assert_finite(x: tf.Tensor, name: str = "x") -> tf.Tensor:
    """``x``, after a check that it holds no NaN or inf (``InvalidArgumentError``)."""
    return tf.debugging.assert_all_finite(x, runtime_message(
        f"`{name}` must be finite; it holds NaN or inf (drop or impute those rows)."))


def assert_in_range(x: tf.Tensor, low: float, high: float, message: str) -> tf.Tensor:
    """``x``, after a check that every value lies in ``[low, high]`` (in any graph).

    XLA (``jit_compile=True``) drops assertions, so values outside the range
    also become NaN: the result is then NaN (and training stops under the
    non-finite policy) instead of a plausible wrong number.
    """
    low, high = tf.cast(low, x.dtype), tf.cast(high, x.dtype)
    runtime_message(message)
    with tf.control_dependencies([
            tf.debugging.assert_greater_equal(x, low, message=message),
            tf.debugging.assert_less_equal(x, high, message=message)]):
        in_range = tf.logical_and(x >= low, x <= high)
        return tf.where(in_range, x, tf.constant(float("nan"), x.dtype))


def num_samples_arg(n, name: str = "n"):
    """A positive Python int (``ValueError``/``TypeError`` naming ``name``), or a
    scalar integer tensor (a traced sample count, e.g. a serving signature's)."""
    if isinstance(n, (tf.Tensor, tf.Variable)):
        if not n.dtype.is_integer or n.shape.rank not in (None, 0):
            raise TypeError(f"`{name}` must be a positive int or a scalar int tensor; got a "
                            f"{n.dtype.name} tensor of shape {n.shape}.")
        if tf.is_symbolic_tensor(n) or isinstance(n, tf.Variable):
            return n  # its value is known only when the graph runs
        n = int(n.numpy())
    elif isinstance(n, np.ndarray) and n.ndim == 0 and np.issubdtype(n.dtype, np.integer):
        n = int(n)
    return positive_int_arg(n, name)


def assert_support(x: tf.Tensor, ok: tf.Tensor, message: str, finite: bool = True) -> tf.Tensor:
    """``x``, after a check that ``ok`` (a boolean tensor shaped like ``x``) holds
    everywhere: eagerly a ``ValueError`` quoting ``message`` and a few offending values;
    in a graph a run-time assertion with the same message (``fit``, ``tf.data``,
    exported signatures), and, since XLA drops assertions, offending values become NaN.

    ``message`` starts with the backticked argument name and says what is expected;
    with ``finite=False`` a NaN passes (it is left to the non-finite policy).
    """
    if not finite:
        ok = tf.logical_or(ok, tf.math.is_nan(x))
    bad = tf.boolean_mask(tf.reshape(x, [-1]), tf.logical_not(tf.reshape(ok, [-1])))
    if tf.executing_eagerly():
        if int(tf.size(bad)):
            shown = ", ".join(f"{v:g}" for v in bad.numpy()[:5])
            raise ValueError(f"{message}; got {int(tf.size(bad))} value(s) outside it, "
                             f"e.g. {shown}.")
        return x
    runtime_message(message)
    with tf.control_dependencies([tf.debugging.Assert(
            tf.reduce_all(ok), [message + "; got values outside it, e.g.", bad[:5]],
            summarize=5)]):
        return tf.where(ok, x, tf.constant(float("nan"), x.dtype))


def in_unit_interval(x: tf.Tensor) -> tf.Tensor:
    """Elementwise: whether ``x`` lies in ``[0, 1]`` (a Bernoulli's support; NaN: no)."""
    return tf.logical_and(x >= 0.0, x <= 1.0)


def in_levels(x: tf.Tensor, top) -> tf.Tensor:
    """Elementwise: whether ``x`` is one of the integers ``0..top`` (NaN: no)."""
    return tf.logical_and(tf.equal(x, tf.round(x)), tf.logical_and(x >= 0.0, x <= top))


def assert_context_batch(x: tf.Tensor, event_ndims: int, context: tf.Tensor,
                         name: str = "context") -> tf.Tensor:
    """``context``, after a check that its batch shape is ``x``'s (one context per
    example) or empty (one context ``[K]`` for every example), eagerly and in any graph.

    Without it a mismatch (4 examples, 3 contexts) surfaces as TensorFlow's raw
    ``BroadcastTo`` error, which names neither argument.
    """
    x_batch = tf.shape(x)[:tf.rank(x) - event_ndims]
    c_batch = tf.shape(context)[:-1]
    message = (f"`{name}` must have one row per example of `x` (the same batch shape) or "
               f"be one vector for all of them")
    static_x = x.shape[:x.shape.rank - event_ndims] if x.shape.rank is not None else None
    static_c = context.shape[:-1] if context.shape.rank is not None else None
    if (static_x is not None and static_c is not None and static_c.rank
            and not static_c.is_compatible_with(static_x)):
        raise ValueError(f"{message}; got `x` of shape {x.shape.as_list()} and `{name}` of "
                         f"shape {context.shape.as_list()}.")
    if tf.executing_eagerly():
        if c_batch.shape[0] and x_batch.numpy().tolist() != c_batch.numpy().tolist():
            raise ValueError(f"{message}; got `x` of shape {x.shape.as_list()} (batch "
                             f"{x_batch.numpy().tolist()}) and `{name}` of shape "
                             f"{context.shape.as_list()} (batch {c_batch.numpy().tolist()}).")
        return context
    same = tf.cond(tf.equal(tf.size(c_batch), tf.size(x_batch)),
                   lambda: tf.reduce_all(tf.equal(c_batch, x_batch)),
                   lambda: tf.constant(False))
    ok = tf.logical_or(tf.equal(tf.size(c_batch), 0), same)
    runtime_message(message)
    with tf.control_dependencies([tf.debugging.Assert(
            ok, [message + "; got batch shapes (x, context)", x_batch, c_batch])]):
        return tf.identity(context)
