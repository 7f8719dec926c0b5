"""Keras saving (``model.save("m.keras")`` / ``tf_keras.models.load_model``) for our models.

Keras' ``.keras`` format saves the variables of the Keras objects it reaches
by walking attributes (layers, metrics, optimizers and containers of them).
A TFP bijector is a ``tf.Module``, not a Keras layer, so the walk stops at
``model.flow``: ActNorm's and the LU factors' variables, and every
conditioner network held by a bijector, would be silently left out and a
loaded model would carry fresh initial weights. :class:`SavesAllVariables`
makes the model save and restore *every* variable it tracks
(``model.variables``), each keyed by a stable path of attribute names from
the model (:func:`variable_paths`, e.g. ``flow/_bijectors/3/_conditioner/...
/kernel``), as ``tf.train.Checkpoint`` and torch's ``state_dict`` key them, so
that a change in the order in which variables are created cannot load a value
into the wrong place. A file whose keys or shapes differ from the model's is
refused with the differences listed. Files written by 0.1.x (keyed by
position in ``model.variables``) still load, with their count and shapes
checked. Keras still saves the layers it reaches on its own; they load the
same values again.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence
from typing import NoReturn

import tensorflow as tf

from tfp_genmodels._keras import keras

PACKAGE = "tfp_genmodels"
#: Separates the attribute names of a path (HDF5 would read "/" as a group).
SEPARATOR = "."


def register(cls):
    """Registers ``cls`` so that ``load_model`` needs no ``custom_objects`` (and, when
    Keras 3 is loaded too, a stand-in under the same name there that refuses)."""
    _register_keras3_refusal(cls.__name__)
    return keras.saving.register_keras_serializable(package=PACKAGE)(cls)


def _register_keras3_refusal(name: str) -> None:
    """Registers in Keras 3 (if it is already imported: importing it costs seconds) a
    class ``tfp_genmodels>name`` whose ``from_config`` raises a ``TypeError`` saying to
    load the file with tf_keras, instead of Keras 3's "Could not locate class"."""
    import sys

    keras3 = sys.modules.get("keras")
    version = str(getattr(keras3, "__version__", "0")).split(".")[0]
    if keras3 is None or not version.isdigit() or int(version) < 3:
        return

    class Keras3Refusal:
        def get_config(self) -> dict:
            return {}

        @classmethod
        def from_config(cls, config: dict) -> NoReturn:
            raise TypeError(
                f"this file holds a tfp_genmodels {name}, a tf_keras (Keras 2) model, which "
                "Keras 3 cannot load: use `tf_keras.models.load_model(path)` (or "
                "`tfp_genmodels.saving.load_model(path)`), not `keras.models.load_model`.")

    Keras3Refusal.__name__ = Keras3Refusal.__qualname__ = name
    keras3.saving.register_keras_serializable(package=PACKAGE, name=name)(Keras3Refusal)


def _children(node):
    """``(name, child)`` of an object for the path walk: a module's attributes, a
    sequence's items, a mapping's string-keyed values."""
    if isinstance(node, tf.Module):
        return sorted(vars(node).items())
    if isinstance(node, Mapping):
        return sorted((k, v) for k, v in node.items() if isinstance(k, str))
    if isinstance(node, Sequence) and not isinstance(node, (str, bytes)):
        return [(str(i), v) for i, v in enumerate(node)]
    return []


def _walkable(value) -> bool:
    return isinstance(value, (tf.Module, tf.Variable, Mapping)) or (
        isinstance(value, Sequence) and not isinstance(value, (str, bytes)))


def variable_paths(root: tf.Module, variables: Sequence[tf.Variable]) -> list[str]:
    """A stable key for each of ``variables``: its path of attribute names from ``root``.

    Objects reach a variable by many attributes (Keras keeps tracking lists
    beside the named attributes), so each variable gets its *best* path: the
    fewest private (``_``) names, then the fewest steps, then the
    alphabetically first. The walk is a uniform-cost search over the object
    graph, so the result does not depend on the order in which variables were
    created, only on the model's structure and its attribute names.
    """
    wanted = {id(v): i for i, v in enumerate(variables)}
    paths: list[str | None] = [None] * len(variables)
    counter = itertools.count()  # tie-breaker: objects are not comparable
    queue = [((0, 0, ()), next(counter), root)]
    seen: set[int] = set()
    remaining = len(wanted)
    while queue and remaining:
        (private, depth, path), _, node = heapq.heappop(queue)
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, tf.Variable):
            index = wanted.get(id(node))
            if index is not None and paths[index] is None:
                paths[index] = SEPARATOR.join(path)
                remaining -= 1
            continue
        for name, child in _children(node):
            if _walkable(child) and id(child) not in seen:
                cost = (private + name.startswith("_"), depth + 1, path + (name,))
                heapq.heappush(queue, (cost, next(counter), child))
    missing = [v.name for v, p in zip(variables, paths) if p is None]
    if missing:
        raise ValueError(f"{type(root).__name__} holds variables that no attribute path "
                         f"reaches, so they cannot be saved by name: {missing}.")
    return paths


def _is_positional(keys) -> bool:
    """Whether a file's keys are 0.1.x's positions ("0", "1", ...)."""
    return all(key.isdigit() for key in keys)


class SavesAllVariables:
    """Mixin for a ``keras.Model`` whose variables live partly in ``tf.Module`` s."""

    def save_own_variables(self, store) -> None:
        variables = self.variables
        for path, variable in zip(variable_paths(self, variables), variables):
            store[path] = variable.numpy()

    def load_own_variables(self, store) -> None:
        variables = self.variables
        keys = list(store.keys())
        owner = f"{type(self).__name__} '{self.name}'"
        if keys and _is_positional(keys):
            self._load_by_position(store, keys, variables, owner)
            return
        paths = variable_paths(self, variables)
        missing = sorted(set(paths) - set(keys))
        unexpected = sorted(set(keys) - set(paths))
        values = {path: store[path] for path in set(paths) & set(keys)}  # each read once
        wrong_shape = [f"{path}: the model has {tuple(v.shape)}, the file "
                       f"{tuple(values[path].shape)}" for path, v in zip(paths, variables)
                       if path in values and tuple(values[path].shape) != tuple(v.shape)]
        if missing or unexpected or wrong_shape:
            lines = ([f"  missing from the file: {p}" for p in missing]
                     + [f"  in the file, not in the model: {p}" for p in unexpected]
                     + [f"  shape differs: {s}" for s in wrong_shape])
            raise ValueError(f"Cannot load the weights of {owner}: the file holds {len(keys)} "
                             f"variables, the model built from its config has "
                             f"{len(variables)}, and they differ by name or shape (nothing was "
                             "loaded):\n" + "\n".join(lines))
        for path, variable in zip(paths, variables):
            variable.assign(values[path])

    @staticmethod
    def _load_by_position(store, keys, variables, owner: str) -> None:
        """A 0.1.x file: variables keyed by their position in ``model.variables``."""
        if len(keys) != len(variables):
            raise ValueError(f"Cannot load the weights of {owner}: the file holds "
                             f"{len(keys)} variables, the model built from its config has "
                             f"{len(variables)}.")
        for i, variable in enumerate(variables):
            value = store[str(i)]
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(f"Cannot load variable {i} ({variable.name}) of {owner}: "
                                 f"expected shape {tuple(variable.shape)}, the file holds "
                                 f"{tuple(value.shape)}.")
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])
