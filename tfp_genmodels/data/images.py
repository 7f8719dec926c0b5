"""Image datasets: the splits' container, and binarisation of grey levels.

An :class:`ImageData` holds ``[N, H, W, 1]`` float32 images (integers
``0..levels-1``) and int64 labels in train / validation / test splits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from tfp_genmodels import _args

if TYPE_CHECKING:  # TensorFlow is imported inside the functions that need it
    import tensorflow as tf

class Split(NamedTuple):
    """Images ``x`` (``[N, H, W, 1]``) and integer labels ``y``."""
    x: np.ndarray
    y: np.ndarray


class ImageData(NamedTuple):
    """An image dataset: train / validation / test splits, event shape and pixel levels."""

    train: Split
    validation: Split
    test: Split
    levels: int

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])


def image_data(x_train, y_train, x_test, y_test, num_validation: int, levels: int
                ) -> ImageData:
    """``[N, H, W, 1]`` float32 images and int64 labels; the last ``num_validation``
    training images form the validation split."""
    num_validation = _args.int_arg(num_validation, "num_validation", minimum=1,
                                   maximum=len(x_train) - 1)
    x_train = x_train.astype(np.float32)[..., None]
    x_test = x_test.astype(np.float32)[..., None]
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    k = len(x_train) - num_validation
    return ImageData(Split(x_train[:k], y_train[:k]), Split(x_train[k:], y_train[k:]),
                     Split(x_test, y_test), levels=levels)


def dynamic_binarization(x, seed: int | None = None) -> tf.data.Dataset:
    """A ``tf.data.Dataset`` that redraws binary pixels ``b ~ Bernoulli(x / 255)`` every epoch.

    Dynamic binarisation (as in Burda et al., 2016): each pass over MNIST sees
    fresh binary images, which reduces overfitting of binary-data models.
    ``x`` holds values ``0..255``.
    """
    import tensorflow as tf

    probs = np.asarray(x, np.float32) / 255.0
    # A random op with a fixed seed inside map() replays the same draws on every
    # new iterator (every epoch); a per-example seed from Dataset.random with
    # rerandomize_each_iteration gives fresh, still reproducible, draws.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(probs), seeds))

    def binarize(p, s):
        u = tf.random.stateless_uniform(tf.shape(p), seed=tf.stack([s, s // 7 + 1]))
        return tf.cast(u < p, tf.float32)

    return ds.map(binarize)


def fixed_binarization(x, seed: int = 0) -> np.ndarray:
    """One fixed Bernoulli draw of ``x / 255`` (for reproducible validation / test sets)."""
    rng = np.random.default_rng(seed)
    return (rng.uniform(size=np.shape(x)) < np.asarray(x, np.float32) / 255.0).astype(np.float32)
