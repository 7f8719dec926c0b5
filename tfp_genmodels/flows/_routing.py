"""Routing a context to the conditional bijectors of a (nested) chain.

``tfb.Chain`` passes keyword arguments by bijector name; ``FactorOut`` and
``tfb.Invert`` pass theirs on to the bijector they wrap. A *route* mirrors
that tree: a string (the keyword a conditional bijector takes) or a dict
``{child name: route}`` for containers.
"""

from __future__ import annotations

import tensorflow_probability as tfp
# The non-composite-tensor base classes: tfb.Chain([...]) and tfb.Invert(...)
# return these when a member is not a CompositeTensor (ours hold Keras layers).
from tensorflow_probability.python.bijectors.chain import _Chain
from tensorflow_probability.python.bijectors.invert import _Invert

from tfp_genmodels.bijectors import CouplingBijector, FactorOut

tfb = tfp.bijectors

def context_route(bijector: tfb.Bijector):
    """The route to every conditional bijector inside ``bijector``, or ``None``."""
    if isinstance(bijector, CouplingBijector):
        return "context" if bijector.context_shape is not None else None
    if isinstance(bijector, tfb.MaskedAutoregressiveFlow):
        made = getattr(bijector, "_shift_and_log_scale_fn", None)
        return "conditional_input" if getattr(made, "_conditional", False) else None
    if isinstance(bijector, _Invert):
        return context_route(bijector.bijector)
    if isinstance(bijector, FactorOut):
        return context_route(bijector.inner)
    if isinstance(bijector, _Chain):
        names = [b.name for b in bijector.bijectors]
        if len(set(names)) != len(names):
            raise ValueError(f"bijectors in a chain must have unique names (context is "
                             f"routed by name); got {names}.")
        routes = {b.name: r for b in bijector.bijectors
                  if (r := context_route(b)) is not None}
        return routes or None
    return None


def route_kwargs(route, context) -> dict:
    """Keyword arguments for a call of the bijector that ``route`` describes."""
    if isinstance(route, str):
        return {route: context}
    return {name: route_kwargs(sub, context) for name, sub in route.items()}
