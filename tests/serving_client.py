"""Runs exported SavedModels the way TF Serving does: TensorFlow only.

``python tests/serving_client.py MANIFEST.json OUT.json``: the manifest lists
``{"export": dir, "signature": name, "inputs": {name: .npy path}}`` calls;
the outputs are written as ``.npy`` files next to ``OUT.json``, which maps
each call's index to ``{output name: .npy path}``. Importing
TensorFlow Probability, tf_keras or tfp_genmodels fails in this process, as
it would on a serving machine.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys

BLOCKED = ("tensorflow_probability", "tfp_genmodels", "tf_keras")


class _Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not available to a serving process")
        return None


def main(manifest_path: str, out_path: str) -> None:
    sys.meta_path.insert(0, _Block())
    import numpy as np
    import tensorflow as tf

    with open(manifest_path, encoding="utf-8") as f:
        calls = json.load(f)
    loaded, results = {}, {}
    for i, call in enumerate(calls):
        if call["export"] not in loaded:
            loaded[call["export"]] = tf.saved_model.load(call["export"])
        fn = loaded[call["export"]].signatures[call["signature"]]
        inputs = {k: tf.constant(np.load(v)) for k, v in call["inputs"].items()}
        outputs = fn(**inputs)
        results[i] = {}
        for name, value in outputs.items():
            path = os.path.join(os.path.dirname(out_path), f"out_{i}_{name}.npy")
            np.save(path, value.numpy())
            results[i][name] = path
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"results": results, "leaked_modules": leaked,
                   "signatures": {k: sorted(m.signatures) for k, m in loaded.items()}}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
