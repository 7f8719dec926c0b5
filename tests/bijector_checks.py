"""The shared correctness check that every bijector test calls.

``check_bijector(make, x)`` builds the bijector in float32 and float64 and
checks, on batched and unbatched input and under ``tf.function`` with an
unknown batch dimension (and XLA):

* round trip ``inverse(forward(x)) = x`` and ``forward(inverse(y)) = y``, with
  TFP's bijector cache busted by ``tf.identity`` so the math is tested;
* ``fldj(x) = -ildj(forward(x))``;
* ``fldj(x) = log|det J(x)|`` with ``J`` the autodiff Jacobian
  (``batch_jacobian`` of the flattened event), and likewise the inverse;
* finite outputs, output shapes, ``forward_event_shape`` round trip;

and what TFP holds its own bijectors to (``bijector_properties_test.py``,
``bijector_test_util.py``):

* TFP's bijector cache: a second instance built the same way, with other
  variable values, gives its own results for the very same input tensor
  object, in eager mode and inside one ``tf.function``;
* every trainable variable and the input get a gradient through ``forward``
  and ``inverse``, and every log-det gradient is finite; a bijector that
  declares ``is_constant_jacobian`` has a log-det that does not depend on x;
* each variable is read at most once per method (TFP's variable-usage rule);
* ``forward_dtype`` / ``inverse_dtype`` match the outputs;
* ``experimental_batch_shape`` is the parameters' batch shape, and a
  ``TransformedDistribution`` on the bijector samples and scores with it;
* scalar bijectors: ``_is_increasing`` agrees with the sign of dy/dx, and the
  log-det is the change of measure (TFP's ``assert_scalar_congruency``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

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


#: Up to this many dimensions the autodiff Jacobian is built row by row.
LOOP_JACOBIAN_MAX_DIMS = 8


def autodiff_log_det(fn: Callable, x: tf.Tensor, event_ndims: int) -> tf.Tensor:
    """``log|det d fn(x) / dx|`` per batch member from the autodiff Jacobian.

    ``x`` must have exactly one batch dimension; events are flattened.
    """
    event_shape = tf.shape(x)[1:]
    x_flat = tf.reshape(x, [tf.shape(x)[0], -1])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x_flat)
        y = fn(tf.reshape(x_flat, tf.concat([[-1], event_shape], 0)))
        y_flat = tf.reshape(y, [tf.shape(x)[0], -1])
    dim = y_flat.shape[-1]
    if dim > LOOP_JACOBIAN_MAX_DIMS:
        jac = tape.batch_jacobian(y_flat, x_flat)
    else:
        # One vector-Jacobian product per output coordinate (rows of every
        # example's Jacobian): pfor cannot vectorise some gradients (an ODE
        # solver's adjoint) and spends minutes finding that out in eager mode.
        rows = [tape.gradient(y_flat, x_flat, output_gradients=tf.one_hot(
            tf.fill(tf.shape(y_flat)[:1], i), dim, dtype=y_flat.dtype)) for i in range(dim)]
        jac = tf.stack(rows, axis=1)
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


def _check_cache_identity(make, bij, xt, kw, event_ndims, tol, name):
    """Two instances, other variable values, one input tensor object: their own results.

    TFP's cache is keyed on bijector equality; instances that compare equal
    would answer each other's lookups (issue: two models sharing the cache).
    """
    twin = make(xt.dtype)
    if twin is bij or {id(v) for v in twin.variables} & {id(v) for v in bij.variables}:
        return  # `make` hands out one model's flow: no second instance to compare
    perturb_variables(twin, scale=0.1, seed=1)
    methods = {
        "forward": lambda b, t: b.forward(t, **kw),
        "inverse": lambda b, t: b.inverse(t, **kw),
        "fldj": lambda b, t: b.forward_log_det_jacobian(t, event_ndims=event_ndims, **kw),
        "ildj": lambda b, t: b.inverse_log_det_jacobian(t, event_ndims=event_ndims, **kw),
    }
    y = bij.forward(tf.identity(xt), **kw)
    for method, call in methods.items():
        arg = y if method in ("inverse", "ildj") else xt
        expected = [call(b, tf.identity(arg)) for b in (bij, twin)]
        shared = tf.identity(arg)  # one tensor object for both
        eager = [call(b, shared) for b in (bij, twin)]
        traced = tf.function(lambda t: [call(b, t) for b in (bij, twin)])(tf.identity(arg))
        for got, what in ((eager, "eager"), (traced, "tf.function")):
            for g, e, who in zip(got, expected, ("first", "second")):
                _close(tf.broadcast_to(g, tf.shape(e)), e, tol["value"],
                       f"{name} cache identity: {method} of the {who} instance ({what})")


def _float_variables(bij):
    return [v for v in bij.trainable_variables if v.dtype.is_floating]


def _check_gradients(bij, xt, y, kw, event_ndims, name):
    """TFP's ``assert_no_none_grad``: the input and every variable get a gradient."""
    variables = _float_variables(bij)
    for method, arg in (("forward", xt), ("inverse", y)):
        arg = tf.identity(arg)
        with tf.GradientTape() as tape:
            tape.watch(arg)
            out = getattr(bij, method)(arg + 0, **kw)
        grads = tape.gradient(out, [arg, *variables])
        missing = [v.name for v, g in zip(["input", *variables], grads) if g is None]
        assert not missing, f"{name}: no gradient through {method} for {missing}"
        for g in grads:
            assert np.all(np.isfinite(tf.convert_to_tensor(g))), f"{name}: {method} grad"
    for method, arg in (("forward_log_det_jacobian", xt), ("inverse_log_det_jacobian", y)):
        arg = tf.identity(arg)
        with tf.GradientTape() as tape:
            tape.watch(arg)
            ldj = getattr(bij, method)(arg + 0, event_ndims=event_ndims, **kw)
        grads = tape.gradient(ldj, [arg, *variables])
        for g in grads:
            if g is not None:
                assert np.all(np.isfinite(tf.convert_to_tensor(g))), f"{name}: {method} grad"
        if bij.is_constant_jacobian and grads[0] is not None:
            np.testing.assert_allclose(grads[0], 0.0, atol=1e-6,
                                       err_msg=f"{name} declares is_constant_jacobian but "
                                               f"its {method} depends on x")


def count_variable_reads(fn: Callable, arg: tf.Tensor, variables) -> dict:
    """``{variable name: number of reads}`` in the graph of ``fn(arg)``.

    TFP's variable-usage rule (``assert_no_excessive_var_usage``): a method
    reads each parameter once, so a value cannot change between two reads.
    """
    graph = tf.function(fn).get_concrete_function(arg).graph
    internal = {id(ext): int_ for ext, int_ in graph.captures}
    counts = {}
    for v in variables:
        placeholder = internal.get(id(v.handle))
        if placeholder is None:
            counts[v.name] = 0
            continue
        counts[v.name] = sum(1 for op in graph.get_operations()
                             if op.type == "ReadVariableOp" and op.inputs[0] is placeholder)
    return counts


def _check_variable_usage(bij, xt, y, kw, event_ndims, name, max_ldj_reads, max_reads):
    variables = _float_variables(bij)
    if not variables:
        return
    methods = {
        "forward": (xt, lambda t: bij.forward(t, **kw)),
        "inverse": (y, lambda t: bij.inverse(t, **kw)),
        "forward_log_det_jacobian": (
            xt, lambda t: bij.forward_log_det_jacobian(t, event_ndims=event_ndims, **kw)),
        "inverse_log_det_jacobian": (
            y, lambda t: bij.inverse_log_det_jacobian(t, event_ndims=event_ndims, **kw)),
    }
    for method, (arg, fn) in methods.items():
        counts = count_variable_reads(fn, tf.identity(arg), variables)
        limit = max(max_ldj_reads, max_reads) if "log_det" in method else max_reads
        excessive = {k: c for k, c in counts.items() if c > limit}
        assert not excessive, (f"{name}: {method} reads variables more than {limit} "
                               f"time(s): {excessive}")


def _check_batch_shape(bij, xt, y, kw, event_ndims, batch_shape, name):
    """``experimental_batch_shape`` and a TransformedDistribution built on it."""
    assert bij.experimental_batch_shape(x_event_ndims=event_ndims) == batch_shape, (
        f"{name}: batch shape {bij.experimental_batch_shape(x_event_ndims=event_ndims)} "
        f"!= {batch_shape}")
    if kw:
        return  # kwargs are per example; a distribution's sample has other shapes
    event = xt.shape[1:]
    base = tfp.distributions.Sample(
        tfp.distributions.Normal(tf.zeros([], xt.dtype), 1.0), event)
    dist = tfp.distributions.TransformedDistribution(base, bij)
    assert dist.batch_shape == batch_shape, f"{name}: distribution batch {dist.batch_shape}"
    sample = dist.sample(2, seed=(1, 2))
    assert sample.shape == [2, *batch_shape, *bij.forward_event_shape(event)], (
        f"{name}: sample shape {sample.shape}")
    assert dist.log_prob(tf.identity(y)).shape == tf.broadcast_static_shape(
        tf.TensorShape([xt.shape[0]]), tf.TensorShape(batch_shape)), f"{name}: log_prob"


def _check_scalar(bij, xt, name, tol):
    """Elementwise bijectors: ``_is_increasing`` and TFP's scalar congruency."""
    if bij.forward_min_event_ndims != 0:
        return
    x = tf.identity(xt)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = bij.forward(x)
    dydx = tape.gradient(y, x)
    increasing = bool(bij._internal_is_increasing())  # raises if not implemented
    assert bool(tf.reduce_all((dydx >= 0) if increasing else (dydx <= 0))), (
        f"{name}: _is_increasing() is {increasing} but dy/dx = {dydx.numpy()}")
    if bij.experimental_batch_shape().rank:
        return  # a batch of scalar maps: TFP's congruency check is for one scalar map
    # Change of measure on [lo, hi] in the domain: (hi - lo) = int |dx/dy| dy.
    lo, hi = float(tf.reduce_min(xt)), float(tf.reduce_max(xt))
    y_lo, y_hi = (float(v) for v in bij.forward(tf.constant([lo, hi], xt.dtype)))
    y_lo, y_hi = min(y_lo, y_hi), max(y_lo, y_hi)
    ys = tf.constant(np.linspace(y_lo, y_hi, 20001), xt.dtype)
    dx_dy = tf.broadcast_to(tf.exp(bij.inverse_log_det_jacobian(ys, event_ndims=0)), ys.shape)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # NumPy 2 renamed it
    integral = trapezoid(dx_dy.numpy(), ys.numpy())
    np.testing.assert_allclose(integral, hi - lo, rtol=max(1e-3, tol["ldj"]),
                               err_msg=f"{name}: log-det is not the change of measure")


def check_bijector(make: Callable[[tf.DType], object], x: np.ndarray, event_ndims: int,
                   kwargs: dict | None = None, dtypes=(tf.float32, tf.float64),
                   jit: bool = True, tolerance_scale: float = 1.0,
                   batched_parameters: bool = False, max_ldj_reads: int = 1,
                   max_reads: int = 1) -> None:
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

        # TFP's contract (module docstring).
        assert bij.forward_dtype(xt.dtype) == y.dtype, name
        assert bij.inverse_dtype(y.dtype) == xt.dtype, name
        _check_cache_identity(make, bij, xt, kw, event_ndims, tol, name)
        _check_gradients(bij, xt, y, kw, event_ndims, name)
        _check_variable_usage(bij, xt, y, kw, event_ndims, name, max_ldj_reads, max_reads)
        _check_batch_shape(bij, xt, y, kw, event_ndims,
                           [n] if batched_parameters else [], name)
        _check_scalar(bij, xt, name, tol)

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
