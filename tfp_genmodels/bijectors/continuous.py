"""``ContinuousFlow``: a continuous normalizing flow as a bijector on vectors.

Built from a vector field ``f(t, z[, c])`` (any callable; see
:mod:`~tfp_genmodels.bijectors.vector_fields`), it integrates ``dz/dt = f``
from ``t = 0`` (forward's input, the base) to ``t = 1`` (the data) with the
trace and the solve of :mod:`~tfp_genmodels.bijectors.ode`, so that any model
(a maximum-likelihood CNF, flow matching, a diffusion model's probability-flow
ODE) gets the same exact trace, Hutchinson estimator and regularised solve::

    log p(x) = log p_base(z(0)) - integral_0^1 tr(df/dz(t)) dt

(the log-det of ``forward`` is the integral of the traces). A prebuilt
``tfb.FFJORD`` can be wrapped as well.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels.bijectors import ode
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector

tfb = tfp.bijectors


class ContinuousFlow(GreedyLogDetBijector):
    """A continuous normalizing flow on vectors (``tfb.FFJORD``), declared non-elementwise.

    ``tfb.FFJORD`` integrates ``dz/dt = f(t, z)`` from ``t = 0`` (forward's
    input) to ``t = 1`` together with ``integral tr(df/dz) dt``, and returns
    that trace unreduced, one term per coordinate, with
    ``forward_min_event_ndims=0``. But ``f`` mixes the coordinates, so
    ``forward_log_det_jacobian(x, event_ndims=0)`` is no log-det of
    anything, and TFP answers it without complaint. This bijector declares
    ``forward_min_event_ndims=1`` (a rank-0 request then raises) and asks the
    FFJORD for the log-det summed over the vector; TFP's greedy cache keeps
    ``forward`` and its log-det to one ODE solve, in both directions.

    Keyword arguments of a call (a context) go to the FFJORD, which hands
    them to its solver's ``constants`` and so to ``f``.

    Args:
      vector_field: ``f(t, z, **context) -> dz/dt`` (``t`` a scalar, ``z``
        ``[..., D]``), or a prebuilt ``tfb.FFJORD`` to wrap (then the options
        below are its own and must be left unset).
      trace: ``"exact"`` or ``"hutchinson"`` (:class:`~.ode.TraceAugmentation`);
        ``None``: exact up to ``ode.EXACT_TRACE_MAX_DIMS`` dimensions of ``dim``.
      solver: ``"dopri5"``, ``"bdf"`` or a ``tfp.math.ode.Solver``.
      atol: the solver's absolute tolerance (default by dtype, ``ode.DEFAULT_TOLERANCE``).
      rtol: its relative tolerance.
      max_num_steps: the solver's step limit per solve.
      record: a :class:`~.ode.SolveRecord` shared with the model that trains it.
      regularise: solve Finlay et al.'s kinetic (and with ``jacobian``, Frobenius)
        integrals in training; they land in ``record.penalties``.
      jacobian: include the Frobenius term.
      dim: ``D``, for ``trace=None``.
      dtype: the state's dtype.
      validate_args: TFP's flag.
      name: the bijector's name (context is routed by it in a chain).

    Example:
    >>> import tensorflow as tf
    >>> from tfp_genmodels import bijectors as B
    >>> flow = B.ContinuousFlow(lambda t, z: -z, trace="exact", atol=1e-6, rtol=1e-6)
    >>> round(float(flow.forward_log_det_jacobian(tf.ones([1, 2]), event_ndims=1)[0]), 4)
    -2.0
    """

    def __init__(self, vector_field: Callable | tfb.FFJORD, trace: str | None = None,
                 solver: str | tfp.math.ode.Solver = "dopri5", atol: float | None = None,
                 rtol: float | None = None, max_num_steps: int = 1000,
                 record: ode.SolveRecord | None = None, regularise: bool = False,
                 jacobian: bool = False, dim: int | None = None, dtype: tf.DType = tf.float32,
                 validate_args: bool = False, name: str = "continuous_flow"):
        parameters = dict(locals())
        self.record = ode.SolveRecord() if record is None else record
        if isinstance(vector_field, tfb.FFJORD):
            ffjord = vector_field
        elif isinstance(vector_field, tfb.Bijector) or not callable(vector_field):
            raise TypeError("`vector_field` must be a callable f(t, z) -> dz/dt or a "
                            f"tfp.bijectors.FFJORD; got {type(vector_field).__name__}.")
        else:
            dtype = tf.as_dtype(dtype)
            if not isinstance(solver, tfp.math.ode.Solver):
                solver = ode.make_solver(solver, atol, rtol, max_num_steps, dtype.name)
            trace = ode.trace_arg(trace, ode.EXACT_TRACE_MAX_DIMS if dim is None else int(dim))
            # TFP's (and the paper's) direction: forward integrates from the base
            # (t = 0) to the data (t = 1); log_prob solves backwards in time.
            ffjord = tfb.FFJORD(
                state_time_derivative_fn=vector_field,
                ode_solve_fn=ode.ODESolve(solver, self.record, regularise, jacobian),
                trace_augmentation_fn=ode.TraceAugmentation(trace, self.record),
                dtype=dtype, name=f"{name}_ode")
        self._ffjord = ffjord
        super().__init__(forward_min_event_ndims=1, dtype=ffjord.dtype,
                         validate_args=validate_args, parameters=parameters, name=name)

    @property
    def ffjord(self) -> tfb.FFJORD:
        return self._ffjord

    def _augmented_forward(self, x, **kwargs):
        y = self._ffjord.forward(x, **kwargs)
        fldj = self._ffjord.forward_log_det_jacobian(x, event_ndims=1, **kwargs)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x = self._ffjord.inverse(y, **kwargs)
        ildj = self._ffjord.inverse_log_det_jacobian(y, event_ndims=1, **kwargs)
        return x, {"ildj": ildj, "fldj": -ildj}
