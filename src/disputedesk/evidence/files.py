"""Evidence documents: type checks by content, merging into one PDF per field, fitting to the limits.

Stripe takes one file per evidence field, PDF, PNG or JPEG, and reads the content rather than the
declared type, so the desk does the same: :func:`load_document` sniffs the magic bytes and opens
the file. Several documents for one field become one PDF (images as Letter-size pages). The fitter
brings a packet within 5 MB a file, 4.5 MB combined and the page limit by stepping each field down a
ladder of re-encodings, largest file first:

    level 0  as uploaded (several documents merged into one PDF)
    level 1  lossless: PDF content streams deflated, identical objects merged; PNG re-optimised
    level 2+ images (standalone or inside PDFs) re-encoded as JPEG with falling quality and
             resolution, down to 1000 px on the long side at quality 45 (still legible for a receipt)

Text and vector pages of a PDF cannot be shrunk further: rasterising them would need Ghostscript or
Poppler, which the desk does not depend on. When the packet still does not fit,
:class:`PacketTooLarge` names the fields, their sizes and how much is over.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping, Sequence

from PIL import Image, ImageOps
from pypdf import PdfReader, PdfWriter, apply_configuration, get_configuration
from pypdf.errors import PyPdfError

from disputedesk.errors import ValidationError
from disputedesk.evidence.limits import (
    FILE_FIELDS,
    FILE_MAX_BYTES,
    MAX_PAGES,
    TOTAL_FILES_MAX_BYTES,
    FileUse,
    page_limit,
    size_text,
)

MAX_UPLOAD_BYTES = 50_000_000   # what the desk accepts before fitting
MAX_IMAGE_PIXELS = 60_000_000   # refuse larger images (decompression bombs)
# What pypdf may do with one document before it gives up (its own defaults are 75 MB a stream and
# 100,000 page-tree entries): any PDF that could be evidence is far inside these, a bomb is not.
MAX_DECOMPRESSED_BYTES = 50_000_000  # per stream (Flate, LZW, run-length, JBIG2, image buffers)
PDF_LIMITS = get_configuration().with_overwrites(
    zlib_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    lzw_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    run_length_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    jbig2_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    brotli_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    array_based_stream_maximum_output_length=MAX_DECOMPRESSED_BYTES,
    image_maximum_buffer_size=MAX_DECOMPRESSED_BYTES,
    stream_decoding_work_maximum_length=4 * MAX_DECOMPRESSED_BYTES,
    page_tree_maximum_entries=10 * MAX_PAGES,
    page_tree_maximum_page_entries=1000 * MAX_PAGES,
    page_tree_maximum_depth=32,
)

# (JPEG quality, longest side in pixels) for levels 2.. ; level 1 is lossless.
LADDER: tuple[tuple[int, int], ...] = ((85, 2400), (75, 2000), (65, 1600), (55, 1300), (45, 1000))
MAX_LEVEL = 1 + len(LADDER)

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)
_OTHER_MAGIC = (
    (b"GIF8", "GIF image"), (b"PK\x03\x04", "ZIP archive (e.g. a Word or Excel file)"),
    (b"RIFF", "RIFF media (WebP, WAV or AVI)"), (b"II*\x00", "TIFF image"), (b"MM\x00*", "TIFF image"),
    (b"\xd0\xcf\x11\xe0", "legacy Office document"), (b"ID3", "MP3 audio"), (b"BM", "BMP image"),
)
_MIME = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}
_EXT = {"pdf": ".pdf", "png": ".png", "jpeg": ".jpg"}

# Letter portrait in points, with half-inch margins (Stripe: US Letter or A4 portrait).
_PAGE_W, _PAGE_H, _MARGIN = 612.0, 792.0, 36.0


class PacketTooLarge(ValidationError):
    """The evidence files cannot be brought within Stripe's limits."""

    code = "evidence_files_too_large"


def sniff_type(data: bytes) -> str | None:
    """``pdf``, ``png`` or ``jpeg`` from the first bytes; ``None`` for anything else."""
    head = data[:1024]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    # PDF readers accept a header anywhere in the first 1024 bytes; so does Stripe's parser, and
    # some generators put a BOM or junk first.
    if b"%PDF-" in head:
        return "pdf"
    return None


def _describe(data: bytes) -> str:
    for magic, name in _OTHER_MAGIC:
        if data.startswith(magic):
            return name
    if data[:5].lower().startswith((b"<?xml", b"<svg", b"<html", b"<!doc")):
        return "text/markup file (SVG or HTML)"
    return "file of unknown type"


@dataclass(frozen=True)
class Document:
    filename: str
    data: bytes
    type: str      # pdf | png | jpeg, read from the content
    pages: int

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def mime(self) -> str:
        return _MIME[self.type]


def _too_many_pixels(filename: str, size: str) -> ValidationError:
    return ValidationError(
        f"'{filename}' is {size} pixels, over the {MAX_IMAGE_PIXELS // 1_000_000} megapixels the "
        "desk will decode (a larger image could exhaust memory)", param="file",
        hint=f"scale it below {MAX_IMAGE_PIXELS // 1_000_000} megapixels, or save it as a PDF page")


def _open_image(data: bytes, filename: str) -> Image.Image:
    """Open and decode an image, refusing decompression bombs before any pixel is decoded.

    ``Image.open`` reads only the header, so the size is checked before ``load()``; Pillow's own
    bomb check (``Image.MAX_IMAGE_PIXELS``, a warning and then an error) is turned into the same
    clear refusal.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise _too_many_pixels(filename, f"{img.width}x{img.height}")
            img.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels(filename, "more than " + f"{MAX_IMAGE_PIXELS:,}") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the upload is unusable
        raise ValidationError(f"'{filename}' is not a readable image: {exc}", param="file",
                              hint="export it again as PNG or JPEG") from exc
    return img


DAMAGED_PDF_HINT = ("open it and export or print it again as PDF; remove the damaged copy from the "
                    "dispute and attach the new one")


@contextlib.contextmanager
def pdf_step(filename: str, what: str) -> Iterator[None]:
    """Turn anything pypdf raises while it ``what``s ``filename`` into a :class:`ValidationError`.

    A damaged PDF makes pypdf raise its own errors (``PdfReadError``, ``PdfStreamError``,
    ``LimitReachedError``) but also ``AssertionError``, ``ValueError``, ``TypeError``,
    ``AttributeError`` and others from deep inside the parser. At this boundary all of them mean
    the same thing to the merchant: the file cannot be used as it is.
    """
    try:
        with apply_configuration(PDF_LIMITS):
            yield
    except ValidationError:
        raise
    except PyPdfError as exc:
        raise ValidationError(
            f"'{filename}' is not a readable PDF: it is damaged and could not be {what} "
            f"({str(exc)[:200]})",
            param="file", hint=DAMAGED_PDF_HINT) from exc
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise ValidationError(
            f"'{filename}' is not a readable PDF: it is damaged and could not be {what} "
            f"({type(exc).__name__}: {str(exc)[:200]})", param="file", hint=DAMAGED_PDF_HINT) from exc


def _too_many_pages(filename: str, pages: int) -> ValidationError:
    return ValidationError(
        f"'{filename}' has {pages:,} pages; Stripe takes fewer than {MAX_PAGES + 1} pages of "
        "evidence in all (20 for Mastercard)", param="file",
        hint="keep only the relevant pages (an excerpt of the terms, the receipt) and upload again")


def _declared_pages(reader: PdfReader) -> int | None:
    """The page count the PDF states at its root, read without walking the page tree."""
    count = reader.trailer["/Root"].get_object()["/Pages"].get_object().get("/Count")
    return int(count) if isinstance(count, int) else None


def _reader(data: bytes, filename: str) -> PdfReader:
    with pdf_step(filename, "read"):
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise ValidationError(f"'{filename}' is a password-protected PDF", param="file",
                                  hint="save it again without a password")
        # Refuse a 100,000-page document before pypdf walks (or copies) its page tree; a count
        # that lies is caught by PDF_LIMITS while walking.
        declared = _declared_pages(reader)
        if declared is not None and declared > MAX_PAGES:
            raise _too_many_pages(filename, declared)
        if len(reader.pages) > MAX_PAGES:
            raise _too_many_pages(filename, len(reader.pages))
    return reader


def _trial_pdf(data: bytes, filename: str) -> None:
    """Do at upload what the build will do later, so a damaged PDF is refused now, not at build.

    Every page is copied into a new PDF and written out (level 0, as when several documents are
    merged), and the lossless compression step (level 1) is run. Image re-encoding (levels 2+)
    leaves an image it cannot decode untouched, so it needs no trial.
    """
    with pdf_step(filename, "copied into the evidence packet"):
        writer = PdfWriter()
        writer.append(_reader(data, filename))
        writer.write(io.BytesIO())
    compress_pdf(data, 1, filename)


def count_pages(data: bytes, filename: str = "document") -> int:
    kind = sniff_type(data)
    if kind == "pdf":
        return len(_reader(data, filename).pages)
    return 1


def load_document(filename: str, data: bytes, *, verify: bool = True) -> Document:
    """Check an upload by its content (not its name or declared type) and count its pages.

    With ``verify`` (the default, used for uploads) a PDF is also copied and compressed on trial,
    as the build will do, so a damaged one is refused at upload. The build passes ``False`` for
    documents it already checked; its own steps still refuse a damaged file by name.
    """
    if not data:
        raise ValidationError(f"'{filename}' is empty", param="file", hint="choose the file again")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(f"'{filename}' is {size_text(len(data))}", param="file",
                              hint=f"upload files under {size_text(MAX_UPLOAD_BYTES)}")
    kind = sniff_type(data)
    if kind is None:
        raise ValidationError(
            f"'{filename}' is a {_describe(data)}, not a PDF, PNG or JPEG", param="file",
            hint="Stripe accepts only PDF, PNG and JPEG: save or print it as PDF")
    if kind == "pdf":
        pages = len(_reader(data, filename).pages)
        if pages == 0:
            raise ValidationError(f"'{filename}' has no pages", param="file",
                                  hint="export or print the document again as PDF")
        if verify:
            _trial_pdf(data, filename)
    else:
        img = _open_image(data, filename)
        actual = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg"}.get(img.format or "")
        if actual != kind:
            raise ValidationError(f"'{filename}' starts like a {kind.upper()} but is not one",
                                  param="file", hint="export it again as PNG or JPEG")
        pages = 1
    return Document(filename=filename, data=data, type=kind, pages=pages)


# --- re-encoding ---------------------------------------------------------------------------------

def _flatten(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img)
    if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode not in ("RGB", "L"):
        return img.convert("RGB")
    return img


def _jpeg(img: Image.Image, quality: int, max_side: int) -> bytes:
    img = _flatten(img)
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=True, progressive=True)
    return buf.getvalue()


def _png_optimised(data: bytes, filename: str) -> bytes:
    img = _open_image(data, filename)
    if img.mode not in ("P", "1", "L") and img.mode in ("RGB", "RGBA"):
        # Screenshots rarely use more than 256 colours: a palette keeps them sharp and small.
        colours = img.getcolors(256)
        if colours is not None:
            img = img.quantize(colors=256)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def reencode_image(doc: Document, level: int) -> tuple[bytes, str]:
    """The image at ``level``: (data, type)."""
    if level <= 0:
        return doc.data, doc.type
    if level == 1:
        if doc.type == "png":
            out = _png_optimised(doc.data, doc.filename)
            return (out, "png") if len(out) < doc.size else (doc.data, "png")
        return doc.data, doc.type
    quality, side = LADDER[min(level, MAX_LEVEL) - 2]
    out = _jpeg(_open_image(doc.data, doc.filename), quality, side)
    return (out, "jpeg") if len(out) < doc.size else (doc.data, doc.type)


def compress_pdf(data: bytes, level: int, filename: str = "document.pdf") -> bytes:
    """Deflate content streams and merge identical objects; from level 2 re-encode embedded images."""
    if level <= 0:
        return data
    reader = _reader(data, filename)
    with pdf_step(filename, "compressed"):
        writer = PdfWriter(clone_from=reader)
        if level >= 2:
            quality, side = LADDER[min(level, MAX_LEVEL) - 2]
            _shrink_pdf_images(writer, quality, side)
        for page in writer.pages:
            page.compress_content_streams(level=9)
        writer.compress_identical_objects()  # defaults: merge duplicates, drop unreferenced
        buf = io.BytesIO()
        writer.write(buf)
    out = buf.getvalue()
    return out if len(out) < len(data) else data


def _pixels_of(image: object) -> int:
    """Width x height of a PDF image XObject, read from its dictionary without decoding it."""
    ref = getattr(image, "indirect_reference", None)
    obj = ref.get_object() if ref is not None else None
    try:
        return int(obj.get("/Width", 0)) * int(obj.get("/Height", 0))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        return MAX_IMAGE_PIXELS + 1  # unknown size: do not decode it


def _shrink_pdf_images(writer: PdfWriter, quality: int, side: int) -> None:
    done: set[int] = set()
    for page in writer.pages:
        try:
            images = list(page.images)
        except Exception:  # noqa: BLE001 - a page whose images pypdf cannot list keeps them as they are
            continue
        for image in images:
            ref = image.indirect_reference
            if ref is None or image.is_inline or ref.idnum in done:
                continue
            done.add(ref.idnum)
            try:
                if _pixels_of(image) > MAX_IMAGE_PIXELS:
                    continue  # a decompression bomb inside a PDF stays as it is, undecoded
                pil = image.image
                if pil is None or (max(pil.size) <= side and len(image.data) < 150_000):
                    continue
                pil = _flatten(pil)
                if max(pil.size) > side:
                    pil = pil.copy()
                    pil.thumbnail((side, side), Image.Resampling.LANCZOS)
                image.replace(pil, quality=quality)
            except Exception:  # noqa: BLE001 - unusual encodings (JBIG2, masks) stay untouched
                continue


def _image_pages_pdf(images: Sequence[tuple[bytes, str]]) -> bytes:
    """Each image on its own Letter portrait page, scaled to fit the margins."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_compression(True)
    for data, _kind in images:
        with Image.open(io.BytesIO(data)) as probe:
            w, h = probe.size
        box_w, box_h = _PAGE_W - 2 * _MARGIN, _PAGE_H - 2 * _MARGIN
        scale = min(box_w / w, box_h / h)
        pdf.add_page()
        pdf.image(io.BytesIO(data), x=_MARGIN, y=_MARGIN, w=w * scale, h=h * scale)
    return bytes(pdf.output())


def merge_to_pdf(docs: Sequence[Document], level: int = 0) -> bytes:
    """Several documents as one PDF, in order; images become pages."""
    if not docs:
        raise ValidationError("no documents to merge", param="file")
    writer = PdfWriter()
    run: list[tuple[bytes, str]] = []

    run_names: list[str] = []

    def flush() -> None:
        if run:
            with pdf_step(", ".join(run_names), "turned into PDF pages"):
                writer.append(PdfReader(io.BytesIO(_image_pages_pdf(run))))
            run.clear()
            run_names.clear()

    for doc in docs:
        if doc.type == "pdf":
            flush()
            reader = _reader(compress_pdf(doc.data, level, doc.filename), doc.filename)
            with pdf_step(doc.filename, "merged with the other documents of its field"):
                writer.append(reader)
        else:
            run.append(reencode_image(doc, level))
            run_names.append(doc.filename)
    flush()
    names = "' or '".join(d.filename for d in docs if d.type == "pdf") or docs[0].filename
    with pdf_step(names, "merged with the other documents of its field"):
        if level >= 1:
            writer.compress_identical_objects()  # defaults: merge duplicates, drop unreferenced
        buf = io.BytesIO()
        writer.write(buf)
    return buf.getvalue()


# --- one file per field, and the packet fitter ---------------------------------------------------

@dataclass(frozen=True)
class PacketFile:
    field: str
    filename: str
    data: bytes
    type: str
    pages: int
    level: int
    original_size: int
    sources: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def mime(self) -> str:
        return _MIME[self.type]

    def use(self) -> FileUse:
        return FileUse(size=self.size, pages=self.pages, type=self.type, name=self.filename)


def build_field_file(field_name: str, docs: Sequence[Document], level: int = 0) -> PacketFile:
    """The one file Stripe gets for ``field_name``: the document itself, or the documents merged."""
    if field_name not in FILE_FIELDS:
        raise ValidationError(f"'{field_name}' does not take a file", param=field_name,
                              hint=f"use one of: {', '.join(sorted(FILE_FIELDS))}")
    if not docs:
        raise ValidationError(f"no document for '{field_name}'", param=field_name)
    original = sum(d.size for d in docs)
    names = tuple(d.filename for d in docs)
    pages = sum(d.pages for d in docs)
    if len(docs) == 1 and docs[0].type != "pdf":
        data, kind = reencode_image(docs[0], level)
    elif len(docs) == 1:
        data, kind = compress_pdf(docs[0].data, level, docs[0].filename), "pdf"
    else:
        data, kind = merge_to_pdf(docs, level), "pdf"
    return PacketFile(field=field_name, filename=f"{field_name}{_EXT[kind]}", data=data, type=kind,
                      pages=pages, level=level, original_size=original, sources=names)


@dataclass
class FittedPacket:
    files: dict[str, PacketFile]
    brand: str | None
    steps: list[str] = field(default_factory=list)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files.values())

    @property
    def total_pages(self) -> int:
        return sum(f.pages for f in self.files.values())

    def uses(self) -> dict[str, FileUse]:
        return {name: f.use() for name, f in self.files.items()}


def _check_pages(packet: Mapping[str, Sequence[Document]], brand: str | None) -> None:
    limit = page_limit(brand)
    per_field = {name: sum(d.pages for d in docs) for name, docs in packet.items()}
    total = sum(per_field.values())
    if total > limit:
        listing = ", ".join(f"{n} {p}" for n, p in sorted(per_field.items(), key=lambda kv: -kv[1]))
        who = "a Mastercard dispute" if (brand or "").lower() == "mastercard" else "a dispute"
        raise PacketTooLarge(
            f"the evidence has {total} pages, {total - limit} over the {limit} allowed for {who} "
            f"({listing})", param=max(per_field, key=per_field.get),
            hint="compression cannot remove pages: keep only the relevant pages of each document")


def fit_packet(
    packet: Mapping[str, Sequence[Document] | Document],
    *,
    brand: str | None = None,
    budget: int = TOTAL_FILES_MAX_BYTES,
    per_file: int = FILE_MAX_BYTES,
) -> FittedPacket:
    """One file per evidence field, together within ``budget`` bytes and the brand's page limit.

    The same document attached to two fields is counted twice, as Stripe counts it.
    Raises :class:`PacketTooLarge` when even the strongest re-encoding does not fit.
    """
    docs = {name: ([d] if isinstance(d, Document) else list(d)) for name, d in packet.items()}
    _check_pages(docs, brand)
    files = {name: build_field_file(name, ds, 0) for name, ds in docs.items()}
    steps: list[str] = []
    exhausted: set[str] = set()

    def over() -> bool:
        return (sum(f.size for f in files.values()) > budget
                or any(f.size > per_file for f in files.values()))

    while over():
        oversize = [n for n, f in files.items() if f.size > per_file and n not in exhausted]
        candidates = oversize or [n for n in files if n not in exhausted]
        if not candidates:
            break
        name = max(candidates, key=lambda n: files[n].size)
        current = files[name]
        if current.level >= MAX_LEVEL:
            exhausted.add(name)
            continue
        smaller = build_field_file(name, docs[name], current.level + 1)
        steps.append(f"{name}: level {smaller.level}, {size_text(current.size)} -> {size_text(smaller.size)}")
        files[name] = smaller if smaller.size <= current.size else PacketFile(
            **{**current.__dict__, "level": smaller.level})

    total = sum(f.size for f in files.values())
    too_big = [f for f in files.values() if f.size > per_file]
    if too_big or total > budget:
        listing = ", ".join(
            f"{f.field} {size_text(f.size)} ({len(f.sources)} document{'s' if len(f.sources) != 1 else ''}, "
            f"{f.pages} page{'s' if f.pages != 1 else ''})"
            for f in sorted(files.values(), key=lambda f: -f.size))
        if too_big:
            worst = max(too_big, key=lambda f: f.size)
            message = (f"the file for '{worst.field}' is still {size_text(worst.size)} after the strongest "
                       f"compression, {size_text(worst.size - per_file)} over the {size_text(per_file)} limit for one file")
            param = worst.field
        else:
            message = (f"the evidence files total {size_text(total)} after the strongest compression, "
                       f"{size_text(total - budget)} over the {size_text(budget)} combined limit")
            param = max(files.values(), key=lambda f: f.size).field
        raise PacketTooLarge(
            f"{message}: {listing}", param=param,
            hint="remove documents or keep only the relevant pages; text-only PDF pages cannot be "
                 "shrunk further without rasterising, which the desk does not do")
    return FittedPacket(files=files, brand=brand, steps=steps)


def documents_from(items: Iterable[tuple[str, bytes]]) -> list[Document]:
    """Load several ``(filename, data)`` uploads."""
    return [load_document(name, data) for name, data in items]
