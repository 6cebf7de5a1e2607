"""Consent state per entity, kept current from the compacted consent topic.

The store answers one question per batch: for these entity ids, what are the consent flags? It
returns columns (numpy arrays), because the policy engine evaluates a whole batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "UNREADABLE_STATE",
    "ConsentColumns",
    "ConsentState",
    "ConsentStore",
    "ConsentUpdate",
]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def _aware(value: str) -> str:
    if datetime.fromisoformat(value).tzinfo is None:
        raise ValueError(f"updated_at {value!r} has no UTC offset")
    return value


class ConsentState(BaseModel):
    """What the consumer told us (or what the law presumes): the value on ``privacy.consent``.

    Unknown fields are ignored, not refused: a producer that adds a field must not make every
    consent message it sends unreadable. Known fields are strictly typed.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    opt_out_sale_share: bool = False
    gpc: bool = False
    limit_spi: bool = False
    age: Annotated[int, Field(ge=0, le=150)] | None = None
    minor_opt_in: bool = False
    deleted: bool = False
    updated_at: Annotated[str, AfterValidator(_aware)] | None = None


#: What an unreadable consent message means: the most restrictive choices short of deletion.
UNREADABLE_STATE: Final = ConsentState(opt_out_sale_share=True, gpc=True, limit_spi=True)


@dataclass(frozen=True, slots=True)
class ConsentColumns:
    """Consent flags for a batch, one entry per record; ``age`` is NaN where unknown."""

    known: BoolArray
    opt_out_sale_share: BoolArray
    gpc: BoolArray
    limit_spi: BoolArray
    minor_opt_in: BoolArray
    deleted: BoolArray
    age: FloatArray

    @classmethod
    def from_states(cls, states: Sequence[ConsentState | None]) -> ConsentColumns:
        n = len(states)
        known = np.fromiter((s is not None for s in states), dtype=np.bool_, count=n)

        def flag(name: str) -> BoolArray:
            return np.fromiter(
                (bool(getattr(s, name)) if s is not None else False for s in states),
                dtype=np.bool_,
                count=n,
            )

        age = np.fromiter(
            (float(s.age) if s is not None and s.age is not None else np.nan for s in states),
            dtype=np.float64,
            count=n,
        )
        return cls(
            known=known,
            opt_out_sale_share=flag("opt_out_sale_share"),
            gpc=flag("gpc"),
            limit_spi=flag("limit_spi"),
            minor_opt_in=flag("minor_opt_in"),
            deleted=flag("deleted"),
            age=age,
        )


@dataclass(frozen=True, slots=True)
class ConsentUpdate:
    """The effect of one consent-topic message on the store."""

    entity_id: str
    newly_deleted: bool
    error: str | None = None


class ConsentStore:
    """Latest consent state per entity id. The stream loop owns it; it is not thread-safe."""

    def __init__(self) -> None:
        self._states: dict[str, ConsentState] = {}
        self._deleted: set[str] = set()  # only grows: nothing undoes a deletion

    def __len__(self) -> int:
        return len(self._states)

    def get(self, entity_id: str) -> ConsentState | None:
        return self._states.get(entity_id)

    def is_deleted(self, entity_id: str) -> bool:
        return entity_id in self._deleted

    def put(self, entity_id: str, state: ConsentState | None) -> ConsentUpdate:
        """Set (or, with ``None``, forget) one entity's state.

        A deleted entity stays deleted in this process whatever comes later (a tombstone, a state
        with ``deleted: false``): DESIGN section 3 blocks it "from then on".
        """
        if state is None:
            self._states.pop(entity_id, None)
            return ConsentUpdate(entity_id, newly_deleted=False)
        was_deleted = entity_id in self._deleted
        if was_deleted and not state.deleted:
            state = state.model_copy(update={"deleted": True})
        self._states[entity_id] = state
        if state.deleted:
            self._deleted.add(entity_id)
        return ConsentUpdate(entity_id, newly_deleted=state.deleted and not was_deleted)

    def apply(self, key: bytes | None, value: bytes | None) -> ConsentUpdate:
        """Apply one message from the consent topic; a tombstone (null value) forgets the entity.

        A malformed value fails closed: the entity gets :data:`UNREADABLE_STATE` (opted out of
        sale and sharing, GPC, limit-SPI; deletion kept if it was deleted) and the error is
        reported. Keeping the previous state instead could keep an opt-in the consumer withdrew.
        """
        if not key:
            return ConsentUpdate("", newly_deleted=False, error="consent message without a key")
        try:
            entity_id = key.decode("utf-8")
        except UnicodeDecodeError:
            return ConsentUpdate("", newly_deleted=False, error="consent key is not UTF-8")
        if value is None:
            return self.put(entity_id, None)
        try:
            state = ConsentState.model_validate(orjson.loads(value))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            message = f"invalid consent state, treated as opted out: {str(exc).splitlines()[0]}"
            update = self.put(entity_id, UNREADABLE_STATE)
            return ConsentUpdate(entity_id, newly_deleted=update.newly_deleted, error=message)
        return self.put(entity_id, state)

    def columns(self, entity_ids: Sequence[str]) -> ConsentColumns:
        states = self._states
        columns = ConsentColumns.from_states([states.get(e) for e in entity_ids])
        if not self._deleted:
            return columns
        deleted = self._deleted
        forgotten = np.fromiter((e in deleted for e in entity_ids), np.bool_, len(entity_ids))
        return replace(columns, deleted=columns.deleted | forgotten)
