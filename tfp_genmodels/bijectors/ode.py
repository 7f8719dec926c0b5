r"""The continuous change of variables: trace estimators and the ODE solve.

A continuous flow moves a point along ``dz/dt = f(t, z)``; its log-density
follows the *instantaneous change of variables* (Chen et al., 2018, theorem 1)::

    d log p(z(t)) / dt = -tr(df / dz(t))

so the log-det of the map ``z(0) -> z(1)`` is ``integral_0^1 tr(df/dz) dt``,
solved together with the state (``tfb.FFJORD``'s augmented ODE). This module
holds the two pieces ``tfb.FFJORD`` takes as functions, so that every model
built on :class:`~tfp_genmodels.bijectors.ContinuousFlow` shares them:

* :class:`TraceAugmentation` (its ``trace_augmentation_fn``): the exact trace
  (``D`` vector-Jacobian products per evaluation, on the state flattened to
  ``[N, D]``; TFP's own reads the first axis as the batch and is wrong on an
  unbatched point) or Hutchinson's unbiased ``E[e^T (df/dz) e]`` with
  Rademacher ``e`` (one product; Grathwohl et al., 2019), drawn once per solve.
* :class:`ODESolve` (its ``ode_solve_fn``): TFP's adaptive solver, the count of
  function evaluations (NFE) and, when asked, Finlay et al.'s (2020)
  regularisers, the kinetic energy ``integral ||f||^2 dt`` and the Jacobian's
  Frobenius norm ``integral ||df/dz||_F^2 dt`` (estimated as ``||e^T df/dz||^2``),
  integrated alongside.

A :class:`SolveRecord` shared by the pieces says whether a call trains (fresh
Hutchinson noise, regularisers) and collects what the solves report.

References:
  Chen, Rubanova, Bettencourt & Duvenaud. Neural Ordinary Differential
  Equations. 2018. arXiv:1806.07366.
  Grathwohl, Chen, Bettencourt, Sutskever & Duvenaud. FFJORD: Free-form
  Continuous Dynamics for Scalable Reversible Generative Models. 2019.
  arXiv:1810.01367.
  Finlay, Jacobsen, Nurbekyan & Oberman. How to train your neural ODE: the
  world of Jacobian and kinetic regularization. 2020. arXiv:2002.02798.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args
from tfp_genmodels._registry import CNF_SOLVERS, CNF_TRACES

tfb = tfp.bijectors

#: Up to this event size, ``trace=None`` means the exact trace; above it, Hutchinson's.
EXACT_TRACE_MAX_DIMS = 16
#: The solver tolerances' defaults by dtype.
DEFAULT_TOLERANCE = {"float32": 1e-5, "float64": 1e-8}
#: The stateless seed of Hutchinson's noise outside training (``log_prob``,
#: ``evaluate``, exported signatures), so that scores are reproducible.
TRACE_SEED = (20, 19)


def trace_arg(trace: str | None, dim: int) -> str:
    """``trace``, checked; ``None`` picks ``"exact"`` up to :data:`EXACT_TRACE_MAX_DIMS`."""
    if trace is None:
        return "exact" if dim <= EXACT_TRACE_MAX_DIMS else "hutchinson"
    if trace not in CNF_TRACES:
        raise ValueError(f"`trace` must be one of {CNF_TRACES} or None; got {trace!r}.")
    return trace


def tolerance_args(atol: float | None, rtol: float | None, dtype: str = "float32"
                   ) -> tuple[float, float]:
    """``(atol, rtol)``, checked; ``None`` is :data:`DEFAULT_TOLERANCE` of ``dtype``."""
    default = DEFAULT_TOLERANCE[tf.as_dtype(dtype).name]
    return (_args.positive_float_arg(default if atol is None else atol, "atol"),
            _args.positive_float_arg(default if rtol is None else rtol, "rtol"))


def make_solver(solver: str = "dopri5", atol: float | None = None, rtol: float | None = None,
                max_num_steps: int = 1000, dtype: str = "float32") -> tfp.math.ode.Solver:
    """TFP's ``"dopri5"`` (Dormand-Prince 5(4)) or ``"bdf"`` solver with checked
    tolerances (:func:`tolerance_args`). Exceeding ``max_num_steps`` raises
    ``InvalidArgumentError`` instead of returning an unfinished solution."""
    if solver not in CNF_SOLVERS:
        raise ValueError(f"`solver` must be one of {CNF_SOLVERS}; got {solver!r}.")
    atol, rtol = tolerance_args(atol, rtol, dtype)
    kind = {"dopri5": tfp.math.ode.DormandPrince, "bdf": tfp.math.ode.BDF}[solver]
    return kind(atol=atol, rtol=rtol,
                max_num_steps=_args.positive_int_arg(max_num_steps, "max_num_steps"))


def rademacher(shape, dtype: tf.DType, seed=None) -> tf.Tensor:
    """+-1 with equal odds: stateful (fresh in every graph call) without ``seed``."""
    u = (tf.random.uniform(shape, dtype=dtype) if seed is None
         else tf.random.stateless_uniform(shape, seed=seed, dtype=dtype))
    return tf.where(u < 0.5, -tf.ones_like(u), tf.ones_like(u))


def exact_trace(ode_fn: Callable, state_shape, dtype) -> Callable:
    """TFP's ``trace_jacobian_exact`` on the state flattened to ``[N, D]``.

    TFP's reads the first axis as the batch: on an unbatched ``[D]`` state it
    takes the ``D`` coordinates for ``D`` examples and returns a wrong trace
    (a single point's ``log_prob`` up to 27% off the batched one in
    ``tests/test_continuous.py``), and two batch axes break it too.
    """
    dim = state_shape[-1]

    def flat_fn(time, flat_state, **kwargs):
        state = tf.reshape(flat_state, state_shape)
        return tf.reshape(ode_fn(time, state, **kwargs), [-1, dim])

    flat_augmented = tfb.ffjord.trace_jacobian_exact(flat_fn, [None, dim], dtype)

    def augmented(time, state_and_log_det, **kwargs):
        state, log_det = state_and_log_det
        derivative, trace = flat_augmented(
            time, (tf.reshape(state, [-1, dim]), tf.reshape(log_det, [-1, dim])), **kwargs)
        return tf.reshape(derivative, state_shape), tf.reshape(trace, state_shape)

    return augmented


def hutchinson_trace(ode_fn: Callable, noise: tf.Tensor) -> Callable:
    """``(t, (z, l)) -> (f, e * (e^T df/dz))``: Hutchinson's estimate, unreduced (its
    sum over the event is ``e^T (df/dz) e``), with the noise ``e`` of the solve."""

    def augmented(time, state_and_log_det, **kwargs):
        state, _ = state_and_log_det
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(state)
            derivative = ode_fn(time, state, **kwargs)
        return derivative, noise * tape.gradient(derivative, state, noise)

    return augmented


class SolveRecord(threading.local):
    """Whether the solves of a call train, and what they report (plain Python state).

    ``training`` selects fresh Hutchinson noise and the regularisers;
    ``evaluations`` (``None`` outside :meth:`recording`) and ``penalties`` collect
    each solve's NFE and ``(kinetic, frobenius)`` integrals. Thread-local: a
    ``MirroredStrategy`` traces each replica's step in its own thread.
    """

    def __init__(self):
        self.training = False
        self.evaluations: list | None = None
        self.penalties: list = []

    @contextlib.contextmanager
    def recording(self, training: bool) -> Iterator[SolveRecord]:
        """Collects the solves inside the block (``training`` as given)."""
        self.training, self.evaluations, self.penalties = training, [], []
        try:
            yield self
        finally:
            self.training, self.evaluations = False, None

    def add_evaluations(self, count: tf.Tensor) -> None:
        if self.evaluations is not None:
            self.evaluations.append(count)


class TraceAugmentation:
    """``tfb.FFJORD``'s ``trace_augmentation_fn``: the exact trace or Hutchinson's
    (module docstring). Outside training Hutchinson's noise uses ``seed``, so a
    score is reproducible; in training (``record.training``) it is fresh.

    Args:
      trace: ``"exact"`` or ``"hutchinson"``.
      record: the :class:`SolveRecord` that says whether a call trains.
      seed: the stateless seed outside training.
    """

    def __init__(self, trace: str, record: SolveRecord | None = None,
                 seed: tuple[int, int] = TRACE_SEED):
        self.trace = trace_arg(trace, 0)
        self.record = SolveRecord() if record is None else record
        self.seed = tuple(seed)

    def __call__(self, ode_fn, state_shape, dtype):
        if self.trace == "exact":
            return exact_trace(ode_fn, state_shape, dtype)
        seed = None if self.record.training else tf.constant(self.seed, tf.int32)
        return hutchinson_trace(ode_fn, rademacher(state_shape, dtype, seed))


class ODESolve:
    """``tfb.FFJORD``'s ``ode_solve_fn``: the solver's solve, its NFE recorded, and in
    training with ``regularise`` the integrals ``||f||^2`` and (with ``jacobian``)
    ``||e^T df/dz||^2`` per example solved alongside (module docstring).

    Args:
      solver: a ``tfp.math.ode.Solver`` (:func:`make_solver`).
      record: the :class:`SolveRecord` the solves report to.
      regularise: solve the regularisers' integrals in training.
      jacobian: include the Frobenius term (its backward pass costs a product).
    """

    def __init__(self, solver: tfp.math.ode.Solver, record: SolveRecord | None = None,
                 regularise: bool = False, jacobian: bool = False):
        self.solver = solver
        self.record = SolveRecord() if record is None else record
        self.regularise, self.jacobian = bool(regularise), bool(jacobian)

    def __call__(self, ode_fn, initial_time, initial_state, solution_times, constants=None):
        penalise = self.record.training and self.regularise
        if penalise:
            ode_fn, initial_state = self._with_regularisers(ode_fn, initial_state)
        results = self.solver.solve(ode_fn, initial_time, initial_state, solution_times,
                                    constants=constants)
        self.record.add_evaluations(results.diagnostics.num_ode_fn_evaluations)
        if penalise:
            state, log_det, kinetic, frobenius = results.states
            self.record.penalties.append((kinetic[-1], frobenius[-1]))
            results = results._replace(states=(state, log_det))
        return results

    def _with_regularisers(self, ode_fn, initial_state):
        """The ODE with two more integrals per example: ``||f||^2`` and ``||e^T df/dz||^2``."""
        state, log_det = initial_state
        zeros = tf.zeros(tf.shape(state)[:-1], state.dtype)
        frobenius = self.jacobian  # else skip its backward pass
        noise = rademacher(tf.shape(state), state.dtype) if frobenius else None

        def regularised(time, full_state, **kwargs):
            z, log_det, _, _ = full_state
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(z)
                derivative, trace = ode_fn(time, (z, log_det), **kwargs)
            jacobian_term = (tf.reduce_sum(tf.square(tape.gradient(derivative, z, noise)), -1)
                             if frobenius else tf.zeros_like(derivative[..., 0]))
            return (derivative, trace, tf.reduce_sum(tf.square(derivative), -1),
                    jacobian_term)

        return regularised, (state, log_det, zeros, zeros)


__all__ = ["DEFAULT_TOLERANCE", "EXACT_TRACE_MAX_DIMS", "ODESolve", "SolveRecord", "TRACE_SEED",
           "TraceAugmentation", "exact_trace", "hutchinson_trace", "make_solver", "rademacher",
           "tolerance_args", "trace_arg"]
