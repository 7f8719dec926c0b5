"""``tfp-genmodels evaluate``: score a run's data split example by example.

The run's own data (the options in ``train_args.json``) is loaded again, the
split scored with a fixed seed (a progress bar for long splits, ``--eval-limit``
for a quick look at the first examples), and the report printed and written
to ``evaluation-<split>.json``: the mean NLL and bits/dim, the median, the
worst examples, and whether a few examples dominate the mean.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from tfp_genmodels import _io
from tfp_genmodels.cli import evaluation, reports, runs
from tfp_genmodels.cli.errors import CLIError
from tfp_genmodels.cli.parser import upgrade_keys


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Scores ``args.split`` of ``args.run``; returns (and writes) the report."""
    from tfp_genmodels.cli.train import splits

    model, config = runs.load_run(args.run)
    args_path = os.path.join(args.run, "train_args.json")
    if not os.path.isfile(args_path):
        raise CLIError(f"--run {args.run} has no train_args.json, so its data cannot be "
                       "loaded again; evaluate a run written by `tfp-genmodels train`.")
    trained = argparse.Namespace(**upgrade_keys(_io.read_json(args_path)))
    trained.batch_size = args.batch_size
    dataset = runs.load_dataset(trained.data, trained.num_train, trained.seed,
                                getattr(trained, "mnist_path", None),
                                getattr(trained, "data_path", None))
    _, *arrays = splits(trained, dataset, config)
    x = dict(zip(("train", "validation", "test"), arrays))[args.split]
    x = evaluation.subset(x, args.eval_limit)
    if config["model"] == "vae":
        report = reports.vae_split_results(model, {}, {args.split: x},
                                           args.iwae_samples)[args.split]
    else:
        report = reports.flow_split_result(model, args.split, x, args.batch_size, args.seed,
                                           args.verbose == 1)
    report = {"split": args.split, "eval_limit": args.eval_limit, "seed": args.seed, **report}
    _io.write_json(os.path.join(args.run, f"evaluation-{args.split}.json"), report)
    return report
