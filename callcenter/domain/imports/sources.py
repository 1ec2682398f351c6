"""Reading a tabular file as a stream of rows, whatever French tools produced.

CSV: separator detected from the header line (``;``, ``,``, tab or ``|``), UTF-8, UTF-8 with
BOM or Windows-1252 detected, any line ending (including ``\\r\\r\\n`` and the carriage return
alone of old Mac exports); a NUL byte anywhere is refused with its line. XLSX: first sheet,
streamed by openpyxl in read-only mode. A file that is not what it claims (binary, truncated,
empty, unreadable characters) is refused with a French message, never a traceback.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from callcenter.domain.errors import DomainError

SAMPLE_BYTES = 256 * 1024
SEPARATORS = (";", ",", "\t", "|")
SEPARATOR_NAMES = {";": "point-virgule", ",": "virgule", "\t": "tabulation", "|": "barre verticale"}
_SIGNATURES = (
    (
        b"\xd0\xcf\x11\xe0",
        "Format Excel 97-2003 (XLS) non pris en charge : enregistrez le "
        "classeur au format XLSX ou CSV.",
    ),
    (b"%PDF", "Ce fichier est un PDF, pas un tableau : exportez les données en CSV ou XLSX."),
    (b"\xff\xfe", "Fichier encodé en UTF-16 : enregistrez-le en CSV UTF-8."),
    (b"\xfe\xff", "Fichier encodé en UTF-16 : enregistrez-le en CSV UTF-8."),
)


class FileRefused(DomainError):
    """The file as a whole cannot be read; the message is French."""


@dataclass
class Table:
    """A header and its rows, each row as ``(line number, cells)``."""

    header: list[str]
    header_line: int
    rows: Iterator[tuple[int, list[Any]]]
    progress: Callable[[], tuple[int, int]]
    description: str


@contextmanager
def open_table(path: Path, *, separators: tuple[str, ...] = SEPARATORS) -> Iterator[Table]:
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as error:
        raise FileRefused(f"Fichier illisible : {error.strerror or error}.") from None
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileRefused("Le fichier est vide.")
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        with _open_xlsx(path, head) as table:
            yield table
        return
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise FileRefused(message)
    newline = "\r" if b"\r" in head and b"\n" not in head else "\n"
    if (nul := head.find(b"\x00")) >= 0:
        raise _nul_byte(head.count(newline.encode(), 0, nul) + 1)
    encoding = detect_encoding(head, complete=size <= SAMPLE_BYTES)
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline=newline)
        yield _csv_table(_checked_lines(text), binary, size, encoding, separators)


def _nul_byte(line: int) -> FileRefused:
    return FileRefused(
        f"Fichier binaire ou endommagé : caractère nul (octet 0x00) ligne {line} ; attendu un "
        "fichier CSV (texte) ou un classeur XLSX."
    )


def _checked_lines(text) -> Iterator[str]:
    """The file's physical lines; a NUL byte, wherever it is, refuses the file (it would end
    up in a name or break the database)."""
    for line, raw in enumerate(text, start=1):
        if "\x00" in raw:
            raise _nul_byte(line)
        yield raw


def detect_encoding(head: bytes, *, complete: bool) -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such, else Windows-1252."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if not complete and error.start >= len(head) - 3:
            return "utf-8"
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        raise FileRefused(
            "Encodage non reconnu : enregistrez le fichier en CSV UTF-8 ou Windows-1252."
        ) from None
    return "cp1252"


def _csv_table(
    text: Iterator[str], binary, size: int, encoding: str, separators: tuple[str, ...]
) -> Table:
    line_number = 0
    first = ""
    try:
        while not first.strip():
            first = next(text, "")
            line_number += 1
            if not first:
                raise FileRefused("Le fichier ne contient aucune ligne.")
    except UnicodeDecodeError:
        raise _unreadable(1, encoding) from None
    counts = {sep: first.count(sep) for sep in separators}
    separator = max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else separators[0]
    if separator in ("\t", "|"):
        header, rows = _plain_rows(first, text, separator, line_number, encoding)
    else:
        header, rows = _quoted_rows(first, text, separator, line_number, encoding)
    header_line = line_number

    name = {"utf-8-sig": "UTF-8 avec BOM", "utf-8": "UTF-8", "cp1252": "Windows-1252"}[encoding]
    return Table(
        header=header,
        header_line=header_line,
        rows=rows,
        progress=lambda: (binary.tell(), size),
        description=f"CSV {name}, séparateur {SEPARATOR_NAMES[separator]}",
    )


def _plain_rows(first: str, text, separator: str, header_line: int, encoding: str):
    """Unquoted fields (the FEC): one physical line per row, whatever its ending."""
    header = [cell.strip() for cell in first.rstrip("\r\n").split(separator)]

    def rows() -> Iterator[tuple[int, list[Any]]]:
        line = header_line
        try:
            for raw in text:
                line += 1
                cells = raw.rstrip("\r\n").split(separator)
                if any(cells):
                    yield line, cells
        except UnicodeDecodeError:
            raise _unreadable(line + 1, encoding) from None

    return header, rows()


def _quoted_rows(first: str, text, separator: str, header_line: int, encoding: str):
    """CSV with optional double quotes (a field may hold the separator or a line break)."""
    header = [cell.strip() for cell in next(csv.reader([first], delimiter=separator))]
    reader = csv.reader(text, delimiter=separator)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        """Each record with the line it starts on (a quoted line break spans several)."""
        ended = 0
        try:
            for cells in reader:
                starts, ended = ended + 1, reader.line_num
                if cells and any(cells):
                    yield header_line + starts, cells
        except UnicodeDecodeError:
            raise _unreadable(header_line + reader.line_num + 1, encoding) from None
        except csv.Error as error:
            raise FileRefused(
                f"Ligne {header_line + reader.line_num} : CSV mal formé ({error})."
            ) from None

    return header, rows()


def _unreadable(line: int, encoding: str) -> FileRefused:
    return FileRefused(
        f"Ligne {line} : caractères illisibles pour l'encodage détecté ({encoding}) ; "
        "enregistrez le fichier en CSV UTF-8."
    )


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV would hold (dates in ISO, numbers with a dot)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(round(value, 6))
    return str(value)


XLSX_ADVICE = "ouvrez-le dans votre tableur et enregistrez-le à nouveau, ou exportez-le en CSV."
XLSX_BROKEN = f"Fichier Excel illisible : fichier tronqué ou endommagé ; {XLSX_ADVICE}"
XLSX_BAD_XML = (
    "Fichier Excel illisible : le contenu XML de la feuille « {sheet} » est invalide "
    "(entité inconnue, balise non fermée…) ; " + XLSX_ADVICE
)


def _unreadable_xlsx(error: Exception, sheet: str) -> FileRefused:
    """The refusal for what openpyxl raised while reading the sheet."""
    if isinstance(error, ParseError):
        return FileRefused(XLSX_BAD_XML.format(sheet=sheet))
    return FileRefused(XLSX_BROKEN)


@contextmanager
def _open_xlsx(path: Path, head: bytes) -> Iterator[Table]:
    """The first sheet, read as it streams: a broken zip, XML or cell, whenever openpyxl
    meets it (opening, first rows or any later row), is a French refusal, never a traceback."""
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a broken zip or XML
        raise FileRefused(XLSX_BROKEN) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise FileRefused("Le classeur ne contient aucune feuille.")
        position = [0]
        header: list[str] = []
        try:
            total = sheet.max_row or 0
            values = sheet.iter_rows(values_only=True)
            for cells in values:
                position[0] += 1
                if any(cell not in (None, "") for cell in cells):
                    header = ["" if cell is None else str(cell).strip() for cell in cells]
                    break
        except Exception as error:  # as above: the sheet's XML is parsed as it is read
            raise _unreadable_xlsx(error, sheet.title) from None
        if not header:
            raise FileRefused("Le classeur est vide.")
        header_line = position[0]

        def rows() -> Iterator[tuple[int, list[Any]]]:
            try:
                for cells in values:
                    position[0] += 1
                    if any(cell not in (None, "") for cell in cells):
                        yield position[0], [_cell_text(cell) for cell in cells]
            except Exception as error:  # as above
                raise _unreadable_xlsx(error, sheet.title) from None

        yield Table(
            header=header,
            header_line=header_line,
            rows=rows(),
            progress=lambda: (position[0], max(total, position[0])),
            description=f"classeur XLSX, feuille « {sheet.title} »",
        )
    finally:
        workbook.close()
