"""scikit-learn's 8x8 digits: 1797 images with 17 grey levels, shipped with scikit-learn."""

from __future__ import annotations

import numpy as np

from tfp_genmodels.data.images import ImageData, Split

DIGITS_LEVELS = 17     # scikit-learn's digits: grey levels 0..16
DIGITS_SPLIT = (1257, 180, 360)  # train / validation / test (fixed permutation, seed 0)


def load_digits() -> ImageData:
    """scikit-learn's 8x8 digits, values ``0..16`` (17 levels), fixed split.

    The split is a fixed permutation (NumPy seed 0) into
    1257 / 180 / 360 train / validation / test images; every call returns the
    same arrays. Images are ``float32`` ``[N, 8, 8, 1]`` holding integers;
    use ``pixel_levels=17, pixel_format="integer"`` in a flow.
    """
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as err:  # pragma: no cover - scikit-learn is in the extras
        raise ImportError("load_digits needs scikit-learn: pip install "
                          "'tfp_genmodels[examples]'") from err
    bunch = sk_load_digits()
    x = bunch.images.astype(np.float32)[..., None]
    y = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    n_train, n_val, _ = DIGITS_SPLIT
    cut = [n_train, n_train + n_val]
    parts = [Split(xp, yp) for xp, yp in zip(np.split(x, cut), np.split(y, cut))]
    return ImageData(*parts, levels=DIGITS_LEVELS)
