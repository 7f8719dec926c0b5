"""``FlowModel``: a Keras model around a ``tfd.TransformedDistribution``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _keras, _saving, _training, _validation
from tfp_genmodels._keras import keras
from tfp_genmodels.bijectors.dequantize import bits_per_dim
from tfp_genmodels.flows import _routing
from tfp_genmodels.flows.pixels import PixelPreprocessing

tfb, tfd = tfp.bijectors, tfp.distributions


FLOW_DTYPES = _keras.MODEL_DTYPES


def _check_bijector_dtypes(bijectors: Sequence[tfb.Bijector], dtype: tf.DType) -> None:
    """Raises ``TypeError`` naming a bijector whose dtype is not the model's."""
    for bijector in bijectors:
        if bijector.dtype is not None and tf.as_dtype(bijector.dtype) != dtype:
            raise TypeError(f"Bijector {bijector.name!r} has dtype {bijector.dtype.name} but "
                            f"the flow's `dtype` is {dtype.name}: build every bijector with "
                            f"dtype={dtype.name!r} or pass dtype={bijector.dtype.name!r} to the "
                            f"model.")


@_saving.register
class FlowModel(_saving.SavesAllVariables, _training.CheckedModel, keras.Model):
    """A normalizing flow ``x = f(z)``, ``z ~ N(0, I)``, trained by maximum likelihood.

    ``model.distribution`` is ``tfd.TransformedDistribution(base, tfb.Chain(bijectors))``
    with TFP's direction: ``forward`` maps base to data, and the chain applies
    its last bijector first. The density is the change of variables::

        log p(x) = log N(f^-1(x); 0, I) + log|det d f^-1(x) / dx|

    ``compile(optimizer=...)`` then ``fit(x)`` (or ``fit((x, context))``) with no
    loss: the loss is the mean negative log-likelihood in nats and
    ``bits_per_dim = NLL / (D log 2)`` is logged in training and evaluation.

    Subclasses (the recipes) build the bijectors in :meth:`build_bijectors`.
    A context reaches every conditional bijector (our couplings, TFP's MAF
    with a conditional MADE), through nested chains too; other conditional
    bijectors are routed with ``context_kwargs`` (name -> keyword).

    Discrete data (pixels): with ``pixel_levels=K`` the model takes values
    in ``{0, ..., K-1}`` (``pixel_format="integer"``) or ``k / (K-1)`` in
    ``[0, 1]`` (``"unit"``), adds uniform noise ``u``, and puts
    ``Dequantize(K)`` and the inverse ``alpha``-logit at the data end of the
    chain: ``log_prob`` is then ``log p(k + u)``, whose mean over ``u``
    lower-bounds ``log P(k)``, and bits/dim refer to the discrete data.

    Args:
      event_shape: shape of one example.
      bijectors: the bijectors, in ``tfb.Chain`` order (for direct use; the
        recipes build their own).
      context_shape: ``(K,)`` for a conditional flow.
      context_kwargs: optional explicit routes, bijector name -> keyword.
      pixel_levels: ``K`` for discrete data, ``None`` for continuous data.
      pixel_format: ``"integer"`` or ``"unit"`` (see above).
      logit_alpha: the logit squeeze (RealNVP's 0.05).

    Keras's own ``dtype`` keyword is ``"float32"`` (default, Keras's
    ``floatx``) or ``"float64"``: the dtype of every variable, of the base
    distribution and of the inputs, which are cast to it. A mixed precision
    policy is refused, since a log-det summed over thousands of dimensions in
    float16 is meaningless. The recipes pass it to each bijector; an explicit
    ``bijectors`` list must already have it.

    Every variable exists once the model is constructed (the chain is run
    forward once on zeros, which leaves ActNorm's data-dependent
    initialisation to the first data). Saving: ``model.save("flow.keras")``
    and ``tf_keras.models.load_model("flow.keras")`` restore the recipes
    (weights and optimizer state); a ``FlowModel`` built from an explicit
    ``bijectors`` list has no config, so save its weights with
    ``save_weights`` and rebuild it in code. For TF Serving see
    :func:`tfp_genmodels.export.save_for_serving`.
    """

    def __init__(self, event_shape: Sequence[int], bijectors: Sequence[tfb.Bijector] | None = None,
                 context_shape: Sequence[int] | None = None,
                 context_kwargs: dict | None = None, pixel_levels: int | None = None,
                 pixel_format: str = "unit", logit_alpha: float = 0.05,
                 name: str | None = None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.flow_dtype = _keras.model_dtype(self.dtype_policy)
        self.event_shape = _validation.event_shape_arg(event_shape)
        self.context_shape = (None if context_shape is None else
                              _validation.event_shape_arg(context_shape, "context_shape",
                                                          ranks=(1,)))
        self.num_dims = int(np.prod(self.event_shape))
        self._pixel_config = {"pixel_levels": pixel_levels, "pixel_format": pixel_format,
                              "logit_alpha": logit_alpha}
        self.pixels = (None if pixel_levels is None else
                       PixelPreprocessing(pixel_levels, pixel_format, logit_alpha))
        self._explicit_bijectors = bijectors is not None
        if bijectors is None:
            bijectors = self.build_bijectors()
        bijectors = list(bijectors)
        _check_bijector_dtypes(bijectors, self.flow_dtype)
        if self.pixels is not None:
            bijectors = self.pixels.bijectors() + bijectors
        self.flow = tfb.Chain(bijectors, name="flow")
        if context_kwargs is not None:
            self.context_route = dict(context_kwargs)
        else:
            self.context_route = _routing.context_route(self.flow)
        if self.context_shape is not None and not self.context_route:
            raise ValueError("`context_shape` was given but no bijector takes a context; "
                             "build the conditional bijectors with `context_shape` or pass "
                             "`context_kwargs` (bijector name -> keyword).")

        self._create_skip_counter()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._create_variables()

    def _create_variables(self) -> None:
        """Runs the chain forward on zeros so that every lazily built layer exists
        (before a ``tf.distribute`` replica step, ``load_model`` or an export)."""
        z = tf.zeros([1, *self.event_shape], self.flow_dtype)
        context = (None if self.context_shape is None
                   else tf.zeros([1, *self.context_shape], self.flow_dtype))
        self.flow.forward(z, **self._bijector_kwargs(context))
        self.built = True

    def build_bijectors(self) -> list[tfb.Bijector]:
        raise NotImplementedError("pass `bijectors` or use a recipe (RealNVP, MAF, ...)")

    # -- distribution -------------------------------------------------------------
    def base_distribution(self, temperature: float = 1.0) -> tfd.Distribution:
        """``N(0, T^2 I)`` over the event (temperature ``T``; 1 for the model density)."""
        return tfd.Independent(
            tfd.Normal(tf.zeros(self.event_shape, self.flow_dtype),
                       tf.cast(temperature, self.flow_dtype)),
            reinterpreted_batch_ndims=len(self.event_shape))

    @property
    def distribution(self) -> tfd.TransformedDistribution:
        return tfd.TransformedDistribution(self.base_distribution(), self.flow)

    def _check_context(self, context):
        if not _validation.require_context(context, self.context_shape, "this flow"):
            return None
        return _validation.checked_input(context, self.context_shape, "context",
                                         dtype=self.flow_dtype)

    def _bijector_kwargs(self, context) -> dict:
        if context is None:
            return {}
        return _routing.route_kwargs(self.context_route, context)

    def _check_x(self, x, finite: bool = True):
        """``x`` in the model's dtype with its event shape, pixel range and (``finite``)
        finiteness checked, statically and inside any graph (``fit``, ``tf.data``,
        ``predict``, exported signatures), on every call."""
        # Pixels: the range check also refuses NaN.
        x = _validation.checked_input(x, self.event_shape, "x", dtype=self.flow_dtype,
                                      finite=finite and self.pixels is None)
        return x if self.pixels is None else self.pixels.assert_values(x, "x")

    def check_inputs(self, x, context=None, finite: bool = True) -> None:
        """Checks data as every call does (shape, pixel range, finiteness, context)."""
        x = self._check_x(x, finite)
        context = self._check_context(context)
        if context is not None:
            _validation.assert_context_batch(x, len(self.event_shape), context)

    def log_prob(self, x, context=None, seed=None, finite: bool = True) -> tf.Tensor:
        """Per-example log density of ``x`` in nats.

        With ``pixel_levels`` set, ``x`` is discrete and this is
        ``log p(k + u)`` for uniform dequantisation noise ``u`` (stateless
        ``seed``, a shape-[2] int tensor, makes it reproducible): an unbiased
        estimate of a lower bound on ``log P(x)``. (Under ``jit_compile`` with
        a dynamic batch, XLA draws other noise for the same seed.)

        ``x`` is checked on every call, in eager mode and in any graph: its
        trailing shape must be ``event_shape``, pixels must lie in range, and
        (``finite=True``) continuous data must be finite; violations raise
        ``ValueError`` (static) or ``InvalidArgumentError`` (at run time).
        """
        x = self._check_x(x, finite)
        context = self._check_context(context)
        if context is not None:
            context = _validation.assert_context_batch(x, len(self.event_shape), context)
        if self.pixels is not None:
            x = self.pixels.dequantize(x, seed)
        return self.distribution.log_prob(x, bijector_kwargs=self._bijector_kwargs(context))

    def bits_per_dim(self, x, context=None, seed=None) -> tf.Tensor:
        """Per-example ``-log p(x) / (D log 2)``."""
        return bits_per_dim(self.log_prob(x, context, seed), self.num_dims)

    def sample(self, n: int, context=None, temperature: float = 1.0, seed=None) -> tf.Tensor:
        """Draws ``n`` samples; ``temperature`` scales the base (Glow's T).

        For a conditional flow ``context`` is one vector ``[K]`` (all samples)
        or ``[n, K]`` (one per sample). With ``pixel_levels`` set, samples are
        discrete, in the user's ``pixel_format``.
        """
        n = _validation.num_samples_arg(n, "n")
        if not isinstance(temperature, (tf.Tensor, tf.Variable)):
            temperature = _validation.positive_float_arg(temperature, "temperature")
        context = self._check_context(context)
        z = self.base_distribution(temperature).sample(n, seed=seed)
        if context is not None and context.shape.rank == 1:
            context = tf.broadcast_to(context, [n, *self.context_shape])
        x = self.flow.forward(z, **self._bijector_kwargs(context))
        return x if self.pixels is None else self.pixels.quantize(x)

    # -- Keras --------------------------------------------------------------------
    def call(self, inputs, training=None) -> tf.Tensor:
        x, context = (_training.unpack_context(inputs)[:2] if isinstance(inputs, (tuple, list))
                      else (inputs, None))
        return self.log_prob(x, context)

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs) -> keras.callbacks.History:
        """``keras.Model.fit``; ``validation_data`` may also be a bare array of x.

        ``sample_weight`` (or a third element of each ``tf.data`` batch)
        weights the NLL: the loss is ``sum(w * nll) / sum(w)``. In-memory pixel
        arrays are range-checked up front for a message with the values found;
        every batch is also checked inside the training step (``tf.data``).
        Non-finite losses follow ``compile(on_nonfinite=...)``.
        """
        if self.pixels is not None:
            for name, arr in (("x", x), ("validation_data", validation_data)):
                arr = arr[0] if isinstance(arr, (tuple, list)) else arr
                if isinstance(arr, np.ndarray):
                    self.pixels.check_values(arr, name)
        return super().fit(x, y, *args, validation_data=validation_data, **kwargs)

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker, self.bits_per_dim_tracker]

    def _update_metrics(self, log_prob, sample_weight=None):
        # Per-example values: an epoch's figure is the mean over examples, even when
        # the last batch is smaller (or replicas' shares differ).
        self.loss_tracker.update_state(-log_prob, sample_weight=sample_weight)
        self.bits_per_dim_tracker.update_state(bits_per_dim(log_prob, self.num_dims),
                                               sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data) -> dict[str, tf.Tensor]:
        x, context, sample_weight = _training.unpack_context(data)
        with tf.GradientTape() as tape:
            log_prob, penalty = self._training_terms(x, context)
            objective = log_prob if penalty is None else log_prob - penalty
            loss = -_training.weighted_mean(objective, sample_weight)
        applied = _training.checked_gradient_step(self, tape, loss)
        return self._update_metrics(*_training.only_if(applied, log_prob, sample_weight))

    def _training_terms(self, x, context) -> tuple[tf.Tensor, tf.Tensor | None]:
        """``(log p(x), penalty or None)`` per example for a training step; the loss
        is the weighted mean of ``penalty - log p(x)`` (a recipe's regulariser)."""
        # Non-finite data is left to the non-finite policy (raise or skip).
        return self.log_prob(x, context, finite=False), None

    def test_step(self, data) -> dict[str, tf.Tensor]:
        x, context, sample_weight = _training.unpack_context(data)
        return self._update_metrics(self.log_prob(x, context), sample_weight)

    def get_config(self) -> dict:
        if self._explicit_bijectors:
            raise NotImplementedError(
                f"{type(self).__name__} '{self.name}' was built from an explicit `bijectors` "
                "list, which has no Keras config: save it with `save_weights` and rebuild it "
                "in code, use a recipe (RealNVP, Glow, ...), or subclass FlowModel with a "
                "`build_bijectors` method and a `get_config`. "
                "`export.save_for_serving` works for it either way.")
        return {"event_shape": self.event_shape, "context_shape": self.context_shape,
                "name": self.name, "dtype": self.flow_dtype.name, **self._pixel_config}
