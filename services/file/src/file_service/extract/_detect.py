"""Telling formats and text encodings apart from the first bytes of a file."""

from __future__ import annotations

import codecs
import zipfile
from pathlib import Path, PurePath

import charset_normalizer

from ._model import ExtractionError, Format

HEAD_BYTES = 64 << 10

_EXTENSIONS = {
    ".csv": Format.CSV,
    ".txt": Format.CSV,
    ".tsv": Format.TSV,
    ".tab": Format.TSV,
    ".psv": Format.PSV,
    ".xlsx": Format.XLSX,
    ".xlsm": Format.XLSX,
    ".xlsb": Format.XLSB,
    ".xls": Format.XLS,
    ".ods": Format.ODS,
    ".json": Format.JSON,
    ".jsonl": Format.JSONL,
    ".ndjson": Format.JSONL,
}
_MIMETYPES = {
    "text/csv": Format.CSV,
    "application/csv": Format.CSV,
    "text/tab-separated-values": Format.TSV,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": Format.XLSX,
    "application/vnd.ms-excel.sheet.macroenabled.12": Format.XLSX,
    "application/vnd.ms-excel.sheet.binary.macroenabled.12": Format.XLSB,
    "application/vnd.oasis.opendocument.spreadsheet": Format.ODS,
    "application/json": Format.JSON,
    "application/x-ndjson": Format.JSONL,
    "application/jsonl": Format.JSONL,
    "application/x-jsonlines": Format.JSONL,
}
# Binary signatures that are never a table we read, so that e.g. a PDF named .csv gets a clear message.
_FOREIGN = {
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "gzip-compressed data",
    b"Rar!": "a RAR archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"PAR1": "a Parquet file",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP = b"PK\x03\x04"
_ENCRYPTED_OOXML_MARK = "EncryptionInfo".encode("utf-16-le")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _head(source: Path | str | bytes) -> tuple[bytes, Path | None]:
    if isinstance(source, bytes):
        return source[:HEAD_BYTES], None
    path = Path(source)
    with path.open("rb") as f:
        return f.read(HEAD_BYTES), path


def is_encrypted_ooxml(head: bytes) -> bool:
    """An OLE2 container holding an ``EncryptionInfo`` stream is a password-protected XLSX/XLSB/DOCX."""
    return head.startswith(_OLE) and _ENCRYPTED_OOXML_MARK in head


def detect(
    source: Path | str | bytes,
    filename: str | None = None,
    mimetype: str | None = None,
) -> Format:
    """The format of a file, from its content first, then its name, then the declared mimetype (browsers
    send ``application/vnd.ms-excel`` for CSV, so the mimetype is only a last hint).

    ``source`` is a path, or the first bytes of the file (64 KiB are plenty). Raises ``ExtractionError``
    for an empty file and for content that is no table format (binary data, a PDF …), whatever its name."""
    head, path = _head(source)
    name = filename or (path.name if path else "")
    by_name = _EXTENSIONS.get(PurePath(name).suffix.lower())
    by_mime = _MIMETYPES.get((mimetype or "").split(";")[0].strip().lower())
    hint = by_name or by_mime
    if not head.strip(b" \t\r\n\x00") or head in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise ExtractionError(f"{name or 'the file'} is empty")
    if head.startswith(_ZIP):
        return _zip_format(head, path, hint)
    if head.startswith(_OLE):
        # Legacy .xls, or a password-protected OOXML workbook (an encrypted XLSX is an OLE container).
        return hint if hint in (Format.XLSX, Format.XLSB) else Format.XLS
    for magic, what in _FOREIGN.items():
        if head.startswith(magic):
            raise ExtractionError(f"{name or 'the file'} is {what}, not a CSV, Excel or JSON file")
    encoding = sniff_encoding(head, name)
    text = _decode_head(head, encoding).lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return Format.JSON
    if text.startswith("{"):
        if by_name is Format.JSON:
            return Format.JSON
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return Format.JSONL if len(lines) > 1 and lines[1].startswith("{") else (hint or Format.JSON)
    # Named or declared JSON that is no array or object: its reader says what is wrong.
    textual = hint is not None and (hint.is_delimited or hint in (Format.JSON, Format.JSONL))
    return hint if textual and hint is not None else Format.CSV


def _zip_format(head: bytes, path: Path | None, hint: Format | None) -> Format:
    if b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet" in head[:200]:
        return Format.ODS
    if path is not None:
        try:
            with zipfile.ZipFile(path) as z:
                names = set(z.namelist())
        except (zipfile.BadZipFile, OSError):
            names = set()
        if "xl/workbook.bin" in names:
            return Format.XLSB
        if "xl/workbook.xml" in names:
            return Format.XLSX
        if names and "[Content_Types].xml" not in names:
            raise ExtractionError("the file is a ZIP archive, not an Excel workbook")
    return hint if hint is not None and hint.is_spreadsheet else Format.XLSX


def _decode_head(head: bytes, encoding: str) -> str:
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(head, final=False)


_LATIN_SCRIPT = frozenset(
    codecs.lookup(name).name
    for name in (
        "ascii",
        "latin-1",
        "cp1250",
        "cp1252",
        "cp1254",
        "cp1257",
        "cp437",
        "cp775",
        "cp850",
        "cp852",
        "cp858",
        "hp-roman8",
        "iso8859-2",
        "iso8859-3",
        "iso8859-4",
        "iso8859-9",
        "iso8859-10",
        "iso8859-13",
        "iso8859-14",
        "iso8859-15",
        "iso8859-16",
        "mac-roman",
        "mac-iceland",
        "mac-latin2",
    )
)
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")


def _western(sample: bytes) -> str:
    # Windows-1252 leaves five bytes undefined; a sample using them is true Latin-1.
    return "latin-1" if any(b in sample for b in _CP1252_UNDEFINED) else "cp1252"


def sniff_encoding(sample: bytes, name: str = "") -> str:
    """The Python codec of a text sample: a BOM wins (``utf-8-sig``, ``utf-16``); else UTF-8 when the
    sample is valid UTF-8 (a multi-byte character cut at the end of the sample is fine); else what
    charset-normalizer finds (the Latin-1 family is read as Windows-1252, its superset in practice).
    Raises ``ExtractionError`` for binary data."""
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            return encoding
    what = name or "the file"
    if b"\x00" in sample:
        raise ExtractionError(f"{what} contains binary data (NUL bytes), not text")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    best = charset_normalizer.from_bytes(sample).best()
    if best is None:
        raise ExtractionError(f"{what} is not text in any known encoding (binary data?)")
    encoding = codecs.lookup(best.encoding).name
    controls = sum(1 for ch in str(best) if ord(ch) < 32 and ch not in "\t\r\n")
    if controls * 100 > max(len(sample), 1):
        raise ExtractionError(f"{what} contains binary data, not text")
    if encoding in _LATIN_SCRIPT:
        # On a small sample charset-normalizer cannot tell the Latin-script code pages apart (it says
        # cp1250 for French); Windows-1252 is by far the most common, so it wins whenever it fits.
        return _western(sample)
    return encoding
