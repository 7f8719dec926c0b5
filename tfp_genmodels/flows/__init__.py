"""Flow models: Keras models around ``tfd.TransformedDistribution``, trained with ``fit``.

Direction follows TFP: ``forward`` maps the base (z) to the data (x).
"""

from tfp_genmodels.flows.autoregressive_flows import IAF, MAF
from tfp_genmodels.flows.coupling_flows import NICE, NeuralSplineFlow, RealNVP
from tfp_genmodels.flows.flow_model import FlowModel
from tfp_genmodels.flows.glow import Glow

__all__ = ["FlowModel", "Glow", "IAF", "MAF", "NICE", "NeuralSplineFlow", "RealNVP"]
