"""`FileBankReader`: the bank-file port over CAMT.053, MT940, OFX and CSV.

One parse function per format, registered in `PARSERS` (kassa's "strategies" rule). Each returns
every statement of the file; statements of one account and currency (an MT940 file of daily
statements, a statement split in pages) are joined into one, first opening to last closing balance.
A file holding several accounts or currencies is read whole by `read_all`; `read`, the port, refuses
it rather than pick one. Lines come back keyed (`kassa.core.statements.keyed`), so importing a file
twice adds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from kassa.adapters.bank_files import camt053, csv, mt940, ofx
from kassa.adapters.bank_files.base import CsvMapping
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, keyed

__all__ = ["MAX_BYTES", "PARSERS", "FileBankReader", "detect_format"]

MAX_BYTES = 10 * 1024 * 1024  # a year of a busy account's statements is well under this

Parse = Callable[[bytes, CsvMapping | None], tuple[BankStatement, ...]]

PARSERS: dict[StatementFormat, Parse] = {
    StatementFormat.CAMT053: camt053.parse,
    StatementFormat.MT940: mt940.parse,
    StatementFormat.OFX: ofx.parse,
    StatementFormat.CSV: csv.parse,
}

_SNIFF = 8192
_LEADING = b"\xef\xbb\xbf \t\r\n"
_MT940_START = re.compile(rb"(?m)^:20:")
_MT940_TAG = re.compile(rb"(?m)^:(?:25|28C?|60[FM]?|61):")


def detect_format(content: bytes) -> StatementFormat | None:
    """The format the file's first bytes show; None for anything else (a CSV, or unknown)."""
    head = content[:_SNIFF].lstrip(_LEADING)
    if head.startswith((b"OFXHEADER", b"<OFX")):
        return StatementFormat.OFX
    if head.startswith(b"<"):
        if b"<?OFX" in head or b"<OFX>" in head:
            return StatementFormat.OFX
        if b"camt.053" in head or b"BkToCstmrStmt" in head:
            return StatementFormat.CAMT053
        return None
    if _MT940_START.search(head) and _MT940_TAG.search(head):
        return StatementFormat.MT940
    return None


class FileBankReader:
    """`BankFileReader` for files held in memory (an upload, a file fetched from the bank)."""

    def __init__(self, *, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def read(
        self,
        content: bytes,
        *,
        format: StatementFormat | None = None,
        mapping: CsvMapping | None = None,
    ) -> BankStatement:
        statements = self.read_all(content, format=format, mapping=mapping)
        if len(statements) > 1:
            shown = ", ".join(f"{s.account or 'no account'} in {s.currency}" for s in statements[:5])
            more = f" and {len(statements) - 5} more" if len(statements) > 5 else ""
            raise BankFileError(
                f"The file holds {len(statements)} accounts or currencies ({shown}{more}); "
                "import them one by one (read_all gives each).",
                None,
            )
        return statements[0]

    def read_all(
        self,
        content: bytes,
        *,
        format: StatementFormat | None = None,
        mapping: CsvMapping | None = None,
    ) -> tuple[BankStatement, ...]:
        """One keyed statement per account and currency in the file, in the order they first appear."""
        if not isinstance(content, bytes):
            raise BankFileError("A bank file is read as bytes.", None)
        if len(content) > self.max_bytes:
            raise BankFileError(
                f"The file has {len(content)} bytes; at most {self.max_bytes} are read. Split it by period.",
                None,
            )
        if not content.strip():
            raise BankFileError("The file is empty.", None)
        parse = PARSERS[self._format(content, format, mapping)]
        return tuple(keyed(statement) for statement in merged(parse(content, mapping)))

    @staticmethod
    def _format(
        content: bytes, format: StatementFormat | None, mapping: CsvMapping | None
    ) -> StatementFormat:
        if format is not None:
            try:
                return StatementFormat(format)
            except ValueError:
                known = ", ".join(f.value for f in StatementFormat)
                raise BankFileError(
                    f"Unknown format {str(format)[:20]!r}; one of {known}.", "format"
                ) from None
        detected = detect_format(content)
        if detected is not None:
            return detected
        if content.lstrip(_LEADING).startswith(b"<"):
            raise BankFileError("An XML file that is neither a camt.053 statement nor OFX.", "line 1")
        if mapping is None:
            raise BankFileError(
                "Not a CAMT.053, MT940 or OFX file; if it is a CSV export, give its column mapping.", None
            )
        return StatementFormat.CSV


def merged(statements: Sequence[BankStatement]) -> tuple[BankStatement, ...]:
    """Statements of the same account and currency joined, in file order."""
    groups: dict[tuple[str | None, str], list[BankStatement]] = {}
    for statement in statements:
        groups.setdefault((statement.account, statement.currency), []).append(statement)
    joined: list[BankStatement] = []
    for (account, currency), group in groups.items():
        if len(group) == 1:
            joined.append(group[0])
            continue
        first, last = group[0], group[-1]
        ids = list(dict.fromkeys(s.statement_id for s in group if s.statement_id))
        joined.append(
            BankStatement(
                format=first.format,
                account=account,
                currency=currency,
                statement_id=", ".join(ids) or None,
                opening_balance=first.opening_balance,
                closing_balance=last.closing_balance,
                opened_on=first.opened_on,
                closed_on=last.closed_on,
                lines=tuple(line for statement in group for line in statement.lines),
            )
        )
    return tuple(joined)
