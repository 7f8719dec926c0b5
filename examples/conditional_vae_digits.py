"""A class-conditional VAE on the 8x8 digits: one row of samples per class.

The encoder reads ``[x, c]`` and the decoder ``[z, c]`` with ``c`` the one-hot
label (``context_shape=(10,)``; Sohn et al., 2015). Prints the test -ELBO with
the true labels and with shuffled ones (the decoder must use the label, so the
true ones give the higher bound), and writes ten rows of samples, row ``k``
drawn with ``c = k``.

Run: python examples/conditional_vae_digits.py [--epochs 100]
       [--out runs/examples/conditional_vae_digits.png]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402

from tfp_genmodels import _io, data, plots, vae  # noqa: E402
from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder  # noqa: E402

LATENT, CLASSES, PER_ROW = 4, 10, 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="runs/examples/conditional_vae_digits.png")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    digits = data.load_digits()
    one_hot = np.eye(CLASSES, dtype=np.float32)
    model = vae.VAE(LATENT, mlp_encoder((8, 8, 1), (256, 256), 1 / 16, context_dim=CLASSES),
                    mlp_decoder(LATENT, (256, 256), context_dim=CLASSES),
                    likelihood="categorical", pixel_levels=17, context_shape=(CLASSES,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit((digits.train.x, one_hot[digits.train.y]),
              validation_data=(digits.validation.x, one_hot[digits.validation.y]),
              batch_size=64, epochs=args.epochs, verbose=2)
    test_c = one_hot[digits.test.y]
    shuffled = test_c[np.random.default_rng(0).permutation(len(test_c))]
    true_elbo = float(np.mean(model.elbo(digits.test.x, num_samples=16, context=test_c)))
    wrong_elbo = float(np.mean(model.elbo(digits.test.x, num_samples=16, context=shuffled)))
    print(f"test -ELBO (nats) with the true labels {-true_elbo:.3f}; "
          f"with shuffled labels {-wrong_elbo:.3f}")
    labels = np.repeat(one_hot, PER_ROW, axis=0)                   # row k: class k
    samples = np.asarray(model.sample(len(labels), mean=True, context=labels))
    _io.save_figure(args.out, plots.image_grid_figure(
        samples, num_columns=PER_ROW, vmax=16.0, row_labels=[str(k) for k in range(CLASSES)],
        title="conditional VAE: samples (decoder means), one row per class"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
