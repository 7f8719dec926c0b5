"""One registry of flow recipes with small default configurations, for every suite.

The contract, training, saving, export and every-call suites parametrize over
:data:`RECIPES`; a new recipe is tested everywhere by adding one line here
(``test_registry_covers_every_library_recipe`` fails until it is). A suite
that needs another size overrides keywords: ``RECIPES["glow"](num_layers=1)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from tfp_genmodels import data, flows

#: Digits are integers 0..16: 17 levels.
PIXELS = {"pixel_levels": 17, "pixel_format": "integer"}
VECTOR_SHAPE = (2,)
IMAGE_SHAPE = (8, 8, 1)

RECIPES: dict[str, Callable[..., flows.FlowModel]] = {
    "nice": functools.partial(flows.NICE, event_shape=VECTOR_SHAPE, num_layers=4,
                              hidden_units=(16,)),
    "realnvp": functools.partial(flows.RealNVP, event_shape=VECTOR_SHAPE, num_layers=4,
                                 hidden_units=(16,)),
    "spline": functools.partial(flows.NeuralSplineFlow, event_shape=VECTOR_SHAPE,
                                num_layers=2, hidden_units=(16,)),
    "maf": functools.partial(flows.MAF, event_shape=VECTOR_SHAPE, num_layers=3,
                             hidden_units=(16,)),
    "iaf": functools.partial(flows.IAF, event_shape=VECTOR_SHAPE, num_layers=3,
                             hidden_units=(16,)),
    "ffjord": functools.partial(flows.FFJORD, event_shape=VECTOR_SHAPE, hidden_units=(16,)),
    "glow": functools.partial(flows.Glow, event_shape=IMAGE_SHAPE, num_scales=2, num_layers=2,
                              hidden_units=(16,), **PIXELS),
    "realnvp_multiscale": functools.partial(flows.RealNVP, event_shape=IMAGE_SHAPE,
                                            num_layers=2, hidden_units=(16,), **PIXELS),
}


#: ``check_bijector`` options of a recipe's chain: a chain of TFP bijectors may read
#: a variable twice in a log-det (TFP's own allowance); an ODE solver traces the
#: dynamics in three places (first step, loop body, final evaluation). The CNF is
#: checked in float32 only: the float64 tolerances (1e-9) need a solver tolerance
#: near 1e-11, minutes per check on a CPU; its float64 model is checked against
#: its float32 one in test_flow_dtype.py.
CHECK_OPTIONS = {"nice": {"max_ldj_reads": 2}, "maf": {"max_ldj_reads": 2},
                 "iaf": {"max_ldj_reads": 2},
                 "ffjord": {"max_reads": 3, "max_ldj_reads": 3, "dtypes": (tf.float32,)}}


def is_image(name: str) -> bool:
    """Whether the recipe ``name`` models ``[H, W, C]`` images (the digits)."""
    return len(RECIPES[name].keywords["event_shape"]) == 3


VECTOR_RECIPES = sorted(n for n in RECIPES if not is_image(n))
IMAGE_RECIPES = sorted(n for n in RECIPES if is_image(n))


#: The smallest depth of each recipe, where it differs from two layers (vectors)
#: or one scale of one layer (images).
SMALLEST = {"ffjord": {"num_layers": 1}}


def tiny(name: str, **kwargs) -> flows.FlowModel:
    """The smallest configuration of ``name`` (one or two layers of 8 units)."""
    small = SMALLEST.get(name) or ({"num_layers": 1, "num_scales": 1} if is_image(name)
                                   else {"num_layers": 2})
    return RECIPES[name](**{**small, "hidden_units": (8,), **kwargs})


@functools.cache
def _digits() -> data.ImageData:
    return data.load_digits()


def training_data(name: str, n: int = 256) -> np.ndarray:
    """``n`` training examples for the recipe: two moons, or digits 0..16."""
    if is_image(name):
        return _digits().train.x[:n]
    return data.toy_sample("moons", n, seed=0).astype(np.float32)
