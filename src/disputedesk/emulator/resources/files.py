"""Files: multipart upload at ``POST /v1/files``, retrieve, list, and the contents download.

Stripe decides a file's type from its bytes, not the declared name or MIME type, and limits
each purpose to some types and a size (dispute evidence: PDF, JPEG or PNG up to 5 MB, fewer than
50 pages, kept 9 months). The contents are kept in the collection's meta, never in responses.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from .. import errors, params
from ..routing import Route
from ..state import Obj

MB = 1024 * 1024
DAY = 86_400


@dataclass(frozen=True)
class PurposeRule:
    types: tuple[str, ...] | None   # None: any type
    max_bytes: int
    lifetime: int | None            # seconds until expires_at; None: never expires


_DOCS = ("pdf", "jpg", "png")
RULES: dict[str, PurposeRule] = {
    "dispute_evidence": PurposeRule(_DOCS, 5 * MB, 270 * DAY),
    "account_requirement": PurposeRule(_DOCS, 16 * MB, None),
    "additional_verification": PurposeRule(_DOCS, 16 * MB, None),
    "identity_document": PurposeRule(_DOCS, 16 * MB, None),
    "business_icon": PurposeRule(("jpg", "png", "gif"), 512 * 1024, None),
    "business_logo": PurposeRule(("jpg", "png", "gif"), 512 * 1024, None),
    "customer_signature": PurposeRule(("jpg", "png", "svg"), 4 * MB, 7 * DAY),
    "issuing_regulatory_reporting": PurposeRule(None, 16 * MB, None),
    "pci_document": PurposeRule(None, 16 * MB, None),
    "platform_terms_of_service": PurposeRule(None, 16 * MB, None),
    "tax_document_user_upload": PurposeRule(None, 16 * MB, None),
    "terminal_android_apk": PurposeRule(None, 100 * MB, None),
    "terminal_reader_splashscreen": PurposeRule(("jpg", "png", "gif"), 16 * MB, None),
    "terminal_wifi_certificate": PurposeRule(None, 16 * MB, None),
    "terminal_wifi_private_key": PurposeRule(None, 16 * MB, None),
}
LINKABLE = ("business_icon", "business_logo", "customer_signature", "dispute_evidence",
            "issuing_regulatory_reporting", "pci_document", "tax_document_user_upload",
            "terminal_android_apk", "terminal_reader_splashscreen")
MAX_PDF_PAGES = 50  # dispute evidence PDFs must have fewer pages than this

CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "png": "image/png",
                 "gif": "image/gif", "svg": "image/svg+xml", "csv": "text/csv",
                 "txt": "text/plain", "zip": "application/zip"}

_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def sniff(content: bytes) -> str | None:
    """The file type Stripe would report, read from the leading bytes."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if content.startswith(b"PK\x03\x04"):
        return "zip"
    head = content[:512].lstrip()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in content[:2048]):
        return "svg"
    try:
        content[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return None
    first = content.split(b"\n", 1)[0]
    return "csv" if b"," in first else "txt"


def pdf_pages(content: bytes) -> int:
    """Page count of a PDF by its page objects (cheap; exact for ordinary PDFs)."""
    return max(1, len(_PAGE.findall(content)))


def _upload(value: Any) -> tuple[str, bytes]:
    """(filename, bytes) from whatever the dispatcher handed over for the ``file`` part."""
    if isinstance(value, tuple):  # (filename, bytes)
        return str(value[0] or "blob"), bytes(value[1])
    if isinstance(value, (bytes, bytearray)):
        return "blob", bytes(value)
    data = getattr(value, "data", None)  # the app's UploadedFile
    if isinstance(data, (bytes, bytearray)):
        return str(getattr(value, "filename", None) or "blob"), bytes(data)
    read = getattr(value, "read", None)
    fobj = getattr(value, "file", None)  # starlette UploadFile keeps a sync file in .file
    if fobj is not None and hasattr(fobj, "read"):
        fobj.seek(0)
        return str(getattr(value, "filename", None) or "blob"), fobj.read()
    if read is not None:
        return str(getattr(value, "filename", None) or getattr(value, "name", "blob")), read()
    raise errors.invalid("Invalid file: the file parameter must be a file sent as multipart/"
                         "form-data (Content-Disposition with a filename).", param="file")


def create_file(ctx: Any, *, purpose: str, filename: str, content: bytes,
                link: dict[str, Any] | None = None) -> Obj:
    """Validate and store an upload; used by the endpoint and by seeding."""
    rule = RULES.get(purpose)
    if rule is None:
        listed = ", ".join(sorted(RULES))
        raise errors.invalid(f"Invalid purpose: must be one of {listed}", param="purpose")
    if not content:
        raise errors.invalid("The file you uploaded is empty; upload a file with contents.",
                             param="file")
    kind = sniff(content)
    if rule.types is not None and kind not in rule.types:
        allowed = ", ".join(t.upper() if t != "jpg" else "JPEG" for t in rule.types)
        raise errors.invalid(
            f"The file you uploaded is not a supported type for purpose '{purpose}' (detected: "
            f"{kind or 'unknown'}). Supported types: {allowed}.", param="file")
    if len(content) > rule.max_bytes:
        limit = (f"{rule.max_bytes // MB} MB" if rule.max_bytes >= MB
                 else f"{rule.max_bytes // 1024} KB")
        raise errors.invalid(
            f"The file you uploaded is {len(content)} bytes; files with purpose '{purpose}' must "
            f"be smaller than {limit}.", param="file")
    pages = pdf_pages(content) if kind == "pdf" else 1
    if purpose == "dispute_evidence" and pages >= MAX_PDF_PAGES:
        raise errors.invalid(
            f"The PDF you uploaded has {pages} pages; dispute evidence files must have fewer "
            f"than {MAX_PDF_PAGES} pages.", param="file",
            code="dispute_evidence_page_limit_exceeded")
    now = ctx.now()
    file_id = ctx.new_id("file")
    name = os.path.basename(filename.replace("\\", "/")) or file_id
    obj: Obj = {
        "id": file_id,
        "object": "file",
        "created": now,
        "expires_at": None if rule.lifetime is None else now + rule.lifetime,
        "filename": name,
        "links": {"object": "list", "data": [], "has_more": False,
                  "url": f"/v1/file_links?file={file_id}"},
        "purpose": purpose,
        "size": len(content),
        "title": None,
        "type": kind,
        "url": f"{_files_base(ctx)}/v1/files/{file_id}/contents",
    }
    if link is not None and link.get("create"):
        if purpose not in LINKABLE:
            raise errors.invalid(f"Cannot create a file link for a file with purpose "
                                 f"'{purpose}'.", param="file_link_data[create]")
        new = _new_link(ctx, obj, link)
        obj["links"]["data"].append(new)
        ctx.coll("file_link").add(new)  # the same dict: /v1/file_links updates show here
    ctx.coll("file").add(obj, {"content": content, "pages": pages,
                              "content_type": CONTENT_TYPES.get(kind or "", "application/octet-stream")})
    return obj


def _new_link(ctx: Any, file_obj: Obj, link: dict[str, Any]) -> Obj:
    expires_at = params.integer(link, "expires_at")
    if expires_at is not None and expires_at <= ctx.now():
        raise errors.invalid("The link's expires_at must be in the future.",
                             param="file_link_data[expires_at]")
    return new_link(ctx, file_obj, expires_at=expires_at,
                    metadata=params.apply_metadata({}, link))


def new_link(ctx: Any, file_obj: Obj, *, expires_at: int | None,
             metadata: dict[str, str]) -> Obj:
    token = ctx.emulator.ids.token(40)
    return {"id": ctx.new_id("file_link"), "object": "file_link", "created": ctx.now(),
            "expired": False, "expires_at": expires_at, "file": file_obj["id"], "livemode": False,
            "metadata": metadata, "url": f"{_files_base(ctx)}/links/{token}"}


def _files_base(ctx: Any) -> str:
    """The request's own address; outside requests (seeding) the server's configured one."""
    base = getattr(ctx, "base_url", None) or ctx.emulator.settings.get("files_base_url")
    return str(base or "http://127.0.0.1:12111").rstrip("/")


def file_facts(ctx: Any, file_id: str) -> dict[str, Any] | None:
    """What evidence rules need about an upload: purpose, size, pages (None if not found)."""
    coll = ctx.coll("file")
    obj = coll.get(file_id) if isinstance(file_id, str) else None
    if obj is None:
        return None
    return {"purpose": obj["purpose"], "size": obj["size"], "pages": coll.meta[file_id]["pages"]}


# ----------------------------------------------------------------------------- handlers

def create(ctx: Any) -> Obj:
    p = ctx.params
    params.reject_unknown(p, ("file", "purpose", "file_link_data"))
    if "file" not in p or p["file"] in ("", None):
        raise errors.parameter_missing("file")
    purpose = params.string(p, "purpose", required=True)
    filename, content = _upload(p["file"])
    link = params.hash_(p, "file_link_data")
    if link is not None:
        for key in link:
            if key not in ("create", "expires_at", "metadata"):
                raise errors.parameter_unknown(f"file_link_data[{key}]")
        link = dict(link, create=params.boolean(link, "create", False))
    return ctx.render(create_file(ctx, purpose=str(purpose), filename=filename, content=content,
                                  link=link))


def retrieve(ctx: Any) -> Obj:
    return ctx.render(ctx.get("file", ctx.path["file"], param="file", kind="file"))


def list_(ctx: Any) -> Obj:
    p = ctx.params
    purpose = params.string(p, "purpose", nullable=True)
    coll = ctx.coll("file")
    ids = coll.by("purpose", purpose) if purpose else coll.ids()
    objects, has_more = params.page(coll, ids, p, "/v1/files")
    return ctx.list_response(objects, has_more, "/v1/files")


def contents(ctx: Any) -> tuple[bytes, str]:
    """Raw bytes and content type of an upload."""
    file_id = ctx.path["file"]
    obj = ctx.get("file", file_id, param="file", kind="file")
    meta = ctx.coll("file").meta[obj["id"]]
    return meta["content"], meta["content_type"]


def download(ctx: Any) -> Response:
    """``GET /v1/files/{file}/contents``: the upload's bytes (the address in ``File.url``)."""
    data, content_type = contents(ctx)
    return Response(data, media_type=content_type)


INDEXES = {"file": ("purpose",)}
ROUTES = [
    Route("POST", "/v1/files", create, None),
    Route("GET", "/v1/files", list_, params.LIST_PARAMS + ("purpose",)),
    Route("GET", "/v1/files/{file}", retrieve),
    Route("GET", "/v1/files/{file}/contents", download),
]
