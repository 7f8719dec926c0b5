"""Shared machinery of coupling bijectors (Dinh et al., 2015; 2017).

A coupling layer splits the event with a binary mask ``m`` (ones: conditioning
elements, zeros: transformed elements) and applies an elementwise bijection
``g`` to the transformed part, with parameters computed from the conditioning
part (and an optional context ``c``):

    Forward:   y = m * x + (1 - m) * g(x; theta),     theta = NN(m * x, c)
    Inverse:   x = m * y + (1 - m) * g^-1(y; theta),  theta = NN(m * y, c)
    log|det dy/dx| = sum over the transformed elements of log|g'(x; theta)|

``m * y = m * x``, so the inverse sees the same parameters, and the Jacobian
is triangular (after a permutation), so its determinant is the product of its
diagonal. ``g`` is a ``transform``: an
:class:`~tfp_genmodels.bijectors.elementwise.ElementwiseMap` or a function
``params -> tfb.Bijector`` (see :mod:`tfp_genmodels.bijectors.elementwise`);
``AffineCoupling``, ``AdditiveCoupling`` and ``SplineCoupling`` are presets.

Vector events, and image events with a channel mask, gather the two parts
along the last axis (the network sees only the conditioning part and produces
parameters for the transformed part, as in Glow); spatial (checkerboard)
masks multiply instead, so a convolutional conditioner keeps the layout.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _keras, _validation
from tfp_genmodels.bijectors._greedy import GreedyLogDetBijector
from tfp_genmodels.bijectors.conditioners import ConvConditioner, DenseConditioner
from tfp_genmodels.bijectors.elementwise import ElementwiseMap, as_elementwise_map
from tfp_genmodels.bijectors.masks import default_mask, make_mask

tfb = tfp.bijectors


class CouplingBijector(GreedyLogDetBijector):
    """A mask-based coupling with any elementwise map; see the module docstring.

    The conditioner runs once per ``forward``/``inverse`` call: the log-det is
    stored in TFP's bijector cache alongside the output (the same greedy-cache
    mechanism as ``tfb.FFJORD``), so ``TransformedDistribution.log_prob``
    costs one network evaluation per layer, not two.

    Args:
      event_shape: ``[D]`` or ``[H, W, C]``.
      transform: the elementwise map ``g``: an ``ElementwiseMap`` or a function
        ``params [..., num_params] -> tfb.Bijector`` (elementwise).
      num_params: parameters per element (required with a function).
      mask: ``"half"``/``"alternating"`` (vectors), ``"checkerboard"``/
        ``"channel"`` (images), or a 0/1 array of shape ``event_shape``.
        Defaults to ``"half"`` / ``"checkerboard"``.
      flip_mask: use the complementary mask.
      conditioner: optional network (see ``conditioners`` for its contract)
        returning ``num_params`` parameters per element.
      hidden_units: hidden widths (vectors) or filters (images) of the default
        conditioner.
      context_shape: ``(K,)`` to condition on a context vector, passed as
        ``forward(x, context=c)`` (or ``bijector_kwargs`` in distributions).
      dtype: dtype of the conditioner's variables and of the inputs.
    """

    def __init__(self, event_shape: Sequence[int], transform: ElementwiseMap | Callable,
                 num_params: int | None = None,
                 mask: str | np.ndarray | None = None, flip_mask: bool = False,
                 conditioner: Callable | None = None,
                 hidden_units: Sequence[int] = (128, 128),
                 context_shape: Sequence[int] | None = None,
                 dtype: tf.DType = tf.float32, validate_args: bool = False,
                 name: str = "coupling", parameters: dict | None = None):
        if parameters is None:
            parameters = {k: v for k, v in locals().items() if k != "parameters"}
        self._transform = as_elementwise_map(transform, num_params)
        self._event_shape = _validation.event_shape_arg(event_shape, ranks=(1, 3))
        self._num_params = self._transform.num_params
        mask = default_mask(self._event_shape) if mask is None else mask
        self._mask_np = make_mask(mask, self._event_shape, flip=flip_mask)
        self._context_shape = (None if context_shape is None else
                               _validation.event_shape_arg(context_shape, "context_shape",
                                                           ranks=(1,)))
        context_dim = None if self._context_shape is None else self._context_shape[0]
        dtype = tf.as_dtype(dtype)
        # Vectors, and images whose mask depends on the channel only ("channel"),
        # are split by gathering along the last axis: the conditioner sees only
        # the conditioning part and predicts parameters for the other part.
        # Spatial masks (checkerboard) multiply instead, keeping the layout.
        m = self._mask_np
        self._gather = len(self._event_shape) == 1 or bool(np.all(m == m[:1, :1, :]))
        with tf.name_scope(name) as scope_name:
            if self._gather:
                channel_mask = m.reshape(-1, m.shape[-1])[0]
                self._cond_idx = np.flatnonzero(channel_mask == 1)
                self._trans_idx = np.flatnonzero(channel_mask == 0)
                self._merge_idx = np.argsort(np.concatenate([self._cond_idx,
                                                             self._trans_idx]))
            if conditioner is None and len(self._event_shape) == 1:
                conditioner = DenseConditioner(
                    len(self._cond_idx), len(self._trans_idx), self._num_params,
                    hidden_units=hidden_units, context_dim=context_dim,
                    dtype=dtype, name="conditioner")
            elif conditioner is None and self._gather:
                h, w, _ = self._event_shape
                conditioner = ConvConditioner(
                    (h, w, len(self._cond_idx)), self._num_params, filters=hidden_units,
                    context_dim=context_dim, output_channels=len(self._trans_idx),
                    dtype=dtype, name="conditioner")
            elif conditioner is None:
                conditioner = ConvConditioner(
                    self._event_shape, self._num_params, filters=hidden_units,
                    context_dim=context_dim, dtype=dtype, name="conditioner")
            _keras.refuse_keras3(conditioner, "conditioner")
            if not callable(conditioner):
                raise TypeError(f"`conditioner` must be callable (a Keras layer); "
                                f"got {type(conditioner).__name__}.")
            self._conditioner = conditioner
            super().__init__(forward_min_event_ndims=len(self._event_shape),
                             validate_args=validate_args, dtype=dtype,
                             parameters=parameters, name=scope_name)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    @property
    def context_shape(self) -> tuple[int, ...] | None:
        return self._context_shape

    @property
    def mask(self) -> np.ndarray:
        """The 0/1 mask; ones are the conditioning (unchanged) elements."""
        return self._mask_np

    @property
    def conditioner(self) -> Callable:
        return self._conditioner

    @property
    def transform(self) -> ElementwiseMap:
        """The elementwise map ``g``."""
        return self._transform

    # -- coupling ---------------------------------------------------------------
    def _parameters_from(self, cond_input: tf.Tensor, context: tf.Tensor | None,
                         out_event: Sequence[int]) -> tf.Tensor:
        in_event = cond_input.shape[-len(self._event_shape):]
        batch_shape = tf.shape(cond_input)[:-len(self._event_shape)]
        flat = tf.reshape(cond_input, [-1, *in_event.as_list()])
        hint = (f" (The coupling {self.name!r}.) Inside a tfb.Chain or a TransformedDistribution "
                "a flat `context=` keyword "
                "reaches no bijector: keyword arguments go to each bijector by its name, "
                f"chain.forward(x, **{{{self.name!r}: {{'context': c}}}}) or "
                f"dist.log_prob(x, bijector_kwargs={{{self.name!r}: {{'context': c}}}}) (nested "
                "chains nest the dicts); a tfp_genmodels FlowModel routes a flat context for "
                "you: model.log_prob(x, context=c).")
        if not _validation.require_context(context, self._context_shape, "a coupling", hint):
            flat_context = None
        else:
            context = tf.convert_to_tensor(context, dtype=self.dtype, name="context")
            _validation.check_event_shape(context, self._context_shape, "context")
            context = tf.broadcast_to(
                context, tf.concat([batch_shape, self._context_shape], axis=0))
            flat_context = tf.reshape(context, [-1, self._context_shape[0]])
        params = self._conditioner(flat, flat_context)
        return tf.reshape(params, tf.concat(
            [batch_shape, out_event, [self._num_params]], axis=0))

    def _couple(self, x, context, transform):
        """Applies ``transform`` (forward or inverse) to the masked-out part."""
        _validation.check_event_shape(x, self._event_shape, "x")
        event_axes = list(range(-len(self._event_shape), 0))
        if self._gather:
            x_cond = tf.gather(x, self._cond_idx, axis=-1)
            x_trans = tf.gather(x, self._trans_idx, axis=-1)
            out_event = [*self._event_shape[:-1], len(self._trans_idx)]
            params = self._parameters_from(x_cond, context, out_event)
            y_trans, ldj = transform(x_trans, params)
            y = tf.gather(tf.concat([x_cond, y_trans], axis=-1), self._merge_idx,
                          axis=-1)
            return y, tf.reduce_sum(ldj, axis=event_axes)
        mask = tf.constant(self._mask_np, dtype=x.dtype)
        params = self._parameters_from(x * mask, context, self._event_shape)
        y_all, ldj = transform(x, params)
        y = mask * x + (1.0 - mask) * y_all
        return y, tf.reduce_sum((1.0 - mask) * ldj, axis=[-3, -2, -1])

    def _augmented_forward(self, x, **kwargs):
        y, fldj = self._couple(x, kwargs.get("context"), self._transform.forward)
        return y, {"fldj": fldj, "ildj": -fldj}

    def _augmented_inverse(self, y, **kwargs):
        x, ildj = self._couple(y, kwargs.get("context"), self._transform.inverse)
        return x, {"ildj": ildj, "fldj": -ildj}
