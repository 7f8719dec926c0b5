"""Routing a context to the conditional bijectors of a (nested) chain.

``tfb.Chain`` passes keyword arguments by bijector name; ``FactorOut`` and
``tfb.Invert`` pass theirs on to the bijector they wrap. A *route* mirrors
that tree: a string (the keyword a conditional bijector takes) or a dict
``{child name: route}`` for containers.
"""

from __future__ import annotations

import tensorflow_probability as tfp

from tfp_genmodels import _tfp_compat
from tfp_genmodels.bijectors import CouplingBijector, FactorOut

tfb = tfp.bijectors

def context_route(bijector: tfb.Bijector):
    """The route to every conditional bijector inside ``bijector``, or ``None``."""
    if isinstance(bijector, CouplingBijector):
        return "context" if bijector.context_shape is not None else None
    if isinstance(bijector, tfb.MaskedAutoregressiveFlow):
        made = _tfp_compat.maf_network(bijector)
        return "conditional_input" if _tfp_compat.made_is_conditional(made) else None
    if isinstance(bijector, _tfp_compat.Invert):
        return context_route(bijector.bijector)
    if isinstance(bijector, FactorOut):
        return context_route(bijector.inner)
    if isinstance(bijector, _tfp_compat.Chain):
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
