"""LU-factored invertible linear maps: ``InvertibleLinear`` and Glow's 1x1 convolution."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _validation
from tfp_genmodels.bijectors import _params
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector

tfb = tfp.bijectors


def lu_decompose(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LU with partial pivoting (``tf.linalg.lu``): ``perm, L, U`` with ``A[perm] = L U``.

    ``L`` is unit lower triangular, ``U`` upper triangular; all in float64
    NumPy, computed eagerly (``tf.init_scope``) so that a bijector built inside
    a ``tf.function`` or a Keras graph gets concrete initial values.

    Raises:
      ValueError: if ``matrix`` is singular (a zero pivot).
    """
    message = "`initial_matrix` must be invertible; got a singular matrix."
    with tf.init_scope():
        try:
            packed, perm = tf.linalg.lu(tf.constant(matrix, tf.float64))
        except tf.errors.InvalidArgumentError as error:  # an exactly zero pivot
            raise ValueError(message) from error
        packed, perm = packed.numpy(), perm.numpy()
    upper = np.triu(packed)
    if not np.all(np.isfinite(packed)) or np.any(np.diag(upper) == 0.0):
        raise ValueError(message)
    lower = np.tril(packed, -1) + np.eye(packed.shape[0])
    return perm, lower, upper


def random_rotation(size: int, seed: int | None) -> np.ndarray:
    """A uniformly random orthogonal matrix: ``tf.linalg.qr`` of a Gaussian,
    sign-corrected so that the distribution is Haar (Mezzadri, 2007)."""
    shape = [size, size]
    with tf.init_scope():
        if seed is None:
            gaussian = tf.random.normal(shape, dtype=tf.float64)
        else:
            gaussian = tf.random.stateless_normal(shape, seed=[seed, 0], dtype=tf.float64)
        q, r = tf.linalg.qr(gaussian)
        return (q * tf.sign(tf.linalg.diag_part(r))).numpy()


class InvertibleLinear(GreedyLogDetBijector):
    """Learned invertible linear map over the last axis, LU-factored.

    The weight is ``W = P L (U + diag(sign(s) * exp(log|s|)))`` with ``P`` a
    fixed permutation, ``L`` unit lower triangular, ``U`` strictly upper
    triangular (both trainable) and ``log|s|`` trainable. On an event
    ``[..., C]`` with ``M`` positions before the channel axis (``M = 1`` for
    vectors, ``M = H*W`` for images)::

        Forward:  y = W x                         (at every position)
        Inverse:  x = U'^-1 L^-1 P^T y            (two triangular solves)
        log|det dy/dx| = M * sum_c log|s_c| = -log|det dx/dy|

    so the log-det costs O(C), not the O(C^3) of a dense determinant, and the
    inverse needs no matrix inverse. Initialised to a random rotation (or to
    ``initial_matrix``, factorised exactly).

    Linear, so ``is_constant_jacobian``. With ``validate_args=True`` every call
    checks that the factors are finite (``|s| = exp(log|s|) > 0`` then holds).

    Args:
      event_shape: ``[C]``, or ``[H, W, C]`` (a 1x1 convolution).
      initial_matrix: optional ``[C, C]`` invertible matrix to start from.
      trainable: whether ``L``, ``U`` and ``log|s|`` are trainable.
      seed: seed of the random rotation.
      dtype: dtype of the variables.

    References:
      Kingma & Dhariwal. Glow: Generative Flow with Invertible 1x1
      Convolutions. 2018. arXiv:1807.03039.
    """

    def __init__(self, event_shape: Sequence[int] | int,
                 initial_matrix: np.ndarray | None = None, trainable: bool = True,
                 seed: int | None = None, dtype: tf.DType = tf.float32,
                 validate_args: bool = False, name: str = "invertible_linear"):
        parameters = dict(locals())
        self._event_shape = _validation.event_shape_arg(event_shape)
        channels = self._event_shape[-1]
        self._spatial_size = int(np.prod(self._event_shape[:-1]))
        if initial_matrix is None:
            initial_matrix = random_rotation(channels, seed)
        initial_matrix = np.asarray(initial_matrix, dtype=np.float64)
        if initial_matrix.shape != (channels, channels):
            raise ValueError(f"`initial_matrix` must have shape ({channels}, {channels}) "
                             f"for event_shape {self._event_shape}; got "
                             f"{initial_matrix.shape}.")
        perm, lower, upper = lu_decompose(initial_matrix)
        diag = np.diag(upper)
        dtype = tf.as_dtype(dtype)
        with tf.name_scope(name) as scope_name:
            # P^T y is a gather with `perm`; P v is a gather with its inverse.
            self._perm = tf.constant(perm, tf.int32)
            self._inverse_perm = tf.constant(np.argsort(perm), tf.int32)
            self._sign = tf.constant(np.sign(diag), dtype)
            self._lower_mask = tf.constant(np.tril(np.ones((channels, channels)), -1), dtype)
            self.lower = tf.Variable(np.tril(lower, -1), dtype=dtype, trainable=trainable,
                                     name="lower")
            self.upper = tf.Variable(np.triu(upper, 1), dtype=dtype, trainable=trainable,
                                     name="upper")
            self.log_abs_diag = tf.Variable(np.log(np.abs(diag)), dtype=dtype,
                                            trainable=trainable, name="log_abs_diag")
            super().__init__(forward_min_event_ndims=len(self._event_shape),
                             is_constant_jacobian=True,
                             validate_args=validate_args, dtype=dtype,
                             parameters=parameters, name=scope_name)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _parameter_control_dependencies(self, is_init):
        return _params.finite_assertions(self, is_init, {"lower": self.lower, "upper": self.upper,
                                                 "log_abs_diag": self.log_abs_diag})

    def _factors(self):
        """Reads each variable once: ``(L, U', log|s|)``, L unit lower and U' upper
        triangular with the learned diagonal ``sign(s) exp(log|s|)``."""
        eye = tf.eye(self._event_shape[-1], dtype=self.dtype)
        log_abs_diag = tf.convert_to_tensor(self.log_abs_diag)
        lower = self.lower * self._lower_mask + eye
        upper = (self.upper * tf.transpose(self._lower_mask)
                 + tf.linalg.diag(self._sign * tf.exp(log_abs_diag)))
        return lower, upper, log_abs_diag

    def weight(self) -> tf.Tensor:
        """The dense matrix ``W = P L U'`` (for inspection and tests)."""
        lower, upper, _ = self._factors()
        return tf.gather(tf.matmul(lower, upper), self._inverse_perm, axis=0)

    def _to_rows(self, x):
        return tf.reshape(x, [-1, self._event_shape[-1]])

    def _log_det(self, x, log_abs_diag):
        return _params.constant_log_det(
            x, len(self._event_shape), self._spatial_size * tf.reduce_sum(log_abs_diag))

    def _augmented_forward(self, x):
        _validation.check_event_shape(x, self._event_shape, "x")
        lower, upper, log_abs_diag = self._factors()
        # Row-vector form: y^T = x^T U'^T L^T, then the permutation P.
        flat = tf.matmul(tf.matmul(self._to_rows(x), upper, transpose_b=True),
                         lower, transpose_b=True)
        y = tf.reshape(tf.gather(flat, self._inverse_perm, axis=-1), tf.shape(x))
        fldj = self._log_det(x, log_abs_diag)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y):
        _validation.check_event_shape(y, self._event_shape, "y")
        lower, upper, log_abs_diag = self._factors()
        v = tf.transpose(tf.gather(self._to_rows(y), self._perm, axis=-1))
        a = tf.linalg.triangular_solve(lower, v, lower=True)
        x = tf.linalg.triangular_solve(upper, a, lower=False)
        ildj = -self._log_det(y, log_abs_diag)
        return tf.reshape(tf.transpose(x), tf.shape(y)), {"ildj": ildj, "fldj": -ildj}


class InvertibleConv1x1(InvertibleLinear):
    """Glow's invertible 1x1 convolution on ``[H, W, C]`` events, LU-factored.

    The same map as :class:`InvertibleLinear` applied to the channel vector at
    every pixel: ``y[h, w] = W x[h, w]``, ``log|det| = H * W * sum_c log|s_c|``.
    """

    def __init__(self, event_shape: Sequence[int],
                 initial_matrix: np.ndarray | None = None, trainable: bool = True,
                 seed: int | None = None, dtype: tf.DType = tf.float32,
                 validate_args: bool = False, name: str = "invertible_conv_1x1"):
        _validation.event_shape_arg(event_shape, ranks=(3,))
        super().__init__(event_shape, initial_matrix=initial_matrix, trainable=trainable,
                         seed=seed, dtype=dtype, validate_args=validate_args, name=name)
