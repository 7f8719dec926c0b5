"""The Keras boundary: this package is built on tf_keras (Keras 2).

``tfp.layers`` and TFP's Keras pieces need Keras 2, which TensorFlow >= 2.16
ships separately as ``tf_keras``; there, ``tf.keras`` and ``import keras``
are Keras 3. A Keras 3 optimizer, layer or model handed to a tf_keras model
fails deep inside Keras ("Could not interpret optimizer identifier",
"'Variable' object has no attribute '_unique_id'"), so objects are checked
where they enter (constructors, ``compile``, ``fit``) and refused with a
message that names both ways out.

This module is the package's one import of Keras: every other module takes
``keras`` from here (``from tfp_genmodels._keras import keras``), so the
Keras dependency is this one line to read and, one day, to change.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import tf_keras as keras  # noqa: F401  (re-exported) Keras 2; `tf.keras` is Keras 3 in TF >= 2.16

KERAS3_HELP = (
    "tfp_genmodels is built on tf_keras (Keras 2), because tfp.layers needs it, and "
    "Keras 3 objects (from `tf.keras` or `import keras` in TensorFlow >= 2.16) cannot be "
    "mixed into a tf_keras model. Either build it with tf_keras (`import tf_keras as "
    "keras`, then e.g. `keras.optimizers.Adam(1e-3)`), or set the environment variable "
    "TF_USE_LEGACY_KERAS=1 before TensorFlow is first imported, so that `tf.keras` is "
    "tf_keras.")


def is_keras3_object(obj) -> bool:
    """Whether ``obj`` is an instance of a Keras 3 class (``keras.src...``)."""
    keras3 = sys.modules.get("keras")
    if keras3 is None:
        return False  # no Keras 3 object can exist before keras is imported
    major = str(getattr(keras3, "__version__", "3")).split(".")[0]
    if not major.isdigit() or int(major) < 3:
        return False
    return any((cls.__module__ or "").split(".")[0] == "keras"
               for cls in type(obj).__mro__)


def refuse_keras3(obj, name: str) -> None:
    """Raises ``TypeError`` if ``obj`` (the argument ``name``) is a Keras 3 object."""
    if is_keras3_object(obj):
        raise TypeError(f"`{name}` is a Keras 3 object ({type(obj).__module__}."
                        f"{type(obj).__name__}). {KERAS3_HELP}")


#: The float dtypes a model may compute in (one dtype for variables and computation).
MODEL_DTYPES = ("float32", "float64")


def model_dtype(policy) -> Any:
    """A model's one float dtype (a ``tf.DType``), from its Keras dtype policy
    (``ValueError`` for a mixed policy or a dtype other than float32 / float64)."""
    import tensorflow as tf

    if policy.compute_dtype != policy.variable_dtype or policy.variable_dtype not in MODEL_DTYPES:
        raise ValueError(f"`dtype` must be one of {MODEL_DTYPES} (the model computes and keeps "
                         f"its variables in one dtype); got the dtype policy {policy.name!r}.")
    return tf.as_dtype(policy.variable_dtype)


@contextlib.contextmanager
def default_dtype(dtype) -> Iterator[None]:
    """Layers made in this block default to ``dtype`` (Keras' global dtype policy), so a
    model's parts and their sublayers (dense heads, ``tfp.layers``) share its dtype."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(getattr(dtype, "name", dtype))
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
