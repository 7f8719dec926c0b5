"""Data arguments of ``fit`` / ``evaluate`` / ``predict``: refused when Keras would misread
them, checked *before* the call, and a failed run-time check reported as the
``ValueError`` an eager call raises.

Arrays are checked eagerly with the model's own input checks (shape, range,
support, finiteness, context) before Keras traces a step, so the error names
the argument, the expectation and values received. A ``tf.data`` pipeline's
shapes are checked against the model's from its ``element_spec``; its values
can only be checked inside the step, where our run-time checks
(:mod:`tfp_genmodels._validation`) fail with an ``InvalidArgumentError``.
That error is recognised by the check's own message (registered in
``_validation.RUNTIME_CHECKS`` when the check was built), not by parsing
TensorFlow's text, and re-raised as a ``ValueError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from tfp_genmodels import _validation
from tfp_genmodels._training.batches import unpack_context

#: Rows checked at once by :func:`check_before_call` (bounds its memory).
CHECK_CHUNK = 8192


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


def _as_array(value):
    if isinstance(value, (np.ndarray, tf.Tensor)):
        return value
    if hasattr(value, "__array__") and not isinstance(value, tf.Variable):
        return np.asarray(value)
    return None


def check_before_call(model, x, y, finite: bool) -> None:
    """Runs ``model.check_inputs`` on array data before ``fit``/``evaluate``/``predict``
    (in chunks of :data:`CHECK_CHUNK` rows), and checks a ``tf.data.Dataset``'s
    element shapes against the model's event and context shapes."""
    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec
        x_spec, context_spec, _ = unpack_context(spec if isinstance(spec, tuple) else (spec,))
        if isinstance(x_spec, tf.TensorSpec):
            _validation.check_event_shape(x_spec, model.event_shape, "x")
        if isinstance(context_spec, tf.TensorSpec) and model.context_shape is not None:
            _validation.check_event_shape(context_spec, model.context_shape, "context")
        return
    data = (x,) if y is None else (x, y)
    x, context, _ = unpack_context(data)
    x, context = _as_array(x), None if context is None else _as_array(context)
    if x is None:
        return
    rows = int(x.shape[0]) if np.ndim(x) else 0
    if not rows or (context is not None and np.ndim(context) > 1 and len(context) != rows):
        model.check_inputs(x, context, finite)  # the model's error names both shapes
        return
    for start in range(0, rows, CHECK_CHUNK):
        chunk = slice(start, start + CHECK_CHUNK)
        model.check_inputs(x[chunk], context if context is None or np.ndim(context) < 2
                           else context[chunk], finite)


@contextlib.contextmanager
def input_errors_as_value_errors() -> Iterator[None]:
    """Turns a failed run-time input check inside ``fit``/``evaluate``/``predict`` (a
    graph ``InvalidArgumentError`` with a long trace) into a ``ValueError`` with the
    check's message and what TensorFlow reported after it (module docstring)."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        text = str(error).replace("\\'", "'")  # TF escapes quotes in the trace
        for key, message in sorted(_validation.RUNTIME_CHECKS.items(), key=lambda kv: -len(kv[0])):
            where = text.find(key)
            if where < 0:
                continue
            # What the check printed after its message ("] [4 2]", "; got ... e.g.] [16]");
            # for an ensure_shape op, TensorFlow's own first line, quoted as it is.
            if key == message:
                received = text[where + len(key):].split("\n")[0].replace("]", "", 1).strip()
            else:
                received = f"(TensorFlow: {text.split(chr(10))[0].strip()})"
            sep = "" if not received or received.startswith((";", ":", ",")) else " "
            raise ValueError(f"{message}{sep}{received} (in a batch of fit, evaluate or "
                             "predict)") from None
        raise
