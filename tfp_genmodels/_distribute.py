"""``tf.distribute`` strategies by name, for the CLI.

The models need nothing special under a strategy: build and compile them in
``strategy.scope()`` and call ``fit``. Each replica computes the mean loss of
its share of the global batch and :func:`tfp_genmodels._training.checked_gradient_step`
divides its gradient by the number of replicas, so the summed update is the
gradient of the global-batch mean, as with one device.

TensorFlow is imported inside :func:`make_strategy`, so the CLI can read
:data:`STRATEGIES` for ``--help`` without loading it.
"""

from __future__ import annotations

import os

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name: str):
    """``default``: one device; ``mirrored``: every local GPU (or the CPU);
    ``multiworker``: the cluster in ``TF_CONFIG`` (one process per machine).

    Whether this process writes the outputs is ``strategy.extended.should_checkpoint``
    (false only on non-chief workers).
    """
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable "
                             "(the cluster and this process's task); it is not set.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"`strategy` must be one of {STRATEGIES}; got {name!r}.")
