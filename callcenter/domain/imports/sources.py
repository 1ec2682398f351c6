"""Reading a tabular file as a stream of rows, whatever French tools produced.

CSV: separator detected from the header line (``;``, ``,``, tab or ``|``); UTF-8 (with or
without BOM), Windows-1252, ISO-8859-15 or CP850 (DOS accounting software) detected from the
bytes, a file mixing UTF-8 with another encoding refused with its line; any line ending
(including ``\\r\\r\\n`` and the carriage return alone of old Mac exports); a NUL byte
anywhere is refused with its line. XLSX: the sheet asked for, else the first one holding data,
streamed by openpyxl in read-only mode whatever dimension the sheet declares.
A file that is not what it claims (binary, truncated, empty, unreadable characters) is refused
with a French message, never a traceback.
"""

from __future__ import annotations

import csv
import errno
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

from callcenter.domain.errors import DomainError

SAMPLE_BYTES = 256 * 1024
MAX_DECLARED_ROWS = 1_048_576  # a sheet's own claim, used only to show progress
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


SINGLE_BYTE_ENCODINGS = ("cp1252", "iso-8859-15", "cp850")
ENCODING_NAMES = {
    "utf-8-sig": "UTF-8 avec BOM",
    "utf-8": "UTF-8",
    "cp1252": "Windows-1252",
    "iso-8859-15": "ISO-8859-15",
    "cp850": "CP850 (DOS)",
}
FRENCH_LETTERS = frozenset("àâäçéèêëîïôöùûüÿœæÀÂÄÇÉÈÊËÎÏÔÖÙÛÜŸŒÆ")
COMMON_SIGNS = frozenset("€’‘“”«»–—…°•§²³©®™£µ\u00a0")
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}")


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
def open_table(
    path: Path, *, separators: tuple[str, ...] = SEPARATORS, sheet: str | None = None
) -> Iterator[Table]:
    """The file as a table; ``sheet`` names the sheet of a workbook to read (else the first
    that holds data)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(SAMPLE_BYTES)
    except OSError as error:
        raise _unreadable_file(error) from None
    if not head.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileRefused("Le fichier est vide.")
    if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
        with _open_xlsx(path, sheet) as table:
            yield table
        return
    for signature, message in _SIGNATURES:
        if head.startswith(signature):
            raise FileRefused(message)
    newline = "\r" if b"\r" in head and b"\n" not in head else "\n"
    if (nul := head.find(b"\x00")) >= 0:
        raise _nul_byte(head.count(newline.encode(), 0, nul) + 1)
    encoding = detect_encoding(head, complete=size <= SAMPLE_BYTES, newline=newline.encode())
    with path.open("rb") as binary:
        text = io.TextIOWrapper(binary, encoding=encoding, newline=newline)
        yield _csv_table(_checked_lines(text, encoding), binary, size, encoding, separators)


OS_ERRORS = {
    errno.ENOENT: "fichier introuvable",
    errno.EACCES: "accès refusé par le système",
    errno.EPERM: "accès refusé par le système",
    errno.EISDIR: "c'est un dossier, pas un fichier",
}


def _unreadable_file(error: OSError) -> FileRefused:
    """The refusal for a file the system cannot open, in French (``strerror`` is English)."""
    why = OS_ERRORS.get(error.errno or 0, "erreur de lecture du disque")
    return FileRefused(f"Fichier illisible : {why}.")


def _nul_byte(line: int) -> FileRefused:
    return FileRefused(
        f"Fichier binaire ou endommagé : caractère nul (octet 0x00) ligne {line} ; attendu un "
        "fichier CSV (texte) ou un classeur XLSX."
    )


def _checked_lines(text, encoding: str) -> Iterator[str]:
    """The file's physical lines; a NUL byte, wherever it is, refuses the file (it would end
    up in a name or break the database), and so does a UTF-8 line in a file read in a
    single-byte encoding (it would be stored as « Ã© »)."""
    single_byte = encoding in SINGLE_BYTE_ENCODINGS
    for line, raw in enumerate(text, start=1):
        if "\x00" in raw:
            raise _nul_byte(line)
        if single_byte and not raw.isascii() and _UTF8_SEQUENCE.search(raw.encode(encoding)):
            raise _mixed(line)
        yield raw


def detect_encoding(head: bytes, *, complete: bool, newline: bytes = b"\n") -> str:
    """UTF-8 (with or without BOM) when the bytes decode as such. Otherwise the single-byte
    encoding that reads the most French letters and the fewest improbable characters
    (``‚`` or box drawing are what a CP850 « é » looks like elsewhere); ties go to
    Windows-1252. A sample holding UTF-8 sequences that does not decode as UTF-8 mixes
    encodings, and one with more improbable characters than French letters is unknown:
    both are refused rather than stored as mojibake."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as error:
        if not complete and error.start >= len(head) - 3:
            return "utf-8"
        if _UTF8_SEQUENCE.search(head):
            raise _mixed(head.count(newline, 0, error.start) + 1) from None
    high = {byte: head.count(byte) for byte in set(head) if byte >= 0x80}
    best: tuple[int, int, int] | None = None
    chosen = ""
    for rank, encoding in enumerate(SINGLE_BYTE_ENCODINGS):
        french = odd = 0
        try:
            for byte, count in high.items():
                character = bytes([byte]).decode(encoding)
                if character in FRENCH_LETTERS:
                    french += count
                elif not (character in COMMON_SIGNS or _is_latin_letter(character)):
                    odd += count
        except UnicodeDecodeError:
            continue
        score = (french - 3 * odd, -rank, odd - french)
        if best is None or score > best:
            best, chosen = score, encoding
    if best is None or best[2] > 0:
        raise FileRefused(
            "Encodage non reconnu : enregistrez le fichier en CSV UTF-8 (ou Windows-1252, "
            "ISO-8859-15, CP850)."
        )
    return chosen


def _is_latin_letter(character: str) -> bool:
    """An accented Latin letter of another language (ø, ñ, ß…): neither French nor odd."""
    return "\u00c0" <= character <= "\u017f" and character.isalpha()


def _mixed(line: int) -> FileRefused:
    return FileRefused(
        f"Ligne {line} : encodages mélangés (UTF-8 et un autre encodage) dans le même fichier ; "
        "enregistrez le fichier entier en CSV UTF-8."
    )


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

    return Table(
        header=header,
        header_line=header_line,
        rows=rows,
        progress=lambda: (binary.tell(), size),
        description=(
            f"CSV, encodage {ENCODING_NAMES[encoding]}, séparateur {SEPARATOR_NAMES[separator]}"
        ),
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
    try:
        header = [cell.strip() for cell in next(csv.reader([first], delimiter=separator))]
    except csv.Error as error:
        raise _malformed(header_line, error) from None
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
            raise _malformed(header_line + reader.line_num, error) from None

    return header, rows()


def _malformed(line: int, error: csv.Error) -> FileRefused:
    """The refusal for what Python's csv module raised, said in French."""
    text = str(error)
    if "field limit" in text:
        why = f"un champ dépasse {csv.field_size_limit():_} caractères".replace("_", "\u202f")
    elif "new-line" in text:
        why = "retour à la ligne (CR) isolé dans un champ sans guillemets"
    elif "expected after" in text:
        why = "caractère après le guillemet fermant un champ"
    elif "end of data" in text or "EOF" in text:
        why = "guillemet ouvert jamais refermé"
    elif "NUL" in text:
        why = "caractère nul (octet 0x00)"
    else:
        why = "structure de ligne illisible"
    return FileRefused(
        f"Ligne {line} : CSV mal formé ({why}) ; vérifiez les guillemets et les séparateurs de "
        "cette ligne, ou enregistrez à nouveau le fichier en CSV depuis votre tableur."
    )


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


def _first_row(values: Iterator[tuple], position: list[int]) -> list[str]:
    """The first row holding a value, as header titles (``[]`` when the sheet is empty);
    ``position`` counts the rows read."""
    for cells in values:
        position[0] += 1
        if any(cell not in (None, "") for cell in cells):
            return ["" if cell is None else str(cell).strip() for cell in cells]
    return []


def _sheet_names(sheets: list) -> str:
    return ", ".join(f"« {sheet.title} »" for sheet in sheets)


@contextmanager
def _open_xlsx(path: Path, wanted: str | None = None) -> Iterator[Table]:
    """The sheet named ``wanted``, else the first one holding data, read as it streams: a
    broken zip, XML or cell, whenever openpyxl meets it (opening, first rows or any later
    row), is a French refusal, never a traceback. The dimension a sheet declares is ignored:
    rows past it are read, not dropped, and a sheet claiming 1 048 576 × 16 384 cells costs
    only the cells it holds."""
    from openpyxl import load_workbook

    try:
        # Opened through a handle: openpyxl refuses a path whose suffix is not .xlsx (an Excel
        # workbook saved as « clients.csv » was « endommagé »), it reads the bytes all the same.
        handle = path.open("rb")
    except OSError as error:
        raise _unreadable_file(error) from None
    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a broken zip or XML
        handle.close()
        raise FileRefused(XLSX_BROKEN) from None
    try:
        sheets = list(workbook.worksheets)
        if not sheets:
            raise FileRefused("Le classeur ne contient aucune feuille.")
        candidates = sheets
        if wanted is not None:
            candidates = [
                s for s in sheets if s.title.strip().casefold() == wanted.strip().casefold()
            ]
            if not candidates:
                raise FileRefused(
                    f"Feuille « {wanted} » introuvable dans le classeur ; ses feuilles sont "
                    f"{_sheet_names(sheets)}."
                )
        sheet = None
        header: list[str] = []
        position = [0]
        for candidate in candidates:
            declared_rows = candidate.max_row or 0
            candidate.reset_dimensions()
            position = [0]
            try:
                values = candidate.iter_rows(values_only=True)
                header = _first_row(values, position)
            except Exception as error:  # as above: the sheet's XML is parsed as it is read
                raise _unreadable_xlsx(error, candidate.title) from None
            if header:
                sheet = candidate
                break
        if sheet is None:
            if wanted is not None:
                raise FileRefused(f"La feuille « {candidates[0].title} » est vide.")
            raise FileRefused("Le classeur est vide.")
        header_line = position[0]
        total = min(declared_rows, MAX_DECLARED_ROWS)
        others = [s for s in sheets[sheets.index(sheet) + 1 :] if wanted is None and _has_data(s)]

        def rows() -> Iterator[tuple[int, list[Any]]]:
            try:
                for cells in values:
                    position[0] += 1
                    if any(cell not in (None, "") for cell in cells):
                        yield position[0], [_cell_text(cell) for cell in cells]
            except Exception as error:  # as above
                raise _unreadable_xlsx(error, sheet.title) from None

        description = f"classeur XLSX, feuille « {sheet.title} »"
        if path.suffix.lower() not in (".xlsx", ".xlsm"):
            description += (
                f" (fichier Excel (xlsx) nommé {path.suffix or 'sans extension'}, lu comme "
                "un classeur)"
            )
        if others:
            description += (
                f" ; les feuilles {_sheet_names(others)} contiennent aussi des données et ne "
                "sont pas lues (importez-les en choisissant la feuille)"
            )
        yield Table(
            header=header,
            header_line=header_line,
            rows=rows(),
            progress=lambda: (position[0], max(total, position[0])),
            description=description,
        )
    finally:
        workbook.close()
        handle.close()


def _has_data(sheet) -> bool:
    """Whether a sheet holds any value (a broken sheet that is not read counts as empty)."""
    sheet.reset_dimensions()
    try:
        return bool(_first_row(sheet.iter_rows(values_only=True), [0]))
    except Exception:  # a sheet that is not imported may be broken: it is only mentioned
        return False
