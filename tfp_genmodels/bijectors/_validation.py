"""Argument and shape checks shared by the bijectors.

Every error names the argument, the expected value and the received value.
Static (Python-time) checks only: they cost nothing inside a traced graph.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import tensorflow as tf

#: What a parameter accepts: anything ``tf.convert_to_tensor`` takes.
TensorLike = Union[tf.Tensor, tf.Variable, np.ndarray, float, Sequence[float]]


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


def positive_int_arg(value: int, name: str) -> int:
    """Returns ``value`` as a Python int if it is a positive integer, or raises."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"`{name}` must be a positive int; got {value!r} "
                        f"of type {type(value).__name__}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive int; got {value}.")
    return int(value)


def positive_float_arg(value: float, name: str) -> float:
    """Returns ``value`` as a Python float if it is finite and > 0, or raises."""
    try:
        value_f = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be a positive float; got {value!r}.") from err
    if not np.isfinite(value_f) or value_f <= 0:
        raise ValueError(f"`{name}` must be a finite positive float; got {value!r}.")
    return value_f


def nonnegative_int_arg(value: int, name: str) -> int:
    """Returns ``value`` as a Python int if it is an integer >= 0, or raises."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an int >= 0; got {value!r}.")
    return int(value)


def nonnegative_float_arg(value: float, name: str) -> float:
    """Returns ``value`` as a Python float if it is finite and >= 0, or raises."""
    try:
        value_f = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be a float >= 0; got {value!r}.") from err
    if not np.isfinite(value_f) or value_f < 0:
        raise ValueError(f"`{name}` must be a finite float >= 0; got {value!r}.")
    return value_f


def constant_log_det(x: tf.Tensor, event_ndims: int, value: tf.Tensor) -> tf.Tensor:
    """``value`` broadcast to the batch shape of ``x`` (all dims but the last ``event_ndims``).

    For maps whose log-det depends on trainable variables but not on ``x``
    (ActNorm, LU-linear): one value per batch member, like every other bijector.
    """
    return tf.fill(tf.shape(x)[:tf.rank(x) - event_ndims], value)
