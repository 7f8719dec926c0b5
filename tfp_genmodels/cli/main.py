"""``main``: parse, run one command, and turn user errors into one-line messages."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from tfp_genmodels.cli.errors import CLIError, TrainingFailed
from tfp_genmodels.cli.parser import check_writable, parse_args


def _interrupted_message(args: argparse.Namespace) -> str:
    if args.command == "train":
        return ("interrupted; the last completed epoch is kept in "
                f"{os.path.join(args.out, 'backup')}: run the same command with --resume to "
                "continue.")
    return "interrupted; nothing was written."


def _run(args: argparse.Namespace) -> int:
    # The commands import TensorFlow: only after the arguments are known to be good.
    from tfp_genmodels.cli.export import export
    from tfp_genmodels.cli.sample import sample
    from tfp_genmodels.cli.train import train

    try:
        if args.command == "train":
            metrics = train(args)
            test = metrics["test"]
            print(f"test NLL {test['nll']:.4f} nats, {test['bits_per_dim']:.4f} bits/dim; "
                  f"wrote {args.out}")
        elif args.command == "export":
            print(f"wrote {export(args)}")
        else:
            samples = sample(args)
            print(f"wrote {len(samples)} samples to {args.out or args.run}")
    except TrainingFailed as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 1
    except (CLIError, ValueError, TypeError, ConnectionError, FileNotFoundError,
            FileExistsError) as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``tfp-genmodels`` command; returns the exit status."""
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        out = getattr(args, "out", None)
        if out is not None:
            check_writable(out, "--out")
        return _run(args)
    except KeyboardInterrupt:
        print(f"tfp-genmodels: {_interrupted_message(args)}", file=sys.stderr)
        return 130
    except CLIError as err:
        print(f"tfp-genmodels: error: {err}", file=sys.stderr)
        return 2
