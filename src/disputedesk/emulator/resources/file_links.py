"""FileLinks: create, retrieve, update (``expires_at``, ``metadata``), list.

A link belongs to one file of the same account; only files of the purposes Stripe lets you
link (``files.LINKABLE``) can be linked, identity documents cannot. ``expired`` becomes true once
``expires_at`` has passed on the emulator clock (``expires_at=now`` expires a link at once).
The file's ``links`` list shows its links, newest first. The link ``url`` is served by the
emulator without an API key, as Stripe serves it (``control.py`` routes ``/links/{token}`` to
:func:`download`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import errors, objects, params as P
from ..routing import Route
from ..state import Obj
from . import files

if TYPE_CHECKING:
    from ..context import Ctx
    from ..emulator import Emulator

TYPE = "file_link"
INDEXES = {TYPE: ("file",)}
FILE_LINKS_SHOWN = 10  # the file's embedded ``links`` list, as a list endpoint's first page


def _refresh(ctx: "Ctx", link: Obj) -> Obj:
    """Mark a link expired once its time has passed (no event: Stripe sends none)."""
    if not link["expired"] and link["expires_at"] is not None and link["expires_at"] <= ctx.now():
        link["expired"] = True
    return link


def _expires_at(ctx: "Ctx", p: dict[str, Any], *, allow_now: bool) -> tuple[bool, int | None]:
    """(given, value) of ``expires_at``: a future timestamp, ``now`` (updates) or ``""``."""
    if "expires_at" not in p:
        return False, None
    raw = p["expires_at"]
    if raw == "":
        return True, None
    if allow_now and raw == "now":
        return True, ctx.now()
    value = P.integer(p, "expires_at")
    if value is not None and value <= ctx.now():
        raise errors.invalid("Invalid expires_at: must be a time in the future (or `now` on "
                             "update).", param="expires_at")
    return True, value


def link_file(ctx: "Ctx", link: Obj) -> None:
    """Show a new link first in its file's ``links`` list (the same dict, so updates show)."""
    file_obj = ctx.coll("file").get(link["file"])
    if file_obj is None:
        return
    links = file_obj["links"]
    links["data"].insert(0, link)
    if len(links["data"]) > FILE_LINKS_SHOWN:
        del links["data"][FILE_LINKS_SHOWN:]
        links["has_more"] = True


def create(ctx: "Ctx") -> Obj:
    p = ctx.params
    file_id = P.string(p, "file", required=True, max_length=5000)
    _, expires_at = _expires_at(ctx, p, allow_now=False)
    metadata = P.apply_metadata(None, p)
    file_obj = ctx.get("file", file_id or "", param="file")
    if file_obj["purpose"] not in files.LINKABLE:
        raise errors.invalid(f"Cannot create a file link for a file with purpose "
                             f"'{file_obj['purpose']}'.", param="file")
    if file_obj["expires_at"] is not None and file_obj["expires_at"] <= ctx.now():
        raise errors.invalid(f"File {file_id} has expired; it cannot be linked.", param="file")
    link = files.new_link(ctx, file_obj, expires_at=expires_at, metadata=metadata)
    ctx.coll(TYPE).add(link)
    link_file(ctx, link)
    return ctx.render(link)


def retrieve(ctx: "Ctx") -> Obj:
    return ctx.render(_refresh(ctx, ctx.get(TYPE, ctx.path["id"], kind="file_link")))


def update(ctx: "Ctx") -> Obj:
    p = ctx.params
    link = _refresh(ctx, ctx.get(TYPE, ctx.path["id"], kind="file_link"))
    changes: dict[str, Any] = {}
    given, expires_at = _expires_at(ctx, p, allow_now=True)
    if given:
        if link["expired"]:
            raise errors.invalid(f"File link {link['id']} has expired; its expiry cannot be "
                                 "changed.", param="expires_at")
        changes["expires_at"] = expires_at
        changes["expired"] = expires_at is not None and expires_at <= ctx.now()
    if "metadata" in p:
        changes["metadata"] = P.apply_metadata(link["metadata"], p)
    objects.change(ctx, link, changes)  # Stripe has no file_link events
    return ctx.render(link)


def list_(ctx: "Ctx") -> Obj:
    p = ctx.params
    coll = ctx.coll(TYPE)
    file_id = P.string(p, "file")
    expired = P.boolean(p, "expired")
    for link in coll.objects.values():
        _refresh(ctx, link)
    ids = coll.by("file", file_id) if file_id else coll.ids()
    keep = None if expired is None else (lambda link: link["expired"] is expired)
    objects_, has_more = P.page(coll, ids, p, "/v1/file_links", keep)
    return ctx.list_response(objects_, has_more, "/v1/file_links")


def download(emulator: "Emulator", token: str) -> tuple[bytes, str]:
    """The linked file's bytes and type for ``/links/{token}`` (any account), or a 404."""
    from ..context import Ctx

    suffix = "/links/" + token
    for account in list(emulator.accounts.values()):
        coll = account.collections.get(TYPE)
        for link in (coll.objects.values() if coll is not None else ()):
            if not link["url"].endswith(suffix):
                continue
            if _refresh(Ctx(emulator, account), link)["expired"]:
                raise errors.invalid("This file link has expired.", status=404)
            meta = account.collection("file").meta[link["file"]]
            return meta["content"], meta["content_type"]
    raise errors.invalid("No such file link.", status=404)


ROUTES = [
    Route("POST", "/v1/file_links", create, ("file", "expires_at", "metadata")),
    Route("GET", "/v1/file_links", list_, P.LIST_PARAMS + ("expired", "file")),
    Route("GET", "/v1/file_links/{id}", retrieve),
    Route("POST", "/v1/file_links/{id}", update, ("expires_at", "metadata")),
]
