"""Toy densities: seeded, reproducible, and exact where the density is known."""

from __future__ import annotations

import numpy as np
import pytest

from tfp_genmodels import data


@pytest.mark.parametrize("name", data.TOY_DENSITIES)
def test_seed_controls_every_draw(name):
    a, b = data.toy_sample(name, 500, seed=4), data.toy_sample(name, 500, seed=4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, data.toy_sample(name, 500, seed=5))
    assert a.shape == (500, 2) and a.dtype == np.float32 and np.all(np.isfinite(a))


@pytest.mark.parametrize("name", ["8gaussians", "checkerboard"])
def test_known_densities_integrate_to_one_and_match_samples(name):
    # Midpoint rule: cell centres never sit on the checkerboard's edges.
    h = 0.01
    grid = np.arange(-5 + h / 2, 5, h)
    xx, yy = np.meshgrid(grid, grid)
    dens = np.exp(data.toy_log_prob(name, np.stack([xx, yy], -1)))
    assert abs(dens.sum() * h * h - 1.0) < 5e-3
    # Samples come from the density: every sample has positive density, and the
    # Monte Carlo entropy agrees with a grid estimate.
    samples = data.toy_sample(name, 20000, seed=1)
    assert np.all(np.isfinite(data.toy_log_prob(name, samples)))
    safe = np.where(dens > 0, dens, 1.0)
    grid_entropy = -np.sum(dens * np.log(safe)) * h * h
    assert abs(data.toy_entropy(name) - grid_entropy) < 0.02


def test_bad_names_and_arguments():
    with pytest.raises(ValueError, match=r"`name` must be one of .* got 'spiral'"):
        data.toy_sample("spiral", 10)
    with pytest.raises(ValueError, match=r"closed-form density exists only for"):
        data.toy_log_prob("moons", np.zeros([1, 2]))
    with pytest.raises(ValueError, match=r"`n` must be a positive int; got 0"):
        data.toy_sample("moons", 0)
