"""Identity-based equality for bijectors that carry their own state.

TFP caches ``forward``/``inverse`` results (and, for greedy bijectors, the
log-det) in a cache keyed on *bijector equality*, and ``Bijector.__eq__``
compares the constructor ``parameters``. A bijector that creates variables or
networks inside its constructor (couplings, ActNorm, LU factors, ...) has the
same ``parameters`` as every other instance built with the same arguments,
so two such instances would compare equal and answer each other's cache
lookups: model ``b`` would return model ``a``'s log-density.

TFP's answer for bijectors it cannot compare is an identity-based
parameterisation (``Bijector._get_parameterization`` returns ``id(self)``
when ``parameters`` is ``None``); :class:`StatefulBijector` applies that rule
to every bijector of this package whose map depends on more than its
constructor's Python arguments (variables, networks, tensor parameters).
The cache holds strong references to the bijectors in its keys, so an ``id``
is never reused while an entry for it exists.
"""

from __future__ import annotations


class StatefulBijector:
    """Mixin (before ``tfb.Bijector`` in the bases): equal only to itself.

    ``a == b`` and ``hash(a)`` then follow object identity, so TFP's
    bijector cache never shares an entry between two instances, whatever
    their constructor arguments. Its batch shape is scalar unless the class
    declares tensor parameters in ``_parameter_properties``.
    """

    def _get_parameterization(self):
        return id(self)

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None) -> dict:
        # No tensor-valued constructor arguments: the batch shape is scalar.
        # Classes with tensor parameters (Planar, ...) override this.
        return {}
