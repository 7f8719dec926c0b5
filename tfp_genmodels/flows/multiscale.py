"""Multi-scale image flows: RealNVP's and Glow's architectures.

Both alternate transformation at one resolution with a squeeze
(``[H, W, C] -> [H/2, W/2, 4C]``) and factor out half of the channels after
each scale: those go straight to the base distribution (Glow: through a
learned conditional prior first), the other half continues to the next
scale. Each scale is wrapped in a squeeze and its inverse, so every
bijector in the tree preserves its event shape and the base is a single
standard normal of the data's shape; temperature sampling scales all of it.

Lists below are built in the data -> base order (the order the papers
describe), which is also ``tfb.Chain``'s list order: its forward (base ->
data) applies the last bijector first, so its inverse applies the first first.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfp_genmodels import bijectors as B

tfb = tfp.bijectors


#: The affine-coupling recipes' (Glow, RealNVP) default soft bounds on a coupling's
#: log-scale and shift (see ``coupling_bounds``; chosen by bench/coupling_bounds.py,
#: docs/benchmarks.md).
LOG_SCALE_CLAMP: float = 1.0
SHIFT_CLAMP: float | None = None
#: What a config written by 0.1.x (without the bounds) was built with.
LEGACY_BOUNDS = {"log_scale_clamp": 3.0, "shift_clamp": None}


def coupling_bounds(log_scale_clamp: float, shift_clamp: float | None) -> dict:
    """The affine couplings' soft bounds, checked: ``{"log_scale_clamp": ..,
    "shift_clamp": ..}`` (see :class:`~tfp_genmodels.bijectors.elementwise.AffineMap`)."""
    checked = B.elementwise.AffineMap(log_scale_clamp, shift_clamp)
    return {"log_scale_clamp": checked.log_scale_clamp, "shift_clamp": checked.shift_clamp}


def max_squeezes(event_shape: Sequence[int]) -> int:
    """How many times ``H`` and ``W`` can both be halved."""
    h, w = event_shape[0], event_shape[1]
    count = 0
    while h % 2 == 0 and w % 2 == 0 and h > 1 and w > 1:
        h, w, count = h // 2, w // 2, count + 1
    return count


def check_squeezes(event_shape: Sequence[int], squeezes: int, arg: str, value: int) -> None:
    """Raises ``ValueError`` (naming ``arg``) unless ``event_shape`` allows ``squeezes``."""
    possible = max_squeezes(event_shape)
    if squeezes > possible:
        raise ValueError(f"`{arg}`={value} needs {squeezes} squeezes (height and width "
                         f"divisible by {2 ** squeezes}); `event_shape` {tuple(event_shape)} "
                         f"allows {possible}.")


def _squeezed(shape):
    h, w, c = shape
    return (h // 2, w // 2, 4 * c)


def _factor_out(sq_shape, inner_data_to_base: list, name: str) -> B.FactorOut:
    kept = sq_shape[2] // 2
    inner = tfb.Chain(inner_data_to_base, name=name)
    return B.FactorOut(inner, sq_shape, num_kept=kept, name="factor_out")


def _glow_conditioner(shape, hidden_units, context_shape, dtype) -> B.ConvConditioner:
    """Glow's coupling network on the first half of the channels: a 3x3
    convolution, then 1x1 ones, then a zero-initialised 3x3 convolution that
    outputs a shift and a log-scale for each channel of the second half."""
    h, w, c = shape
    kernels = [3] + [1] * (len(hidden_units) - 1) if hidden_units else []
    return B.ConvConditioner((h, w, c // 2), num_params=2, filters=hidden_units,
                             kernel_sizes=kernels, output_channels=c - c // 2,
                             context_dim=None if context_shape is None else context_shape[0],
                             dtype=dtype, name="conditioner")


def squeezed(shape: Sequence[int], steps: list[tfb.Bijector]) -> list[tfb.Bijector]:
    """``steps`` (on the squeezed shape) between a squeeze and its inverse, TFP order.

    Names follow TFP's forward (base -> data) direction, as ``tfb.Invert``'s
    default does: base to data, ``squeeze`` maps ``[H, W, C] -> [H/2, W/2, 4C]``,
    the steps run, and ``invert_squeeze`` restores ``[H, W, C]``; data to base,
    the other way round. The chain's event shape stays ``shape``.
    """
    return [tfb.Invert(B.Squeeze(event_shape=shape), name="invert_squeeze"), *steps,
            B.Squeeze(event_shape=shape, name="squeeze")]


def glow_level(shape, level: int, num_scales: int, num_layers: int,
               hidden_units: Sequence[int], context_shape, seed: int,
               dtype: tf.DType = tf.float32, bounds: dict | None = None) -> list:
    """One Glow level on ``shape`` (data -> base), with the finer levels nested inside.

    squeeze; ``num_layers`` x (ActNorm, invertible 1x1 conv, affine coupling
    with Glow's 3x3 / 1x1 / zero-3x3 network);
    then, except at the last level, the split prior ``z_2 ~ N(mu(z_1),
    sigma(z_1))`` (an affine coupling on the factored-out half with a
    zero-initialised 3x3 conv, so it starts at ``N(0, I)``) and the next
    level on ``z_1``; unsqueeze. ``bounds``: the couplings' ``log_scale_clamp``
    and ``shift_clamp``.
    """
    bounds = bounds or {}
    sq = _squeezed(shape)
    out = []
    for s in range(num_layers):
        out += [B.ActNorm(sq, dtype=dtype, name=f"act_norm_{s}"),
                B.InvertibleConv1x1(sq, seed=seed + 1000 * level + s, dtype=dtype,
                                    name=f"conv1x1_{s}"),
                B.AffineCoupling(sq, mask="channel", conditioner=_glow_conditioner(
                    sq, hidden_units, context_shape, dtype), context_shape=context_shape,
                    dtype=dtype, name=f"coupling_{s}", **bounds)]
    if level < num_scales - 1:
        out.append(B.AffineCoupling(sq, mask="channel", hidden_units=(),
                                    context_shape=context_shape, dtype=dtype,
                                    name="split_prior", **bounds))
        inner = glow_level((sq[0], sq[1], sq[2] // 2), level + 1, num_scales, num_layers,
                           hidden_units, context_shape, seed, dtype, bounds)
        out.append(_factor_out(sq, inner, f"level_{level + 1}"))
    return squeezed(shape, out)


def realnvp_scale(shape, scale: int, num_scales: int, num_layers: int,
                  hidden_units: Sequence[int], context_shape,
                  dtype: tf.DType = tf.float32, bounds: dict | None = None) -> list:
    """One RealNVP scale on ``shape`` (data -> base), coarser scales nested inside.

    ``num_layers`` checkerboard couplings, squeeze, ``num_layers`` channel
    couplings, factor out half the channels, unsqueeze; the last scale is
    ``num_layers + 1`` checkerboard couplings (Dinh et al., 2017, section 3.6).
    ``bounds``: the couplings' ``log_scale_clamp`` and ``shift_clamp``.
    """
    bounds = bounds or {}

    def couplings(event, mask, count):
        return [B.AffineCoupling(event, mask=mask, flip_mask=bool(i % 2),
                                 hidden_units=hidden_units, context_shape=context_shape,
                                 dtype=dtype, name=f"{mask}_{i}", **bounds)
                for i in range(count)]

    if scale == num_scales - 1:
        return couplings(shape, "checkerboard", num_layers + 1)
    sq = _squeezed(shape)
    out = couplings(shape, "checkerboard", num_layers)
    inner = realnvp_scale((sq[0], sq[1], sq[2] // 2), scale + 1, num_scales, num_layers,
                          hidden_units, context_shape, dtype, bounds)
    return out + squeezed(shape, [*couplings(sq, "channel", num_layers),
                                  _factor_out(sq, inner, f"scale_{scale + 1}")])
