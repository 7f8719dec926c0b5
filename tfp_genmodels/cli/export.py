"""``tfp-genmodels export``: a trained run as a SavedModel for TF Serving."""

from __future__ import annotations

import argparse

from tfp_genmodels.cli import runs


def export(args: argparse.Namespace) -> str:
    """Writes ``args.run``'s model to ``args.out/<version>``; returns that directory."""
    from tfp_genmodels import export as export_module

    model, _ = runs.load_run(args.run)
    return export_module.save_for_serving(model, args.out, version=args.version,
                                          overwrite=args.overwrite)
