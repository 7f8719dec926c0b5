"""A plain VAE on the 8x8 digits: ELBO, importance-weighted NLL, collapse diagnostics.

Categorical likelihood over the 17 grey levels (exact discrete probabilities,
so bits/dim compare with the flows' dequantised figures). Prints the test
-ELBO and the IWAE NLL (IWAE <= -ELBO), the diagnostics table, and writes
reconstructions and samples.

Run: python examples/vae_digits.py [--epochs 100] [--out runs/examples/vae_digits]
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tf_keras as keras  # noqa: E402

from tfp_genmodels import data, vae  # noqa: E402
from tfp_genmodels.vae import report  # noqa: E402
from tfp_genmodels.vae.diagnostics import format_table  # noqa: E402
from tfp_genmodels.vae.networks import mlp_decoder, mlp_encoder  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--iwae-samples", type=int, default=1000)
    parser.add_argument("--out", default="runs/examples/vae_digits")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    digits = data.load_digits()
    model = vae.VAE(8, mlp_encoder((8, 8, 1), (256, 256), input_scale=1 / 16),
                    mlp_decoder(8, (256, 256)), likelihood="categorical", pixel_levels=17)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(digits.train.x, validation_data=digits.validation.x, batch_size=64,
              epochs=args.epochs, verbose=2)
    m = report.bound_metrics(model, digits.test.x, iwae_samples=args.iwae_samples)
    print(f"test -ELBO {-m['elbo']:.3f} nats ({m['neg_elbo_bits_per_dim']:.4f} bits/dim); "
          f"IWAE NLL (K={args.iwae_samples}) {m['iwae_nll']:.3f} nats "
          f"({m['iwae_bits_per_dim']:.4f} bits/dim)")
    print(format_table(model.diagnostics(digits.test.x)))
    report.write_figures(model, digits.test.x, digits.test.y, args.out, 16.0, "VAE")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
