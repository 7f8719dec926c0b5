"""The examples run end to end (few steps) and print what they promise."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_bijector_density_example_trains_and_round_trips():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "bijector_density.py"),
                          "--steps", "60"], capture_output=True, text=True, check=True,
                         cwd=ROOT, timeout=300)
    losses = [float(v) for v in re.findall(r"NLL (-?[\d.]+) nats", out.stdout)]
    assert losses[-1] < losses[0], out.stdout  # training lowers the NLL
    err = float(re.search(r"round-trip error ([\d.e+-]+)", out.stdout).group(1))
    assert 0.0 <= err < 1e-3, out.stdout
