"""The shared correctness check that every bijector test calls.

``check_bijector(make, x)`` builds the bijector in float32 and float64 and
checks, on batched and unbatched input and under ``tf.function`` with an
unknown batch dimension (and XLA):

* round trip ``inverse(forward(x)) = x`` and ``forward(inverse(y)) = y``, with
  TFP's bijector cache busted by ``tf.identity`` so the math is tested;
* ``fldj(x) = -ildj(forward(x))``;
* ``fldj(x) = log|det J(x)|`` with ``J`` the autodiff Jacobian
  (``batch_jacobian`` of the flattened event), and likewise the inverse;
* finite outputs, output shapes, ``forward_event_shape`` round trip.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

TOLERANCES = {
    tf.float32: dict(value=2e-4, ldj=2e-3),
    tf.float64: dict(value=1e-9, ldj=1e-8),
}


def perturb_variables(bijector, scale: float = 0.3, seed: int = 0) -> None:
    """Adds noise to every trainable variable, so zero-initialised layers are not the identity.

    A variable's constraint (e.g. MADE's autoregressive mask, a Keras kernel
    constraint) is applied afterwards, as an optimizer step would.
    """
    rng = np.random.default_rng(seed)
    for v in bijector.trainable_variables:
        v.assign(v + scale * rng.standard_normal(v.shape).astype(v.dtype.as_numpy_dtype))
        if getattr(v, "constraint", None) is not None:
            v.assign(v.constraint(v))


def _flat_event(t, event_ndims):
    return tf.reshape(t, tf.concat([tf.shape(t)[:tf.rank(t) - event_ndims], [-1]], 0))


def autodiff_log_det(fn: Callable, x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """``log|det d fn(x) / dx|`` per batch member from the autodiff Jacobian.

    ``x`` must have exactly one batch dimension; events are flattened.
    """
    event_shape = tf.shape(x)[1:]
    x_flat = tf.reshape(x, [tf.shape(x)[0], -1])
    with tf.GradientTape() as tape:
        tape.watch(x_flat)
        y = fn(tf.reshape(x_flat, tf.concat([[-1], event_shape], 0)))
        y_flat = tf.reshape(y, [tf.shape(x)[0], -1])
    jac = tape.batch_jacobian(y_flat, x_flat)
    _, log_abs_det = tf.linalg.slogdet(jac)
    return log_abs_det


def _close(actual, expected, tol, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values {actual}"
    scale = 1.0 + np.abs(expected)
    err = np.max(np.abs(actual - expected) / scale) if actual.size else 0.0
    assert err <= tol, f"{what}: max relative error {err:.3g} > {tol:.1g}"


def _check_other_batch_shapes(bij, xt, y, fldj, kw, event_ndims, tol, name):
    """Unbatched input and two batch dimensions agree with the [N] batch."""
    event_in = xt.shape[1:]
    # Unbatched input (kwargs must then be unbatched too).
    kw0 = tf.nest.map_structure(lambda v: v[0], kw)
    y0 = bij.forward(tf.identity(xt[0]), **kw0)
    _close(y0, y[0], tol["value"], f"{name} unbatched forward")
    f0 = bij.forward_log_det_jacobian(tf.identity(xt[0]), event_ndims=event_ndims, **kw0)
    _close(f0, fldj[0], tol["ldj"], f"{name} unbatched fldj")

    # Two batch dimensions.
    n = xt.shape[0]
    x2 = tf.reshape(xt, [2, n // 2, *event_in])
    kw2 = tf.nest.map_structure(lambda v: tf.reshape(v, [2, n // 2, *v.shape[1:]]), kw)
    y2 = bij.forward(x2, **kw2)
    _close(tf.reshape(y2, y.shape), y, tol["value"], f"{name} 2 batch dims forward")
    f2 = bij.forward_log_det_jacobian(tf.identity(x2), event_ndims=event_ndims, **kw2)
    _close(tf.reshape(tf.broadcast_to(f2, [2, n // 2]), [n]), fldj, tol["ldj"],
           f"{name} 2 batch dims fldj")


def check_bijector(make: Callable[[tf.DType], object], x: np.ndarray, event_ndims: int,
                   kwargs: dict | None = None, dtypes=(tf.float32, tf.float64),
                   jit: bool = True, tolerance_scale: float = 1.0,
                   batched_parameters: bool = False) -> None:
    """Runs every check on ``make(dtype)`` applied to ``x`` (``[N, *event]``).

    Args:
      make: builds the bijector for a dtype (variables already set, e.g.
        perturbed with :func:`perturb_variables`).
      x: a batch of inputs in the forward domain, ``[N, *event_shape]``, N even.
      event_ndims: the event rank of ``x``, ``x.ndim - 1`` (for elementwise
        bijectors too: the log-det is then summed over the flattened event).
      kwargs: keyword arguments (e.g. ``context``, or a chain's nested
        per-bijector dicts) as NumPy arrays with a leading batch dimension N,
        passed to every call.
      tolerance_scale: multiplies the default tolerances (ill-conditioned maps).
      batched_parameters: the bijector's parameters carry the batch dimension
        N (amortised flows); the unbatched and two-batch-dimension checks,
        which need parameters that broadcast against any batch, are skipped.
    """
    assert event_ndims == x.ndim - 1, "x must be [N, *event]; event_ndims = x.ndim - 1"
    for dtype in dtypes:
        bij = make(dtype)
        tol = {k: v * tolerance_scale for k, v in TOLERANCES[dtype].items()}
        xt = tf.constant(x, dtype)
        kw = tf.nest.map_structure(lambda v: tf.constant(v, dtype), kwargs or {})
        name = f"{type(bij).__name__}[{dtype.name}]"

        # Round trip both ways, cache busted.
        y = bij.forward(xt, **kw)
        x_back = bij.inverse(tf.identity(y), **kw)
        _close(x_back, xt, tol["value"], f"{name} inverse(forward(x))")
        y_again = bij.forward(tf.identity(x_back), **kw)
        _close(y_again, y, tol["value"], f"{name} forward(inverse(y))")

        # Log-dets: shapes, consistency, autodiff.
        fldj = bij.forward_log_det_jacobian(tf.identity(xt), event_ndims=event_ndims, **kw)
        ildj = bij.inverse_log_det_jacobian(tf.identity(y), event_ndims=event_ndims, **kw)
        fldj = tf.broadcast_to(fldj, [x.shape[0]])
        ildj = tf.broadcast_to(ildj, [x.shape[0]])
        _close(fldj, -ildj, tol["ldj"], f"{name} fldj(x) = -ildj(f(x))")
        auto_f = autodiff_log_det(lambda t: bij.forward(t, **kw), tf.identity(xt), event_ndims)
        _close(fldj, auto_f, tol["ldj"], f"{name} fldj vs autodiff Jacobian")
        auto_i = autodiff_log_det(lambda t: bij.inverse(t, **kw), tf.identity(y), event_ndims)
        _close(ildj, auto_i, tol["ldj"], f"{name} ildj vs autodiff Jacobian")

        # Event shapes.
        n, event_in = x.shape[0], xt.shape[1:]
        assert bij.forward_event_shape(event_in) == y.shape[1:], name
        assert bij.inverse_event_shape(y.shape[1:]) == event_in, name

        if not batched_parameters:
            _check_other_batch_shapes(bij, xt, y, fldj, kw, event_ndims, tol, name)

        # Unknown batch dimension under tf.function, with and without XLA.
        def round_trip(t, kw_t):
            yt = bij.forward(t, **kw_t)
            return (yt, bij.inverse(tf.identity(yt), **kw_t),
                    bij.inverse_log_det_jacobian(tf.identity(yt), event_ndims=event_ndims,
                                                 **kw_t))

        spec = tf.TensorSpec([None, *event_in], dtype)
        kw_spec = tf.nest.map_structure(lambda v: tf.TensorSpec([None, *v.shape[1:]], dtype), kw)
        for compile_ in ((False, True) if jit else (False,)):
            fn = tf.function(round_trip, input_signature=[spec, kw_spec], jit_compile=compile_)
            yt, xt_back, ildj_t = fn(xt, kw)
            what = f"{name} tf.function(jit_compile={compile_})"
            _close(yt, y, tol["value"], what + " forward")
            _close(xt_back, xt, tol["value"], what + " round trip")
            _close(tf.broadcast_to(ildj_t, [n]), ildj, tol["ldj"], what + " ildj")
