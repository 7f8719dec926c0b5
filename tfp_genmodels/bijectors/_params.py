"""Tensor-parameter handling for bijectors whose parameters are tensors (amortised)."""

from __future__ import annotations

import tensorflow as tf
from tensorflow_probability.python.internal import dtype_util, tensor_util


def convert_params(names_and_values: dict, dtype=None) -> tuple[tf.DType, dict]:
    """Converts parameters to a common float dtype; ``tf.Variable`` s stay variables."""
    dtype = dtype_util.common_dtype(list(names_and_values.values()),
                                    dtype_hint=dtype or tf.float32)
    if not dtype.is_floating:
        raise TypeError(f"parameters {sorted(names_and_values)} must be floating; "
                        f"got dtype {dtype.name}.")
    return dtype, {name: tensor_util.convert_nonref_to_tensor(value, dtype=dtype, name=name)
                   for name, value in names_and_values.items()}


def check_vector_param(value, name: str) -> None:
    """Raises unless ``value`` has a known last dimension (the event size)."""
    shape = value.shape
    if shape.rank is not None and (shape.rank < 1 or shape[-1] is None):
        raise ValueError(f"`{name}` must have shape [..., D] with D known; got shape "
                         f"{shape.as_list()}.")


def check_same_event_size(x, size: int, name: str) -> None:
    if x.shape.rank is not None and x.shape.rank >= 1 and x.shape[-1] is not None \
            and x.shape[-1] != size:
        raise ValueError(f"`{name}` must have trailing (event) dimension {size}, the "
                         f"size of the bijector's parameters; got shape "
                         f"{x.shape.as_list()}.")
    if x.shape.rank is not None and x.shape.rank < 1:
        raise ValueError(f"`{name}` must have rank >= 1 ([..., {size}]); got a scalar.")
