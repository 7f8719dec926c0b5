"""tfp_genmodels: normalizing flows and variational autoencoders on TensorFlow Probability.

Submodules are imported lazily (PEP 562), so ``import tfp_genmodels`` is fast
and does not load TensorFlow until a submodule is first used::

    from tfp_genmodels import bijectors   # imports TensorFlow and TFP here
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_SUBMODULES = ("bijectors", "flows", "vae", "data", "export", "plots", "saving")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
