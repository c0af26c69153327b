"""Helpers shared by resource modules: changing an object and emitting its update event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .state import Obj, clone

if TYPE_CHECKING:
    from .context import Ctx


def change(ctx: "Ctx", obj: Obj, changes: dict[str, Any], event_type: str | None = None
           ) -> dict[str, Any]:
    """Set ``changes`` on the stored object; emit ``event_type`` with ``previous_attributes``.

    Only keys whose value really changed count; nothing is emitted when nothing changed.
    Returns ``previous_attributes``.
    """
    previous: dict[str, Any] = {}
    for key, value in changes.items():
        old = obj.get(key)
        if old != value:
            previous[key] = clone(old)
            obj[key] = value
    if previous and event_type:
        ctx.emit(event_type, obj, previous)
    return previous
