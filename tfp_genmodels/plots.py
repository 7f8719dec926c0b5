"""Matplotlib figures: 2-D densities, sample scatters, image grids.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot's
global state (safe in scripts and servers, no display needed); save it with
``tfp_genmodels._io.save_figure`` (atomic) or ``figure.savefig``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure


def density_grid(log_prob: Callable[[np.ndarray], np.ndarray],
                 bounds: Sequence[float] = (-4.0, 4.0, -4.0, 4.0),
                 resolution: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Evaluates ``exp(log_prob)`` on a ``resolution`` x ``resolution`` grid.

    Returns ``(xs, ys, density)`` with ``density[i, j]`` at ``(xs[j], ys[i])``.
    """
    x0, x1, y0, y1 = (float(b) for b in bounds)
    xs = np.linspace(x0, x1, resolution, dtype=np.float32)
    ys = np.linspace(y0, y1, resolution, dtype=np.float32)
    xx, yy = np.meshgrid(xs, ys)
    points = np.stack([xx.ravel(), yy.ravel()], axis=-1)
    lp = np.asarray(log_prob(points), dtype=np.float64).reshape(xx.shape)
    return xs, ys, np.exp(lp)


def density_figure(log_prob: Callable[[np.ndarray], np.ndarray], title: str = "",
                   bounds: Sequence[float] = (-4.0, 4.0, -4.0, 4.0),
                   resolution: int = 200) -> Figure:
    """A heat-map of a 2-D density ``exp(log_prob(x))``."""
    xs, ys, dens = density_grid(log_prob, bounds, resolution)
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    ax.imshow(dens, origin="lower", extent=(xs[0], xs[-1], ys[0], ys[-1]), cmap="magma",
              interpolation="nearest", aspect="equal")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def scatter_figure(samples: np.ndarray, reference: np.ndarray | None = None,
                   title: str = "", bounds: Sequence[float] = (-4.0, 4.0, -4.0, 4.0),
                   labels: np.ndarray | None = None) -> Figure:
    """Scatter of 2-D ``samples`` (over ``reference`` data, or coloured by ``labels``)."""
    samples = np.asarray(samples)
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    if reference is not None:
        ax.scatter(*np.asarray(reference).T, s=2, c="0.75", label="data")
    if labels is None:
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c="tab:blue", label="samples")
    else:
        ax.scatter(samples[:, 0], samples[:, 1], s=2, c=labels, cmap="tab10", label="samples")
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal")
    ax.set_title(title)
    if reference is not None:
        ax.legend(loc="upper right", markerscale=4, fontsize="small")
    return fig


def image_grid_figure(images: np.ndarray, num_columns: int = 8, title: str = "",
                      vmax: float | None = None,
                      row_labels: Sequence[str] | None = None) -> Figure:
    """A grid of ``[N, H, W, C]`` images (grey for ``C = 1``), ``vmax`` the white level;
    ``row_labels`` label the rows on the left (e.g. sampling temperatures)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4:
        raise ValueError(f"`images` must be [N, H, W, C]; got shape {images.shape}.")
    n = len(images)
    cols = min(num_columns, n)
    rows = -(-n // cols)
    vmax = float(images.max()) if vmax is None else vmax
    fig = Figure(figsize=(cols * 0.8, rows * 0.8 + (0.3 if title else 0)))
    for i in range(rows * cols):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if row_labels is not None and i % cols == 0 and i // cols < len(row_labels):
            ax.text(-0.1, 0.5, row_labels[i // cols], transform=ax.transAxes,
                    ha="right", va="center", fontsize=8)
        if i < n:
            img = images[i]
            if img.shape[-1] == 1:
                ax.imshow(img[..., 0], cmap="gray", vmin=0, vmax=vmax,
                          interpolation="nearest")
            else:
                ax.imshow(np.clip(img / vmax, 0, 1), interpolation="nearest")
    if title:
        fig.suptitle(title)
    return fig


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray,
                          title: str = "", vmax: float | None = None) -> Figure:
    """Pairs of rows: originals above their reconstructions (``[N, H, W, C]`` each)."""
    originals, reconstructions = np.asarray(originals), np.asarray(reconstructions)
    cols = min(8, len(originals))
    rows = []
    for start in range(0, len(originals), cols):
        rows += [originals[start:start + cols], reconstructions[start:start + cols]]
    return image_grid_figure(np.concatenate(rows), num_columns=cols,
                             title=title or "originals (odd rows) / reconstructions",
                             vmax=vmax)


def traversal_figure(images: np.ndarray, num_steps: int, title: str = "",
                     vmax: float | None = None) -> Figure:
    """A latent traversal: one row per latent dimension, ``num_steps`` images each."""
    return image_grid_figure(images, num_columns=num_steps, title=title, vmax=vmax)


def latent_scatter_figure(z: np.ndarray, labels: np.ndarray, title: str = "") -> Figure:
    """2-D latent codes coloured by label."""
    z = np.asarray(z)
    fig = Figure(figsize=(4.5, 4))
    ax = fig.add_subplot()
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=6)
    fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel("z_0")
    ax.set_ylabel("z_1")
    ax.set_title(title)
    return fig
