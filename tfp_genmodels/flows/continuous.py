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
from collections.abc import Iterator, Sequence
from typing import Any

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving, _validation
from tfp_genmodels import bijectors as B
from tfp_genmodels._keras import keras
from tfp_genmodels.bijectors import ode
from tfp_genmodels.bijectors.ode import (  # noqa: F401  (their home before 0.2)
    DEFAULT_TOLERANCE,
    EXACT_TRACE_MAX_DIMS,
    TRACE_SEED,
)
from tfp_genmodels.bijectors.vector_fields import TimeDerivative
from tfp_genmodels.flows.flow_model import FlowModel

tfb = tfp.bijectors


@_saving.register
class FFJORD(FlowModel):
    """A continuous normalizing flow on ``tfb.FFJORD`` (Grathwohl et al., 2019).

    ``num_layers`` CNFs in a chain; each integrates ``dz/dt = f(t, z[, c])``
    over ``t in [0, 1]`` with TFP's adaptive solver, ``f`` a
    :class:`~tfp_genmodels.bijectors.vector_fields.TimeDerivative` MLP (zero
    output layer: the identity at first), each a
    :class:`~tfp_genmodels.bijectors.ContinuousFlow` (the trace and the solve are
    :mod:`tfp_genmodels.bijectors.ode`'s). See :mod:`tfp_genmodels.flows.continuous`
    for the math.

    Args:
      event_shape: ``(D,)``. Image events are not supported: they need
        convolutional dynamics and a multi-scale chain (Grathwohl et al.'s
        section 4), and a solve per call at image size is far beyond a CPU.
      hidden_units: widths of the dynamics network.
      num_layers: CNFs in the chain (``num_blocks`` is its deprecated name).
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
                 num_layers: int | None = None, trace: str | None = None, atol: float | None = None,
                 rtol: float | None = None, solver: str = "dopri5", max_num_steps: int = 1000,
                 kinetic_energy: float = 0.0, jacobian_norm: float = 0.0,
                 activation: str = "tanh", context_shape: Sequence[int] | None = None,
                 name: str | None = "ffjord", **kwargs: Any):
        shape = _validation.event_shape_arg(event_shape, ranks=(1,))
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        num_layers = _args.renamed_arg(kwargs, "num_blocks", "num_layers", num_layers, "FFJORD")
        self.num_layers = _args.positive_int_arg(1 if num_layers is None else num_layers,
                                                 "num_layers")
        self.trace = ode.trace_arg(trace, shape[0])
        self.solver_name = solver
        # The tolerances' defaults follow the dtype (Keras's `dtype` argument or floatx).
        dtype = str(kwargs.get("dtype") or keras.backend.floatx())
        self.atol, self.rtol = ode.tolerance_args(atol, rtol, dtype)
        self.max_num_steps = _args.positive_int_arg(max_num_steps, "max_num_steps")
        self._solver = ode.make_solver(solver, self.atol, self.rtol, self.max_num_steps)
        self.kinetic_energy = _args.nonnegative_float_arg(kinetic_energy, "kinetic_energy")
        self.jacobian_norm = _args.nonnegative_float_arg(jacobian_norm, "jacobian_norm")
        self.activation = activation
        self._calls = ode.SolveRecord()
        if context_shape is not None:
            # tfb.Chain -> ContinuousFlow -> tfb.FFJORD -> the solver's `constants` -> f.
            kwargs["context_kwargs"] = {f"cnf_{i}": "context" for i in range(self.num_layers)}
        super().__init__(shape, context_shape=context_shape, name=name, **kwargs)

    @property
    def num_blocks(self) -> int:
        """Deprecated name of :attr:`num_layers`."""
        return self.num_layers

    @property
    def has_penalty(self) -> bool:
        return self.kinetic_energy > 0 or self.jacobian_norm > 0

    def build_bijectors(self) -> list[tfb.Bijector]:
        self.num_function_evaluations = tf.Variable(
            0, trainable=False, dtype=tf.int32, name="num_function_evaluations",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.nfe_tracker = keras.metrics.Mean(name="nfe")
        z = tf.zeros([1, self.event_shape[0]], self.flow_dtype)
        context = (None if self.context_shape is None
                   else tf.zeros([1, *self.context_shape], self.flow_dtype))
        self.dynamics = []
        blocks = []
        for i in range(self.num_layers):
            net = TimeDerivative(self.event_shape[0], self.hidden_units, self.activation,
                                 dtype=self.flow_dtype, name=f"dynamics_{i}")
            net(0.0, z, context)  # its variables exist before any trace
            self.dynamics.append(net)
            blocks.append(B.ContinuousFlow(
                net, trace=self.trace, solver=self._solver, record=self._calls,
                regularise=self.has_penalty, jacobian=self.jacobian_norm > 0,
                dtype=self.flow_dtype, name=f"cnf_{i}"))
        return blocks

    @contextlib.contextmanager
    def _solving(self, training: bool) -> Iterator[None]:
        """Collects the NFE (and penalties) of the solves inside; sets the variable."""
        with self._calls.recording(training) as record:
            yield
            if record.evaluations:
                self.num_function_evaluations.assign(tf.add_n(record.evaluations))

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
                "num_layers": self.num_layers, "trace": self.trace, "atol": self.atol,
                "rtol": self.rtol, "solver": self.solver_name,
                "max_num_steps": self.max_num_steps, "kinetic_energy": self.kinetic_energy,
                "jacobian_norm": self.jacobian_norm, "activation": self.activation}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> FFJORD:
        config = dict(config)
        if "num_blocks" in config:  # written by 0.1.x, without a warning on load
            config["num_layers"] = config.pop("num_blocks")
        return super().from_config(config)
