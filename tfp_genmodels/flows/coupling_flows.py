"""Coupling-flow recipes: NICE, RealNVP (vectors and multi-scale images), NeuralSplineFlow.

Each is a thin composition: coupling bijectors with alternating masks and a
mixing layer between them, on a standard-normal base. Chain order is TFP's
(forward: base -> data; the list's last bijector acts first on z).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import _args, _saving, _validation
from tfp_genmodels import bijectors as B
from tfp_genmodels.flows import multiscale
from tfp_genmodels.flows.flow_model import FlowModel

tfb = tfp.bijectors

PERMUTATIONS = ("linear", "reverse", "none")


def _mixing(kind: str, dim: int, index: int, dtype: tf.DType) -> tfb.Bijector | None:
    if kind == "linear":
        return B.InvertibleLinear([dim], seed=index, dtype=dtype, name=f"linear_{index}")
    if kind == "reverse":
        return B.reversal(dim, name=f"permute_{index}")
    return None


class _VectorCouplingFlow(FlowModel):
    """Alternating couplings, with a mixing layer between consecutive ones."""

    _ranks = (1,)

    def __init__(self, event_shape: Sequence[int], num_layers: int,
                 hidden_units: Sequence[int], permutation: str,
                 context_shape: Sequence[int] | None, name: str | None, **kwargs):
        self.num_layers = _validation.positive_int_arg(num_layers, "num_layers")
        self.hidden_units = _args.hidden_units_arg(hidden_units)
        if permutation not in PERMUTATIONS:
            raise ValueError(f"`permutation` must be one of {PERMUTATIONS}; got "
                             f"{permutation!r}.")
        self.permutation = permutation
        event_shape = _validation.event_shape_arg(event_shape, ranks=self._ranks)
        if len(event_shape) == 1 and event_shape[0] < 2:
            raise ValueError(f"`event_shape` must have at least 2 dimensions for a "
                             f"coupling flow; got {event_shape}.")
        super().__init__(event_shape, context_shape=context_shape, name=name, **kwargs)

    def _coupling(self, index: int) -> B.CouplingBijector:
        raise NotImplementedError

    def _mask(self, index: int) -> dict:
        """The mask arguments of coupling ``index`` (ones: conditioning elements).

        Every coordinate must be transformed by some coupling. With no mixing
        (or a learned one) the half mask alternates with its complement. A
        reversal already swaps the halves, so flipping too would transform the
        same coordinates in every layer; instead the conditioning part is the
        first ``ceil(D/2)`` positions in even layers and the first
        ``floor(D/2)`` in odd ones, so that for odd ``D`` the middle coordinate
        is transformed too.
        """
        if self.permutation != "reverse":
            return {"flip_mask": bool(index % 2)}
        dim = self.event_shape[0]
        num_conditioning = (dim + 1) // 2 if index % 2 == 0 else dim // 2
        return {"mask": (np.arange(dim) < num_conditioning).astype(np.float32)}

    def build_bijectors(self):
        data_to_base = []  # the data -> base order, which is tfb.Chain's list order
        dim = self.event_shape[0]
        for i in range(self.num_layers):
            data_to_base.append(self._coupling(i))
            mixing = (_mixing(self.permutation, dim, i, self.flow_dtype)
                      if i < self.num_layers - 1 else None)
            if mixing is not None:
                data_to_base.append(mixing)
        return self._base_side(data_to_base)

    def _base_side(self, data_to_base):
        return data_to_base

    def get_config(self) -> dict:
        return {**super().get_config(), "num_layers": self.num_layers,
                "hidden_units": self.hidden_units, "permutation": self.permutation}


@_saving.register
class RealNVP(_VectorCouplingFlow):
    """RealNVP: affine couplings; alternating masks on vectors, multi-scale on images.

    * Vectors ``(D,)``: ``num_layers`` (default 8) affine couplings;
      between them a reversal permutation (default, as with ``tfb.RealNVP``),
      an LU-factored ``InvertibleLinear`` (``permutation="linear"``), or
      nothing (``"none"``: the masks alternate instead). The learned LU mixing
      is less stable (loss spikes; an optimizer ``clipnorm`` tames it), so the
      reversal is the default (``docs/benchmarks.md``, "Design choices").
    * Images ``(H, W, C)``: the multi-scale architecture of the paper:
      per scale ``num_layers`` (default 3) checkerboard couplings, squeeze,
      ``num_layers`` channel couplings, factor out half the channels; the
      last of ``num_scales`` scales has ``num_layers + 1`` checkerboard
      couplings. Convolutional conditioners with ``hidden_units`` filters.
      Image events default to ``pixel_levels=256`` in ``pixel_format="unit"``
      (dequantisation and logit inside the model, see :class:`FlowModel`);
      pass ``pixel_levels=None`` for continuous image-shaped data.
    * ``log_scale_clamp`` and ``shift_clamp``: the couplings' soft bounds on
      ``|log-scale|`` and ``|shift|`` (``shift_clamp=None``: unbounded). The
      defaults, a log-scale of 1 and unbounded shifts, are :class:`Glow`'s;
      they gave the best held-out likelihood on images and on 2-D densities
      and keep an unusual input from being amplified layer after layer
      (``bench/coupling_bounds.py``, docs/benchmarks.md); see
      :class:`~tfp_genmodels.bijectors.elementwise.AffineMap`.

    Direction: forward maps base to data.

    References:
      Dinh, Sohl-Dickstein & Bengio. Density estimation using Real NVP. 2017.
      arXiv:1605.08803.

    Example:

    >>> from tfp_genmodels import flows
    >>> model = flows.RealNVP(event_shape=(2,), num_layers=4, hidden_units=(16,))
    >>> model.log_prob([[0.0, 0.0]]).shape
    TensorShape([1])
    """

    _ranks = (1, 3)

    def __init__(self, event_shape: Sequence[int], num_layers: int | None = None,
                 hidden_units: Sequence[int] = (128, 128), permutation: str = "reverse",
                 num_scales: int | None = None,
                 context_shape: Sequence[int] | None = None, name: str | None = "real_nvp",
                 log_scale_clamp: float = multiscale.LOG_SCALE_CLAMP,
                 shift_clamp: float | None = multiscale.SHIFT_CLAMP,
                 **kwargs):
        shape = _validation.event_shape_arg(event_shape, ranks=self._ranks)
        image = len(shape) == 3
        self.bounds = multiscale.coupling_bounds(log_scale_clamp, shift_clamp)
        if num_layers is None:
            num_layers = 3 if image else 8
        self.num_scales = None
        if image:
            possible = multiscale.max_squeezes(shape)
            if num_scales is None:
                num_scales = min(3, possible + 1)
            self.num_scales = _validation.positive_int_arg(num_scales, "num_scales")
            multiscale.check_squeezes(shape, self.num_scales - 1, "num_scales", num_scales)
            kwargs.setdefault("pixel_levels", 256)
        elif num_scales is not None:
            raise ValueError(f"`num_scales` applies to image events (H, W, C); got "
                             f"num_scales={num_scales} with event_shape {shape}.")
        super().__init__(shape, num_layers, hidden_units, permutation, context_shape,
                         name, **kwargs)

    def build_bijectors(self) -> list[tfb.Bijector]:
        if len(self.event_shape) == 1:
            return super().build_bijectors()
        return multiscale.realnvp_scale(self.event_shape, 0, self.num_scales, self.num_layers,
                                        self.hidden_units, self.context_shape, self.flow_dtype,
                                        self.bounds)

    def _coupling(self, index):
        return B.AffineCoupling(self.event_shape, **self._mask(index),
                                hidden_units=self.hidden_units,
                                context_shape=self.context_shape, dtype=self.flow_dtype,
                                name=f"coupling_{index}", **self.bounds)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_scales": self.num_scales, **self.bounds}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> RealNVP:
        # A config saved before the bounds existed (0.1.x) describes unbounded shifts.
        return cls(**{**multiscale.LEGACY_BOUNDS, **config})


@_saving.register
class NICE(_VectorCouplingFlow):
    """NICE: additive couplings with alternating masks, then a learned diagonal scaling.

    The couplings preserve volume; the final ``tfb.Scale(log_scale=s)`` (scale
    ``exp(s)``, next to the base) carries the whole log-det ``sum(s)``.

    References:
      Dinh, Krueger & Bengio. NICE: Non-linear Independent Components
      Estimation. 2015. arXiv:1410.8516.
    """

    def __init__(self, event_shape: Sequence[int], num_layers: int = 4,
                 hidden_units: Sequence[int] = (128, 128), permutation: str = "none",
                 context_shape: Sequence[int] | None = None, name: str | None = "nice",
                 **kwargs):
        super().__init__(event_shape, num_layers, hidden_units, permutation, context_shape,
                         name, **kwargs)

    def _coupling(self, index):
        return B.AdditiveCoupling(self.event_shape, **self._mask(index),
                                  hidden_units=self.hidden_units,
                                  context_shape=self.context_shape, dtype=self.flow_dtype,
                                name=f"coupling_{index}")

    def _base_side(self, data_to_base):
        # Data -> base: couplings, then h = exp(-s) * x so that forward is z * exp(s).
        self.log_scale = tf.Variable(tf.zeros(self.event_shape, self.flow_dtype),
                                     name="log_scale")
        scale = tfb.Scale(log_scale=self.log_scale, name="diagonal_scale")
        return data_to_base + [scale]


@_saving.register
class NeuralSplineFlow(_VectorCouplingFlow):
    """Rational-quadratic spline couplings with a reversal between them.

    Each coupling's spline is followed by a conditional affine map
    (``affine=True``, see :class:`~tfp_genmodels.bijectors.SplineCoupling`):
    the spline alone is the identity outside ``[-bound, bound]`` and cannot
    change the scale of data beyond it (on Neal's funnel the plain spline, and
    TFP's, miss its tails; the affine map fixes that).

    ``permutation="linear"`` puts an LU-factored ``InvertibleLinear`` there
    instead (the paper's choice on images); on 2-D data the reversal does
    better. Both measurements: ``docs/benchmarks.md``, "Design choices".

    References:
      Durkan, Bekasov, Murray & Papamakarios. Neural Spline Flows. 2019.
      arXiv:1906.04032.
    """

    def __init__(self, event_shape: Sequence[int], num_layers: int = 4,
                 hidden_units: Sequence[int] = (128, 128), num_bins: int = 8,
                 bound: float = 5.0, permutation: str = "reverse", affine: bool = True,
                 context_shape: Sequence[int] | None = None,
                 name: str | None = "neural_spline_flow", **kwargs):
        self.num_bins = _validation.positive_int_arg(num_bins, "num_bins")
        self.bound = _validation.positive_float_arg(bound, "bound")
        self.affine = affine
        super().__init__(event_shape, num_layers, hidden_units, permutation, context_shape,
                         name, **kwargs)

    def _coupling(self, index):
        return B.SplineCoupling(self.event_shape, num_bins=self.num_bins, bound=self.bound,
                                affine=self.affine, **self._mask(index),
                                hidden_units=self.hidden_units,
                                context_shape=self.context_shape, dtype=self.flow_dtype,
                                name=f"coupling_{index}")

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "bound": self.bound,
                "affine": self.affine}

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> NeuralSplineFlow:
        # A config saved before `affine` existed (0.1.0) describes plain splines.
        return cls(**{"affine": False, **config})
