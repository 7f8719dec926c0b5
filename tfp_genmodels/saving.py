"""Loading a saved ``.keras`` model across the Keras 2 / Keras 3 boundary.

Our models are tf_keras (Keras 2) models: ``model.save("m.keras")`` and
``tf_keras.models.load_model("m.keras")`` round-trip them (see
:mod:`tfp_genmodels._saving` for how their variables are keyed). The two
Keras generations write the same file format but cannot read each other's
objects, and both say only "Could not locate class" or "Error when
deserializing class 'InputLayer'". :func:`load_model` reads the file's
``keras_version`` first and refuses a Keras 3 file with what to do; and once
this package is imported next to Keras 3, ``keras.models.load_model`` (Keras
3) on one of our files says to use tf_keras instead.

Example:

>>> import tempfile, os
>>> from tfp_genmodels import flows, saving
>>> path = os.path.join(tempfile.mkdtemp(), "flow.keras")
>>> flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,)).save(path)
>>> saving.keras_version(path).split(".")[0]
'2'
>>> type(saving.load_model(path)).__name__
'RealNVP'
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

from tfp_genmodels._keras import keras


def keras_version(path: str | os.PathLike) -> str | None:
    """The ``keras_version`` a ``.keras`` file was written by (``None`` if it has none,
    or is no ``.keras`` zip file)."""
    try:
        with zipfile.ZipFile(path) as archive:
            metadata = json.loads(archive.read("metadata.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    version = metadata.get("keras_version")
    return None if version is None else str(version)


def load_model(path: str | os.PathLike, custom_objects: dict | None = None,
               compile: bool = True, safe_mode: bool = True) -> Any:  # noqa: A002 (Keras' name)
    """``tf_keras.models.load_model``, refusing a file written by Keras 3 with a
    ``TypeError`` that says what to do instead of Keras' "Could not locate class"."""
    version = keras_version(path)
    if version is not None and version.split(".")[0].isdigit() and int(
            version.split(".")[0]) >= 3:
        raise TypeError(
            f"{os.fspath(path)} was written by Keras {version} (Keras 3), and tf_keras (Keras "
            "2), which tfp_genmodels is built on, cannot rebuild Keras 3 objects. Load it "
            "with Keras 3 (`keras.saving.load_model`), or build and save the network with "
            "tf_keras (`import tf_keras as keras`) to use it in a tfp_genmodels model.")
    return keras.models.load_model(path, custom_objects=custom_objects, compile=compile,
                                   safe_mode=safe_mode)
