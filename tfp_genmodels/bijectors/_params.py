"""Tensor-parameter handling for bijectors whose parameters are tensors (amortised).

``Planar``, ``Radial`` and ``Householder`` take their parameters as tensors
that may carry batch dimensions (an encoder's per-example output). TFP reads
the batch shape of such a bijector from ``_parameter_properties`` (each
parameter's event rank), which :func:`parameter_properties` builds, and
checks values behind ``validate_args`` in ``_parameter_control_dependencies``,
which :func:`values_to_check` and :func:`finite_assertions` serve.
"""

from __future__ import annotations

import tensorflow as tf

from tfp_genmodels._tfp_compat import (
    ParameterProperties,
    common_dtype,
    convert_nonref_to_tensor,
    is_ref,
)


def convert_params(names_and_values: dict, dtype=None) -> tuple[tf.DType, dict]:
    """Converts parameters to a common float dtype; ``tf.Variable`` s stay variables."""
    dtype = common_dtype(list(names_and_values.values()), dtype_hint=dtype or tf.float32)
    if not dtype.is_floating:
        raise TypeError(f"parameters {sorted(names_and_values)} must be floating; "
                        f"got dtype {dtype.name}.")
    return dtype, {name: convert_nonref_to_tensor(value, dtype=dtype, name=name)
                   for name, value in names_and_values.items()}


def parameter_properties(**event_ndims: int) -> dict:
    """``{name: ParameterProperties(event_ndims)}`` for ``_parameter_properties``.

    With it TFP infers the bijector's batch shape: a parameter of shape
    ``[*batch, *event]`` contributes ``batch`` (``experimental_batch_shape``,
    and the batch shape of a ``TransformedDistribution`` built on it).
    """
    return {name: ParameterProperties(event_ndims=ndims) for name, ndims in event_ndims.items()}


def values_to_check(bijector, is_init: bool, params: dict) -> dict:
    """The parameters that ``_parameter_control_dependencies(is_init)`` must check.

    TFP's convention (``tfb.Scale``): with ``validate_args``, check tensors at
    construction (``is_init=True``) and variables at every call, since their
    values may have changed. Returns ``{name: tensor}`` (each read once).
    """
    if not bijector.validate_args:
        return {}
    return {name: tf.convert_to_tensor(value) for name, value in params.items()
            if is_init != is_ref(value)}


def finite_assertions(bijector, is_init: bool, params: dict) -> list:
    """``validate_args`` checks that the parameters ``{name: value}`` are finite."""
    return [tf.debugging.assert_all_finite(
                value, f"{type(bijector).__name__}: `{name}` must be finite.")
            for name, value in values_to_check(bijector, is_init, params).items()]


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


def constant_log_det(x: tf.Tensor, event_ndims: int, value: tf.Tensor) -> tf.Tensor:
    """``value`` broadcast to the batch shape of ``x`` (all dims but the last ``event_ndims``).

    For maps whose log-det depends on trainable variables but not on ``x``
    (ActNorm, LU-linear): one value per batch member, like every other bijector.
    """
    return tf.fill(tf.shape(x)[:tf.rank(x) - event_ndims], value)
