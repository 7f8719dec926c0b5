"""The ``tfp-genmodels`` command: train a flow or a VAE on built-in data, then sample it.

::

    tfp-genmodels train --model realnvp --data moons --epochs 50 --out runs/moons
    tfp-genmodels sample --run runs/moons -n 1000
    tfp-genmodels export --run runs/moons --out serving/moons --version 1

``train`` writes ``config.json`` (the run: data, recipe, pixel levels),
``model.keras`` (the model in Keras' format, loaded with
``tf_keras.models.load_model``), ``metrics.json`` (train / validation / test NLL in nats and
bits/dim, plus the KL gap where the true density is known) and figures
(``density.png`` and ``samples.png`` for 2-D data; for images a sample
grid and ``temperatures.png``, a row of samples per base temperature). A
VAE run (``--model vae``) writes the test ELBO and the importance-weighted
NLL, the collapse diagnostics (also printed as a table), reconstructions,
samples, a latent traversal, and a latent scatter when ``--latent-dim 2``.
``sample`` loads the model of a run and writes ``samples.npy`` and
``samples.png``; ``export`` writes a SavedModel for TF Serving
(:func:`tfp_genmodels.export.save_for_serving`). Every file is written
atomically.

Crash safety: ``train`` keeps a ``BackupAndRestore`` backup in
``--out/backup`` at every epoch end; after a crash (or ``kill -9``) the same
command with ``--resume`` continues from it, and a non-finite loss stops
training with the step and the last good checkpoint, writing no weights.
``--strategy mirrored`` trains on every local GPU, ``--strategy multiworker``
on the cluster in ``TF_CONFIG`` (only the chief writes ``--out``).

The package has one module per concern: :mod:`~tfp_genmodels.cli.parser`
(options; no TensorFlow), :mod:`~tfp_genmodels.cli.runs` (data, building,
saving and loading a run), :mod:`~tfp_genmodels.cli.train`,
:mod:`~tfp_genmodels.cli.sample`, :mod:`~tfp_genmodels.cli.export` and
:mod:`~tfp_genmodels.cli.reports` (metrics and figures).
"""

from tfp_genmodels.cli.errors import CLIError, TrainingFailed
from tfp_genmodels.cli.main import main
from tfp_genmodels.cli.parser import make_parser
from tfp_genmodels.cli.runs import load_dataset, load_run

__all__ = ["CLIError", "TrainingFailed", "load_dataset", "load_run", "main", "make_parser"]
