"""Stripe's limits on a dispute's evidence, as data, and a validator that reports every violation.

Field names are those of ``DisputeUpdateParamsEvidence`` in stripe 16.1. Sizes are in bytes and
deliberately decimal (5 MB = 5,000,000 bytes): Stripe's API refused combined uploads somewhere
between 4.75 and 4.80 MiB (about 5,000,000 bytes) while its docs promise 4.5 MB, so the desk builds
to 4,500,000 bytes combined.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from disputedesk.errors import ValidationError

# Text fields limited to 20,000 characters (Stripe's param docs: "maximum character count of 20,000").
LONG_TEXT_FIELDS = frozenset({
    "access_activity_log",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "duplicate_charge_explanation",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "uncategorized_text",
})
SHORT_TEXT_FIELDS = frozenset({
    "billing_address",
    "customer_email_address",
    "customer_name",
    "customer_purchase_ip",
    "duplicate_charge_id",
    "service_date",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
})
TEXT_FIELDS = LONG_TEXT_FIELDS | SHORT_TEXT_FIELDS
# Fields that hold the id of a file uploaded with purpose ``dispute_evidence``.
FILE_FIELDS = frozenset({
    "cancellation_policy",
    "customer_communication",
    "customer_signature",
    "duplicate_charge_documentation",
    "receipt",
    "refund_policy",
    "service_documentation",
    "shipping_documentation",
    "uncategorized_file",
})
# Structured sub-hashes, not counted as text here.
OBJECT_FIELDS = frozenset({"enhanced_evidence", "appeal"})
EVIDENCE_FIELDS = TEXT_FIELDS | FILE_FIELDS | OBJECT_FIELDS

SHORT_TEXT_MAX = 5_000
LONG_TEXT_MAX = 20_000
TOTAL_TEXT_MAX = 150_000

FILE_MAX_BYTES = 5_000_000           # one dispute_evidence upload
TOTAL_FILES_MAX_BYTES = 4_500_000    # all evidence files together; a file used twice counts twice
MAX_PAGES = 49                       # "under 50 pages" in all
MASTERCARD_MAX_PAGES = 19
FILE_TYPES = ("pdf", "png", "jpeg")  # Stripe reads the content, not the declared type


def text_limit(field: str) -> int:
    return LONG_TEXT_MAX if field in LONG_TEXT_FIELDS else SHORT_TEXT_MAX


def page_limit(brand: str | None) -> int:
    return MASTERCARD_MAX_PAGES if (brand or "").lower() == "mastercard" else MAX_PAGES


def size_text(size: int) -> str:
    """A size as people read it, in decimal units as Stripe states its limits:
    ``812`` -> ``"812 bytes"``, ``12_300`` -> ``"12.3 kB"``, ``4_512_000`` -> ``"4.51 MB"``."""
    if abs(size) < 1000:
        return f"{size} byte{'' if size == 1 else 's'}"
    if abs(size) < 1_000_000:
        return f"{size / 1000:.1f} kB"
    return f"{size / 1_000_000:.2f} MB"


@dataclass(frozen=True)
class FileUse:
    """A file attached to one evidence field: its size, pages and type (``pdf``/``png``/``jpeg``)."""

    size: int
    pages: int = 1
    type: str = "pdf"
    name: str | None = None


@dataclass(frozen=True)
class Violation:
    field: str | None        # the evidence field, or None for packet-wide limits
    rule: str                # e.g. text_too_long, total_text_too_long, file_too_large, too_many_pages
    message: str             # what is wrong, naming the field
    fix: str                 # what to do about it
    limit: int | None = None
    actual: int | None = None

    def __str__(self) -> str:
        return f"{self.message}: {self.fix}"


def validate_evidence(
    fields: Mapping[str, Any],
    files: Mapping[str, FileUse] | None = None,
    *,
    brand: str | None = None,
) -> list[Violation]:
    """Every way ``fields`` (the ``evidence`` hash) and ``files`` (field -> file) break Stripe's limits.

    ``files`` describes the files attached to file fields; a file field in ``fields`` holding a file
    id with no entry in ``files`` is not size-checked (its size is unknown here).
    """
    out: list[Violation] = []
    files = dict(files or {})
    total_text = 0
    for name, value in fields.items():
        if name not in EVIDENCE_FIELDS:
            out.append(Violation(name, "unknown_field", f"'{name}' is not a Stripe evidence field",
                                 "use one of Stripe's evidence field names, e.g. uncategorized_text"))
            continue
        if name in OBJECT_FIELDS or value is None:
            continue
        if name in FILE_FIELDS:
            if not isinstance(value, str):
                out.append(Violation(name, "not_a_file_id", f"'{name}' must hold a file id",
                                     "upload the document with purpose dispute_evidence and use its id"))
            continue
        if not isinstance(value, str):
            out.append(Violation(name, "not_text", f"'{name}' must be text, got {type(value).__name__}",
                                 "write it as a string"))
            continue
        total_text += len(value)
        limit = text_limit(name)
        if len(value) > limit:
            out.append(Violation(
                name, "text_too_long",
                f"'{name}' has {len(value):,} characters, {len(value) - limit:,} over its {limit:,} limit",
                f"shorten '{name}' to {limit:,} characters or put the rest in a PDF in uncategorized_file",
                limit, len(value)))
    if total_text > TOTAL_TEXT_MAX:
        out.append(Violation(
            None, "total_text_too_long",
            f"the evidence text totals {total_text:,} characters, {total_text - TOTAL_TEXT_MAX:,} over "
            f"Stripe's {TOTAL_TEXT_MAX:,} limit",
            "shorten the longest text fields (access_activity_log, uncategorized_text, ...) or move "
            "them into a PDF", TOTAL_TEXT_MAX, total_text))
    out.extend(validate_files(files, brand=brand))
    return out


def validate_files(files: Mapping[str, FileUse], *, brand: str | None = None) -> list[Violation]:
    """Per-file size and type, combined size (each use counted) and combined pages."""
    out: list[Violation] = []
    total = pages = 0
    for name, use in files.items():
        if name not in FILE_FIELDS:
            out.append(Violation(name, "not_a_file_field", f"'{name}' does not take a file",
                                 f"attach files only to: {', '.join(sorted(FILE_FIELDS))}"))
            continue
        if use.type not in FILE_TYPES:
            out.append(Violation(name, "file_type", f"'{name}' is a {use.type} file",
                                 "Stripe takes only PDF, PNG or JPEG: convert it to PDF"))
        total += use.size
        pages += use.pages
        if use.size > FILE_MAX_BYTES:
            out.append(Violation(
                name, "file_too_large",
                f"the file for '{name}' is {size_text(use.size)}, {size_text(use.size - FILE_MAX_BYTES)} over the "
                f"{size_text(FILE_MAX_BYTES)} limit for one file",
                "downscale its images or split it; the fitter does this for PNG, JPEG and image PDFs",
                FILE_MAX_BYTES, use.size))
    if total > TOTAL_FILES_MAX_BYTES:
        biggest = sorted(files.items(), key=lambda kv: -kv[1].size)[:3]
        names = ", ".join(f"{n} ({size_text(u.size)})" for n, u in biggest)
        out.append(Violation(
            None, "files_too_large",
            f"the evidence files total {size_text(total)}, {size_text(total - TOTAL_FILES_MAX_BYTES)} over the "
            f"{size_text(TOTAL_FILES_MAX_BYTES)} combined limit (a file attached twice counts twice)",
            f"shrink or drop the largest: {names}", TOTAL_FILES_MAX_BYTES, total))
    limit = page_limit(brand)
    if pages > limit:
        who = "Mastercard disputes" if limit == MASTERCARD_MAX_PAGES else "a dispute"
        out.append(Violation(
            None, "too_many_pages",
            f"the evidence files have {pages} pages in all, {pages - limit} over the {limit} pages "
            f"allowed for {who}",
            "keep only the relevant pages (quote excerpts of your terms rather than the whole document)",
            limit, pages))
    return out


def check_evidence(fields: Mapping[str, Any], files: Mapping[str, FileUse] | None = None, *,
                   brand: str | None = None) -> None:
    """Raise one :class:`EvidenceLimitError` listing every violation, or return quietly."""
    violations = validate_evidence(fields, files, brand=brand)
    if violations:
        raise EvidenceLimitError(violations)


class EvidenceLimitError(ValidationError):
    """The evidence breaks one or more of Stripe's limits; ``violations`` lists each."""

    code = "evidence_over_limits"

    def __init__(self, violations: Iterable[Violation]) -> None:
        self.violations = list(violations)
        first = self.violations[0]
        more = len(self.violations) - 1
        message = "; ".join(str(v) for v in self.violations)
        super().__init__(message, param=first.field,
                         hint=None if not more else f"{len(self.violations)} problems in all")

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["violations"] = [
            {"field": v.field, "rule": v.rule, "message": v.message, "fix": v.fix,
             "limit": v.limit, "actual": v.actual} for v in self.violations
        ]
        return out
