"""A beta-VAE on the 8x8 digits with latent traversals, beta = 1 against beta = 4.

A larger beta buys a smoother, more prior-like code at the cost of
reconstruction: the script prints reconstruction, KL and active units for
both and writes a traversal (each row sweeps one latent from -3 to 3).

Run: python examples/beta_vae_traversal.py [--epochs 80] [--out runs/examples/beta_vae]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_keras as keras  # noqa: E402

from tfp_genmodels import _io, data, plots, vae  # noqa: E402
from tfp_genmodels.vae import report  # noqa: E402
from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=80)
    parser.add_argument("--out", default="runs/examples/beta_vae")
    args = parser.parse_args()
    digits = data.load_digits()
    for beta in (1.0, 4.0):
        keras.utils.set_random_seed(0)
        model = vae.VAE(6, mlp_encoder((8, 8, 1), (256, 256), input_scale=1 / 16),
                        mlp_decoder(6, (256, 256)), likelihood="categorical", pixel_levels=17,
                        beta=beta, kl_warmup_steps=500)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(digits.train.x, batch_size=64, epochs=args.epochs, verbose=0)
        result = model.evaluate(digits.test.x, batch_size=360, verbose=0, return_dict=True)
        diag = model.diagnostics(digits.test.x)
        print(f"beta {beta:g}: reconstruction {result['reconstruction']:.3f} nats, "
              f"KL {result['kl']:.3f} nats, active units {diag['active_units']}/6")
        path = os.path.join(args.out, f"traversal_beta{beta:g}.png")
        _io.save_figure(path, plots.traversal_figure(
            report.traversal(model), 9, vmax=16, title=f"beta = {beta:g}"))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
