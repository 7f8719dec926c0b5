"""The examples run end to end (few steps) and print what they promise."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_bijector_density_example_trains_and_round_trips():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "bijector_density.py"),
                          "--steps", "60"], capture_output=True, text=True, check=True,
                         cwd=ROOT, timeout=300)
    losses = [float(v) for v in re.findall(r"NLL (-?[\d.]+) nats", out.stdout)]
    assert losses[-1] < losses[0], out.stdout  # training lowers the NLL
    err = float(re.search(r"round-trip error ([\d.e+-]+)", out.stdout).group(1))
    assert 0.0 <= err < 1e-3, out.stdout


def _run(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args],
                         capture_output=True, text=True, check=True, cwd=ROOT, timeout=600)
    return out.stdout


def test_flow_2d_example_reports_a_kl_gap_and_writes_a_figure(tmp_path):
    png = tmp_path / "flow_2d.png"
    stdout = _run("flow_2d.py", "--epochs", "2", "--num-train", "2048", "--out", str(png))
    nll, entropy, gap = (float(v) for v in re.search(
        r"test NLL ([\d.-]+) nats; true entropy ([\d.-]+) nats; KL gap ([\d.-]+)",
        stdout).groups())
    assert abs(gap - (nll - entropy)) < 2e-4 and gap > -0.05  # a KL gap is >= 0 (up to MC)
    assert png.stat().st_size > 0


def test_digits_glow_example_beats_the_uniform_model(tmp_path):
    png = tmp_path / "glow.png"
    stdout = _run("digits_glow.py", "--epochs", "3", "--out", str(png))
    bpd = float(re.search(r"test bits/dim ([\d.]+)", stdout).group(1))
    assert bpd < np.log2(17)
    assert (tmp_path / "glow_T0.7.png").stat().st_size > 0


@pytest.mark.parametrize("script, epochs", [("conditional_digits.py", "8"),
                                            ("conditional_vae_digits.py", "10")])
def test_conditional_examples_prefer_the_true_labels(tmp_path, script, epochs):
    """The flow's bits/dim and the VAE's -ELBO: lower with the true labels."""
    png = tmp_path / "cond.png"
    stdout = _run(script, "--epochs", epochs, "--out", str(png))
    true_cost, wrong_cost = (float(v) for v in re.search(
        r"true labels ([\d.]+); with shuffled labels ([\d.]+)", stdout).groups())
    assert true_cost < wrong_cost
    assert png.stat().st_size > 0


def test_vae_example_reports_ordered_bounds_and_diagnostics(tmp_path):
    stdout = _run("vae_digits.py", "--epochs", "3", "--iwae-samples", "50",
                  "--out", str(tmp_path / "vae"))
    neg_elbo, iwae = (float(v) for v in re.search(
        r"test -ELBO ([\d.]+) nats .* IWAE NLL \(K=50\) ([\d.]+) nats", stdout).groups())
    assert iwae <= neg_elbo
    assert "active units:" in stdout and (tmp_path / "vae" / "traversal.png").exists()


def test_beta_vae_example_writes_two_traversals(tmp_path):
    stdout = _run("beta_vae_traversal.py", "--epochs", "2", "--out", str(tmp_path / "beta"))
    assert len(re.findall(r"beta \d: reconstruction", stdout)) == 2
    assert (tmp_path / "beta" / "traversal_beta4.png").exists()


def test_vae_flows_example_reports_ordered_bounds():
    stdout = _run("vae_flows.py", "--epochs", "1", "--iwae-samples", "20")
    rows = re.findall(r"-ELBO ([\d.]+), IWAE NLL ([\d.]+)", stdout)
    assert len(rows) == 2
    for neg_elbo, iwae in rows:
        assert float(iwae) <= float(neg_elbo)


def test_ffjord_example_reports_a_kl_gap_and_its_function_evaluations(tmp_path):
    png = tmp_path / "ffjord_2d.png"
    stdout = _run("ffjord_2d.py", "--epochs", "2", "--num-train", "1000", "--hidden", "16",
                  "--kinetic-energy", "0.01", "--out", str(png))
    nll, entropy, gap = (float(v) for v in re.search(
        r"test NLL ([\d.-]+) nats; true entropy ([\d.-]+) nats; KL gap ([\d.-]+)",
        stdout).groups())
    assert abs(gap - (nll - entropy)) < 2e-4 and gap > -0.05
    first, last, test = (int(v) for v in re.search(
        r"NFE per solve: first epoch (\d+), last epoch (\d+), test (\d+)", stdout).groups())
    assert min(first, last, test) > 0
    assert png.stat().st_size > 0
