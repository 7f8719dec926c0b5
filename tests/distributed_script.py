"""Trains the same model with one device and with ``MirroredStrategy`` over two CPUs.

``python tests/distributed_script.py OUT.json``: run in its own process,
because logical devices must be configured before TensorFlow starts. Writes
the single-device and mirrored results (loss histories, final variables) for
``tests/test_distribute.py`` to compare.
"""

from __future__ import annotations

import json
import os
import sys


def main(out_path: str) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    import tf_keras as keras

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests import recipes
    from tfp_genmodels import data, vae

    digits = data.load_digits()

    def flow_run(strategy, name):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = recipes.tiny(name)
            model.compile(keras.optimizers.SGD(0.01 if recipes.is_image(name) else 0.05))
        history = model.fit(recipes.training_data(name, 512), batch_size=128, epochs=2,
                            shuffle=False, verbose=0)
        return {"replicas": strategy.num_replicas_in_sync,
                "loss": [float(v) for v in history.history["loss"]],
                "variables": [np.asarray(v).tolist() for v in model.trainable_variables]}

    def vae_run(strategy):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            encoder = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                                        keras.layers.Flatten(),
                                        keras.layers.Dense(64, "relu")])
            decoder = keras.Sequential([keras.Input((4,)), keras.layers.Dense(64, "relu")])
            model = vae.VAE(4, encoder, decoder, likelihood="categorical", pixel_levels=17)
            model.compile(keras.optimizers.Adam(3e-3))
        model.fit(digits.train.x, batch_size=128, epochs=15, verbose=0)
        result = model.evaluate(digits.test.x, batch_size=120, verbose=0, return_dict=True)
        elbo = float(np.mean(model.elbo(digits.test.x, num_samples=20)))
        return {"replicas": strategy.num_replicas_in_sync, "test_loss": result["loss"],
                "test_elbo": elbo}

    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    default = tf.distribute.get_strategy()
    results = {"flow_single": {n: flow_run(default, n) for n in recipes.RECIPES},
               "flow_mirrored": {n: flow_run(mirrored, n) for n in recipes.RECIPES},
               "vae_single": vae_run(default), "vae_mirrored": vae_run(mirrored)}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
