"""Flow models: Keras models around ``tfd.TransformedDistribution``, trained with ``fit``.

Direction follows TFP: ``forward`` maps the base (z) to the data (x).
"""

from tfp_genmodels._registry import FLOW_RECIPES as _RECIPE_NAMES
from tfp_genmodels.flows.autoregressive_flows import IAF, MAF
from tfp_genmodels.flows.continuous import FFJORD
from tfp_genmodels.flows.coupling_flows import NICE, NeuralSplineFlow, RealNVP
from tfp_genmodels.flows.flow_model import FlowModel
from tfp_genmodels.flows.glow import Glow

#: The recipes by their short (CLI) name: ``RECIPES["spline"] is NeuralSplineFlow``.
RECIPES: dict[str, type[FlowModel]] = {key: globals()[name]
                                       for key, name in _RECIPE_NAMES.items()}

__all__ = ["FFJORD", "FlowModel", "Glow", "IAF", "MAF", "NICE", "NeuralSplineFlow", "RECIPES",
           "RealNVP"]
