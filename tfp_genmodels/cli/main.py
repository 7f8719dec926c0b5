"""``main``: parse, run one command, and turn user errors into one-line messages."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Sequence

from tfp_genmodels.cli.errors import CLIError, TrainingFailed
from tfp_genmodels.cli.parser import check_writable, parse_args


def _interrupted_message(args: argparse.Namespace) -> str:
    if args.command == "train":
        return ("interrupted; the last completed epoch is kept in "
                f"{os.path.join(args.out, 'backup')}: run the same command with --resume to "
                "continue.")
    return "interrupted; nothing was written."


#: What TensorFlow's CUDA-enabled wheel logs at start-up on a machine without an NVIDIA
#: GPU: an error line that is no error there (there is nothing to initialise).
NO_GPU_NOISE = ("failed call to cuInit", "Could not find cuda drivers on your machine")


def _has_nvidia_device() -> bool:
    return any(name.startswith("nvidia") for name in os.listdir("/dev")) if os.path.isdir(
        "/dev") else True


@contextlib.contextmanager
def _stderr_without(noise: Sequence[str]):
    """Runs the block with the process's stderr (file descriptor 2, where TensorFlow's
    C++ logging writes) captured, then writes back every line but those holding one of
    ``noise``."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as captured:
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(text in line for text in noise):
                    sys.stderr.write(line)
            sys.stderr.flush()


def _start_tensorflow() -> None:
    """Imports TensorFlow and finds its devices, without the CUDA start-up error line
    on a machine that has no NVIDIA device (on one that has, the line is kept)."""
    if _has_nvidia_device():
        return
    with _stderr_without(NO_GPU_NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices()


def _run(args: argparse.Namespace) -> int:
    # The commands import TensorFlow: only after the arguments are known to be good.
    _start_tensorflow()
    from tfp_genmodels.cli.evaluate import evaluate
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
        elif args.command == "evaluate":
            report = evaluate(args)
            print(f"wrote {os.path.join(args.run, 'evaluation-' + report['split'] + '.json')}")
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
