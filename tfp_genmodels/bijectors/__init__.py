"""Bijectors for normalizing flows; every class is a ``tfp.bijectors.Bijector``.

Direction follows TFP: ``forward`` maps the base (z) to the data (x), and
``tfb.Chain`` applies its last bijector first.
"""

from tfp_genmodels.bijectors import elementwise, ode, vector_fields
from tfp_genmodels.bijectors.actnorm import ActNorm
from tfp_genmodels.bijectors.additive_coupling import AdditiveCoupling
from tfp_genmodels.bijectors.affine_coupling import AffineCoupling
from tfp_genmodels.bijectors.conditioners import ConvConditioner, DenseConditioner
from tfp_genmodels.bijectors.continuous import ContinuousFlow
from tfp_genmodels.bijectors.coupling import CouplingBijector
from tfp_genmodels.bijectors.dequantize import (
    Dequantize,
    bits_per_dim,
    uniform_dequantize,
    unit_cube_to_discrete_log_prob,
)
from tfp_genmodels.bijectors.factor_out import FactorOut
from tfp_genmodels.bijectors.householder import Householder
from tfp_genmodels.bijectors.invertible_linear import InvertibleConv1x1, InvertibleLinear
from tfp_genmodels.bijectors.logit import Logit
from tfp_genmodels.bijectors.masks import make_mask, reversal
from tfp_genmodels.bijectors.planar import Planar
from tfp_genmodels.bijectors.radial import Radial
from tfp_genmodels.bijectors.spline_coupling import SplineCoupling
from tfp_genmodels.bijectors.squeeze import Squeeze

__all__ = [
    "ActNorm", "AdditiveCoupling", "AffineCoupling", "ContinuousFlow", "ConvConditioner",
    "CouplingBijector", "DenseConditioner", "Dequantize", "FactorOut", "Householder",
    "InvertibleConv1x1", "InvertibleLinear", "Logit", "Planar", "Radial",
    "SplineCoupling", "Squeeze", "bits_per_dim", "elementwise", "make_mask", "ode", "reversal",
    "uniform_dequantize", "unit_cube_to_discrete_log_prob", "vector_fields",
]
