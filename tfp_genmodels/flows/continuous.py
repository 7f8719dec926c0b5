"""Continuous normalizing flows: ``FFJORD``, a Keras model on ``tfb.FFJORD``.

A continuous flow moves a point along an ODE ``dz/dt = f(z(t), t)`` from
``z(0) = x`` (data) to ``z(1)`` (base). Its log-density follows the
*instantaneous change of variables* (Chen et al., 2018, theorem 1)::

    d log p(z(t)) / dt = -tr(df / dz(t))
    log p(x) = log N(z(1); 0, I) + integral_0^1 tr(df / dz(t)) dt

so a CNF is a flow whose log-det is an integral of traces, solved together
with the state by an adaptive ODE solver (TFP's ``tfp.math.ode``; gradients
by the adjoint method). The trace is exact (``D`` vector-Jacobian products
per evaluation) or Hutchinson's unbiased estimate ``E[e^T (df/dz) e]`` with
Rademacher ``e`` (one product; Grathwohl et al., 2019), drawn once per solve.

The cost of a CNF is the number of evaluations of ``f`` the solver needs
(NFE): :attr:`FFJORD.num_function_evaluations` holds it for the last call
and ``fit`` logs its mean as ``nfe``. Finlay et al. (2020) cut it by
penalising the kinetic energy ``integral ||f||^2 dt`` and the Jacobian's
Frobenius norm ``integral ||df/dz||_F^2 dt`` (estimated as
``||e^T df/dz||^2``), which favour straight, easy-to-solve trajectories.

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
from collections.abc import Iterator, Sequence
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving, _validation
from tfp_genmodels import bijectors as B
from tfp_genmodels._keras import keras
from tfp_genmodels._registry import CNF_SOLVERS, CNF_TRACES
from tfp_genmodels.flows.flow_model import FlowModel

tfb = tfp.bijectors

#: Up to this event size, ``trace=None`` means the exact trace; above it, Hutchinson's.
EXACT_TRACE_MAX_DIMS = 16
#: The solver tolerances' defaults by dtype.
DEFAULT_TOLERANCE = {"float32": 1e-5, "float64": 1e-8}
#: The stateless seed of Hutchinson's noise outside training (``log_prob``,
#: ``evaluate``, exported signatures), so that scores are reproducible.
TRACE_SEED = (20, 19)


class TimeDerivative(keras.layers.Layer):
    """The dynamics ``f(t, z[, c])`` of a CNF: an MLP whose every layer also sees
    ``t`` (and the context), FFJORD's "concat" layers.

    The output layer starts at zero, so a fresh CNF is the identity map.
    Smooth activations (``tanh``, ``softplus``) keep the ODE non-stiff.
    """

    def __init__(self, dim: int, hidden_units: Sequence[int], activation: str = "tanh",
                 **kwargs: Any):
        super().__init__(**kwargs)
        self.hidden = [keras.layers.Dense(u, activation=activation, dtype=self.dtype,
                                          name=f"hidden_{i}")
                       for i, u in enumerate(hidden_units)]
        self.out = keras.layers.Dense(dim, kernel_initializer="zeros", bias_initializer="zeros",
                                      dtype=self.dtype, name="output")

    def call(self, t, z, context=None) -> tf.Tensor:
        # Any batch shape (none included): flattened to [N, D] for the Dense layers.
        shape = tf.shape(z)
        h = tf.reshape(z, [-1, z.shape[-1]])
        extras = [tf.broadcast_to(tf.cast(t, z.dtype), [tf.shape(h)[0], 1])]
        if context is not None:
            context = tf.cast(context, z.dtype)
            context = tf.broadcast_to(context, tf.concat([shape[:-1], tf.shape(context)[-1:]], 0))
            extras.append(tf.reshape(context, [tf.shape(h)[0], context.shape[-1]]))
        for layer in [*self.hidden, self.out]:
            h = layer(tf.concat([h, *extras], axis=-1))
        return tf.reshape(h, shape)


def _rademacher(shape, dtype: tf.DType, seed=None) -> tf.Tensor:
    """+-1 with equal odds: stateful (fresh in every graph call) without ``seed``."""
    u = (tf.random.uniform(shape, dtype=dtype) if seed is None
         else tf.random.stateless_uniform(shape, seed=seed, dtype=dtype))
    return tf.where(u < 0.5, -tf.ones_like(u), tf.ones_like(u))


def _exact_trace(ode_fn, state_shape, dtype):
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


class _CallRecord(threading.local):
    """What the solves of one model call collect (plain Python: Keras tracks no list
    here). ``evaluations`` is ``None`` outside a call. Thread-local: a
    ``MirroredStrategy`` traces each replica's step in its own thread."""

    def __init__(self):
        self.training = False
        self.evaluations: list | None = None
        self.penalties: list = []


class _Dynamics:
    """Solves one block's augmented ODE for ``tfb.FFJORD``: the trace term (its
    ``trace_augmentation_fn``), the solve (its ``ode_solve_fn``), the NFE count
    and, when training with a penalty, the regularisers' integrals."""

    def __init__(self, model: FFJORD, solver: tfp.math.ode.Solver):
        self.model = model
        self.solver = solver

    # -- trace_augmentation_fn ----------------------------------------------------------
    def augment(self, ode_fn, state_shape, dtype):
        """``(t, (z, l)) -> (f, tr df/dz)``, unreduced (TFP sums over the event)."""
        if self.model.trace == "exact":
            return _exact_trace(ode_fn, state_shape, dtype)
        seed = None if self.model._calls.training else tf.constant(TRACE_SEED, tf.int32)
        noise = _rademacher(state_shape, dtype, seed)

        def augmented(time, state_and_log_det, **kwargs):
            state, _ = state_and_log_det
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(state)
                derivative = ode_fn(time, state, **kwargs)
            return derivative, noise * tape.gradient(derivative, state, noise)

        return augmented

    # -- ode_solve_fn ----------------------------------------------------------------
    def solve(self, ode_fn, initial_time, initial_state, solution_times, constants=None):
        model = self.model
        penalise = model._calls.training and model.has_penalty
        if penalise:
            ode_fn, initial_state = self._with_regularisers(ode_fn, initial_state)
        results = self.solver.solve(ode_fn, initial_time, initial_state, solution_times,
                                    constants=constants)
        model._record_evaluations(results.diagnostics.num_ode_fn_evaluations)
        if penalise:
            state, log_det, kinetic, frobenius = results.states
            model._calls.penalties.append((kinetic[-1], frobenius[-1]))
            results = results._replace(states=(state, log_det))
        return results

    def _with_regularisers(self, ode_fn, initial_state):
        """The ODE with two more integrals per example: ``||f||^2`` and ``||e^T df/dz||^2``."""
        state, log_det = initial_state
        zeros = tf.zeros(tf.shape(state)[:-1], state.dtype)
        frobenius = self.model.jacobian_norm > 0  # else skip its backward pass
        noise = _rademacher(tf.shape(state), state.dtype) if frobenius else None

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


@_saving.register
class FFJORD(FlowModel):
    """A continuous normalizing flow on ``tfb.FFJORD`` (Grathwohl et al., 2019).

    ``num_blocks`` CNFs in a chain; each integrates ``dz/dt = f(t, z[, c])``
    over ``t in [0, 1]`` with TFP's adaptive solver, ``f`` a
    :class:`TimeDerivative` MLP (zero output layer: the identity at first).
    See :mod:`tfp_genmodels.flows.continuous` for the math.

    Args:
      event_shape: ``(D,)``. Image events are not supported: they need
        convolutional dynamics and a multi-scale chain (Grathwohl et al.'s
        section 4), and a solve per call at image size is far beyond a CPU.
      hidden_units: widths of the dynamics network.
      num_blocks: CNFs in the chain.
      trace: ``"exact"`` (``D`` vector-Jacobian products per evaluation;
        ``log_prob`` is deterministic and exact up to the solver tolerance)
        or ``"hutchinson"`` (one product; unbiased). ``None``: exact up to
        ``EXACT_TRACE_MAX_DIMS`` (16) dimensions. With Hutchinson, training
        draws fresh noise at each step, while ``log_prob``, ``evaluate``
        and the exported ``log_prob`` use the fixed seed ``TRACE_SEED``:
        scores are reproducible, and are one unbiased estimate of
        ``log p(x)`` each (as the pixel flows' dequantised scores are).
      atol: the solver's absolute tolerance (default ``DEFAULT_TOLERANCE``
        of the dtype: 1e-5 in float32, 1e-8 in float64).
      rtol: the solver's relative tolerance (the same default).
      solver: ``"dopri5"`` (Dormand-Prince 5(4), explicit) or ``"bdf"``
        (implicit, for stiff dynamics).
      max_num_steps: the solver's step limit per solve; exceeding it raises
        ``InvalidArgumentError`` ("max_num_steps exceeded") instead of
        returning an unfinished solution.
      kinetic_energy: weight of Finlay et al.'s penalty ``integral ||f||^2 dt``
        in the training loss (0: off). It changes ``fit``'s loss only;
        ``log_prob`` and the logged ``bits_per_dim`` stay the likelihood.
      jacobian_norm: weight of the penalty ``integral ||df/dz||_F^2 dt``
        (the same way).
      activation: of the dynamics network's hidden layers.
      context_shape: ``(K,)`` for a conditional CNF (``f`` also sees ``c``).

    ``num_function_evaluations`` (a non-trainable variable) holds the
    solver's evaluations of ``f`` in the last call, summed over blocks (the
    forward solve; the adjoint's backward solve in training costs more);
    ``fit`` and ``evaluate`` log its mean per batch as ``nfe``.

    References:
      Grathwohl, Chen, Bettencourt, Sutskever & Duvenaud. FFJORD: Free-form
      Continuous Dynamics for Scalable Reversible Generative Models. 2019.
      arXiv:1810.01367.

    Example:
    >>> from tfp_genmodels import flows
    >>> model = flows.FFJORD(event_shape=(2,), hidden_units=(16,), atol=1e-4, rtol=1e-4)
    >>> model.log_prob([[0.0, 0.0]]).shape
    TensorShape([1])
    """

    def __init__(self, event_shape: Sequence[int], hidden_units: Sequence[int] = (64, 64),
                 num_blocks: int = 1, trace: str | None = None, atol: float | None = None,
                 rtol: float | None = None, solver: str = "dopri5", max_num_steps: int = 1000,
                 kinetic_energy: float = 0.0, jacobian_norm: float = 0.0,
                 activation: str = "tanh", context_shape: Sequence[int] | None = None,
                 name: str | None = "ffjord", **kwargs: Any):
        shape = _validation.event_shape_arg(event_shape, ranks=(1,))
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        self.num_blocks = _args.positive_int_arg(num_blocks, "num_blocks")
        if trace is None:
            trace = "exact" if shape[0] <= EXACT_TRACE_MAX_DIMS else "hutchinson"
        if trace not in CNF_TRACES:
            raise ValueError(f"`trace` must be one of {CNF_TRACES} or None; got {trace!r}.")
        if solver not in CNF_SOLVERS:
            raise ValueError(f"`solver` must be one of {CNF_SOLVERS}; got {solver!r}.")
        self.trace, self.solver_name = trace, solver
        # The tolerances' defaults follow the dtype (Keras's `dtype` argument or floatx).
        default_tol = DEFAULT_TOLERANCE[str(kwargs.get("dtype") or keras.backend.floatx())]
        self.atol = _args.positive_float_arg(default_tol if atol is None else atol, "atol")
        self.rtol = _args.positive_float_arg(default_tol if rtol is None else rtol, "rtol")
        self.max_num_steps = _args.positive_int_arg(max_num_steps, "max_num_steps")
        self.kinetic_energy = _args.nonnegative_float_arg(kinetic_energy, "kinetic_energy")
        self.jacobian_norm = _args.nonnegative_float_arg(jacobian_norm, "jacobian_norm")
        self.activation = activation
        self._calls = _CallRecord()
        if context_shape is not None:
            # tfb.Chain -> ContinuousFlow -> tfb.FFJORD -> the solver's `constants` -> f.
            kwargs["context_kwargs"] = {f"cnf_{i}": "context" for i in range(num_blocks)}
        super().__init__(shape, context_shape=context_shape, name=name, **kwargs)

    @property
    def has_penalty(self) -> bool:
        return self.kinetic_energy > 0 or self.jacobian_norm > 0

    def build_bijectors(self) -> list[tfb.Bijector]:
        self.num_function_evaluations = tf.Variable(
            0, trainable=False, dtype=tf.int32, name="num_function_evaluations",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.nfe_tracker = keras.metrics.Mean(name="nfe")
        kind = {"dopri5": tfp.math.ode.DormandPrince, "bdf": tfp.math.ode.BDF}[self.solver_name]
        solver = kind(atol=self.atol, rtol=self.rtol, max_num_steps=self.max_num_steps)
        dynamics = _Dynamics(self, solver)  # stateless: one serves every block
        z = tf.zeros([1, self.event_shape[0]], self.flow_dtype)
        context = (None if self.context_shape is None
                   else tf.zeros([1, *self.context_shape], self.flow_dtype))
        self.dynamics = []
        blocks = []
        for i in range(self.num_blocks):
            net = TimeDerivative(self.event_shape[0], self.hidden_units, self.activation,
                                 dtype=self.flow_dtype, name=f"dynamics_{i}")
            net(0.0, z, context)  # its variables exist before any trace
            self.dynamics.append(net)
            # TFP's (and the paper's) direction: forward integrates from the base
            # (t = 0) to the data (t = 1); log_prob solves backwards in time.
            ffjord = tfb.FFJORD(state_time_derivative_fn=net, ode_solve_fn=dynamics.solve,
                                trace_augmentation_fn=dynamics.augment,
                                dtype=self.flow_dtype, name=f"ode_{i}")
            blocks.append(B.ContinuousFlow(ffjord, name=f"cnf_{i}"))
        return blocks

    def _record_evaluations(self, count: tf.Tensor) -> None:
        if self._calls.evaluations is not None:
            self._calls.evaluations.append(count)

    @contextlib.contextmanager
    def _solving(self, training: bool) -> Iterator[None]:
        """Collects the NFE (and penalties) of the solves inside; sets the variable."""
        calls = self._calls
        calls.training, calls.evaluations, calls.penalties = training, [], []
        try:
            yield
            if calls.evaluations:
                self.num_function_evaluations.assign(tf.add_n(calls.evaluations))
        finally:
            calls.training, calls.evaluations = False, None

    def log_prob(self, x, context=None, seed=None, finite: bool = True,
                 per_example: bool = False) -> tf.Tensor:
        """Per-example log density (nats), by one adaptive solve of the whole batch.

        The solver picks one step sequence for the batch (its error control is
        a norm over every example), so an example's score moves with the batch
        it is in, by about the tolerance (``atol = rtol = 1e-5``: a few 1e-4
        nats; see ``docs/flows.md``). ``per_example=True`` solves each example
        on its own (a ``tf.map_fn``: B solves in sequence, slower), so a score
        depends on the example alone, in any batch, eager or traced; NFE is
        then not recorded. The other arguments are :meth:`FlowModel.log_prob`'s.
        """
        if not per_example:
            with self._solving(training=False):
                return super().log_prob(x, context, seed, finite)
        x = self._check_x(x, finite)
        context = self._check_context(context)
        flat_x = tf.reshape(x, [-1, *self.event_shape])
        flat_context = None
        if context is not None:
            context = _validation.assert_context_batch(x, len(self.event_shape), context)
            flat_context = tf.reshape(
                tf.broadcast_to(context, tf.concat([tf.shape(x)[:-1], self.context_shape], 0)),
                [-1, *self.context_shape])

        def one(i):
            row_context = None if flat_context is None else flat_context[i:i + 1]
            return FlowModel.log_prob(self, flat_x[i:i + 1], row_context, seed, finite)[0]

        scores = tf.map_fn(one, tf.range(tf.shape(flat_x)[0]),
                           fn_output_signature=self.flow_dtype)
        return tf.reshape(scores, tf.shape(x)[:-1])

    def sample(self, n: int, context=None, temperature: float = 1.0, seed=None) -> tf.Tensor:
        with self._solving(training=False):
            return super().sample(n, context, temperature, seed)

    def _training_terms(self, x, context):
        with self._solving(training=True):
            log_prob = super().log_prob(x, context, finite=False)
        penalties = self._calls.penalties
        if not penalties:
            return log_prob, None
        kinetic = tf.add_n([k for k, _ in penalties])
        frobenius = tf.add_n([f for _, f in penalties])
        return log_prob, self.kinetic_energy * kinetic + self.jacobian_norm * frobenius

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*super().metrics, self.nfe_tracker]

    def _update_metrics(self, log_prob, sample_weight=None):
        self.nfe_tracker.update_state(self.num_function_evaluations)
        return super()._update_metrics(log_prob, sample_weight)

    def get_config(self) -> dict:
        return {**super().get_config(), "hidden_units": self.hidden_units,
                "num_blocks": self.num_blocks, "trace": self.trace, "atol": self.atol,
                "rtol": self.rtol, "solver": self.solver_name,
                "max_num_steps": self.max_num_steps, "kinetic_energy": self.kinetic_energy,
                "jacobian_norm": self.jacobian_norm, "activation": self.activation}
