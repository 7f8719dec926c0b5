"""Binding a VAE part to what only the VAE knows (``latent_dim``, the data's shape)."""

from __future__ import annotations

from typing import Any


def bind_once(part: Any, attribute: str, value: Any, what: str, owner: str) -> None:
    """Sets ``part.<attribute>`` to ``value`` and calls ``part.build_part()`` the first time;
    afterwards ``value`` must equal it (``ValueError`` naming ``what`` and ``owner``)."""
    current = getattr(part, attribute)
    if current is None:
        setattr(part, attribute, value)
        part.build_part()
    elif current != value:
        raise ValueError(f"`{what}` has {attribute}={current} but {owner} is {value}.")
