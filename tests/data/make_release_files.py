"""Writes the ``.keras`` files in tests/data/ (run with the release whose files they are).

    PYTHONPATH=<checkout> python tests/data/make_release_files.py tests/data [0.1|3b1d36e]

The "0.1" files were written by main at 983001e (weights keyed by their position in
``model.variables``), each with the scores it gave before saving; the "3b1d36e" files
by main at 3b1d36e, the last commit before 0.2 reshaped the VAE's parts (part options
as the VAE's keyword arguments, ``num_blocks``, estimators by name).
tests/test_saving.py checks that they still load and give the same scores.
"""

import sys


def main(out: str) -> None:
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from tfp_genmodels import data, flows, vae

    keras.utils.set_random_seed(7)
    x2 = data.toy_sample("moons", 256, seed=0).astype("float32")
    seed = tf.constant([1, 2])

    realnvp = flows.RealNVP(event_shape=(2,), num_layers=2, hidden_units=(8,))
    realnvp.compile(optimizer=keras.optimizers.Adam(1e-2))
    realnvp.fit(x2, epochs=2, batch_size=64, verbose=0)
    realnvp.save(f"{out}/realnvp_0.1.keras")
    np.save(f"{out}/realnvp_0.1_logprob.npy", realnvp.log_prob(x2[:8]).numpy())

    digits = data.load_digits().train.x[:64]
    glow = flows.Glow(event_shape=(8, 8, 1), num_scales=2, num_layers=1, hidden_units=(8,),
                      pixel_levels=17, pixel_format="integer")
    glow.compile(optimizer=keras.optimizers.Adam(1e-3))
    glow.fit(digits, epochs=1, batch_size=32, verbose=0)
    glow.save(f"{out}/glow_0.1.keras")
    np.save(f"{out}/glow_0.1_logprob.npy", glow.log_prob(digits[:8], seed=seed).numpy())

    encoder = keras.Sequential([keras.layers.InputLayer((2,)),
                                keras.layers.Dense(8, activation="relu")])
    decoder = keras.Sequential([keras.layers.InputLayer((2,)),
                                keras.layers.Dense(8, activation="relu")])
    model = vae.VAE(2, encoder, decoder, likelihood="gaussian", posterior="iaf",
                    prior="mixture", num_flow_steps=1, num_components=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x2, epochs=1, batch_size=64, verbose=0)
    model.save(f"{out}/vae_0.1.keras")
    np.save(f"{out}/vae_0.1_elbo.npy", model.elbo(x2[:8], seed=seed).numpy())


def main_3b1d36e(out: str) -> None:
    import numpy as np
    import tensorflow as tf
    import tf_keras as keras

    from tfp_genmodels import data, flows, vae

    keras.utils.set_random_seed(7)
    x2 = data.toy_sample("moons", 256, seed=0).astype("float32")
    seed = tf.constant([1, 2])
    cnf = flows.FFJORD(event_shape=(2,), hidden_units=(8,), num_blocks=2, atol=1e-4, rtol=1e-4)
    cnf.compile(optimizer=keras.optimizers.Adam(1e-2))
    cnf.fit(x2[:128], epochs=1, batch_size=64, verbose=0)
    cnf.save(f"{out}/ffjord_3b1d36e.keras")
    np.save(f"{out}/ffjord_3b1d36e_logprob.npy", cnf.log_prob(x2[:8]).numpy())

    binary = (x2[:, :1] > 0).astype("float32") * np.ones([1, 6], "float32")
    encoder = keras.Sequential([keras.layers.InputLayer((6,)), keras.layers.Dense(8, "relu")])
    decoder = keras.Sequential([keras.layers.InputLayer((6,)), keras.layers.Dense(8, "relu")])
    model = vae.VAE(2, encoder, decoder, posterior="categorical", num_classes=3,
                    estimator="gumbel_softmax", temperature=0.5, temperature_decay=0.0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(binary, epochs=1, batch_size=64, verbose=0)
    model.save(f"{out}/vae_discrete_3b1d36e.keras")
    np.save(f"{out}/vae_discrete_3b1d36e_elbo.npy", model.elbo(binary[:8], seed=seed).numpy())

    encoder = keras.Sequential([keras.layers.InputLayer((2,)), keras.layers.Dense(8, "relu")])
    decoder = keras.Sequential([keras.layers.InputLayer((2,)), keras.layers.Dense(8, "relu")])
    model = vae.VAE(2, encoder, decoder, likelihood="gaussian", likelihood_scale=0.5,
                    posterior="planar", prior="vamp", num_flow_steps=2, num_components=3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(x2, epochs=1, batch_size=64, verbose=0)
    model.save(f"{out}/vae_planar_3b1d36e.keras")
    np.save(f"{out}/vae_planar_3b1d36e_elbo.npy", model.elbo(x2[:8], seed=seed).numpy())


if __name__ == "__main__":
    {"0.1": main, "3b1d36e": main_3b1d36e}[sys.argv[2] if len(sys.argv) > 2 else "0.1"](
        sys.argv[1])
