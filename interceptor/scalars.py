"""The value types a feature or context entry may hold: flat JSON scalars only."""

from __future__ import annotations

__all__ = ["Scalar"]

Scalar = str | int | float | bool | None
