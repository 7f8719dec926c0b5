"""Python-time argument checks: NumPy only, no TensorFlow import.

Every error names the argument, the expected value and the received value.
:mod:`tfp_genmodels._validation` re-exports these next to the tensor checks;
:mod:`tfp_genmodels.data` and the CLI's parser use them directly, so that
reading data or ``--help`` does not pay for importing TensorFlow.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type.

    Also a ``ValueError``, as some integer checks of version 0.1.0 raised one
    (like NumPy's ``AxisError``, which is both a ``ValueError`` and an
    ``IndexError``): code that caught either keeps working.
    """


def int_arg(value: int, name: str, minimum: int = 1, maximum: int | None = None) -> int:
    """Returns ``value`` as a Python int in ``[minimum, maximum]``, or raises.

    Raises:
      ArgumentTypeError: (a ``TypeError``) if ``value`` is not an integer
        (``bool`` is not one).
      ValueError: if it is out of range.
    """
    if maximum is not None:
        expected = f"an int in [{minimum}, {maximum}]"
    else:
        expected = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"`{name}` must be {expected}; got {value!r} "
                        f"of type {type(value).__name__}.")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"`{name}` must be {expected}; got {value}.")
    return int(value)


def positive_int_arg(value: int, name: str) -> int:
    """Returns ``value`` as a Python int if it is a positive integer, or raises."""
    return int_arg(value, name, minimum=1)


def hidden_units_arg(value, name: str = "hidden_units") -> tuple[int, ...]:
    """``value`` as a non-empty tuple of positive ints (a network's hidden widths)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    try:
        units = tuple(value)
    except TypeError:
        units = None
    if not units:
        raise ValueError(f"`{name}` must be a non-empty sequence of positive ints (the "
                         f"hidden layers' widths, e.g. (64, 64)); got {value!r}.")
    return tuple(positive_int_arg(u, name) for u in units)


def nonnegative_int_arg(value: int, name: str) -> int:
    """Returns ``value`` as a Python int if it is an integer >= 0, or raises."""
    return int_arg(value, name, minimum=0)


def _finite_float_arg(value: float, name: str, what: str,
                      ok: Callable[[float], bool]) -> float:
    """``value`` as a finite Python float for which ``ok(value)`` holds; the errors
    say that ``name`` must be a (finite) ``what``."""
    try:
        value_f = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be a {what}; got {value!r}.") from err
    if not np.isfinite(value_f) or not ok(value_f):
        raise ValueError(f"`{name}` must be a finite {what}; got {value!r}.")
    return value_f


def positive_float_arg(value: float, name: str) -> float:
    """Returns ``value`` as a Python float if it is finite and > 0, or raises."""
    return _finite_float_arg(value, name, "positive float", lambda v: v > 0)


def nonnegative_float_arg(value: float, name: str) -> float:
    """Returns ``value`` as a Python float if it is finite and >= 0, or raises."""
    return _finite_float_arg(value, name, "float >= 0", lambda v: v >= 0)


def renamed_arg(kwargs: dict, old: str, new: str, value: object, owner: str) -> object:
    """Takes a deprecated keyword ``old`` out of ``kwargs`` as the value of ``new``.

    Returns ``value`` (the argument under its new name) when ``old`` was not
    passed; otherwise warns with a ``DeprecationWarning`` and returns the old
    argument's value. Passing both raises ``TypeError``.
    """
    if old not in kwargs:
        return value
    if value is not None:
        raise TypeError(f"{owner}: pass `{new}` only; `{old}` is its deprecated name.")
    warnings.warn(f"{owner}: `{old}` is deprecated; call it `{new}`.", DeprecationWarning,
                  stacklevel=3)
    return kwargs.pop(old)
