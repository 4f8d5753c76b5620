"""A usage event file uploaded in the console (NDJSON or CSV, the formats of `kassa usage import`), streamed
from a binary file into services.metering.import_usage: batches of 10,000, each stored exactly once in its
own transaction, so an upload cut short can be sent again and what was stored counts as duplicates."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from typing import IO, Any

from kassa.core.audit import Actor
from kassa.core.errors import DomainError
from kassa.core.usage_files import csv_header, csv_record, ndjson_record
from kassa.services import metering
from kassa.services.context import ServiceContext
from kassa.services.metering import Imported

KINDS = ("ndjson", "csv")


def kind_of(filename: str | None, chosen: str | None) -> str:
    """The file's format: as chosen, else from its name (.csv is CSV, anything else NDJSON)."""
    if chosen:
        if chosen not in KINDS:
            raise DomainError("invalid_format", "The format is ndjson or csv.", "format")
        return chosen
    return "csv" if (filename or "").lower().endswith(".csv") else "ndjson"


def _lines(handle: IO[bytes]) -> Iterator[str]:
    """The file's lines from the start, decoded one by one (a text wrapper would close the file when it
    is dropped, and the file is read twice: counted, then imported)."""
    handle.seek(0)
    for number, raw in enumerate(handle, start=1):
        try:
            # utf-8-sig on the first line: spreadsheets put a byte order mark before a CSV's header
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise DomainError(
                "invalid_encoding", f"The file is not UTF-8 text (line {number}).", "file"
            ) from None


def count_rows(handle: IO[bytes], kind: str) -> int:
    """How many records the file has at most (non-blank lines; the CSV header not counted): the total a
    progress bar fills towards. A CSV cell with a line break makes this an upper bound. Checked before the
    import starts: the file is UTF-8 text and a CSV's header names the needed columns."""
    if kind == "csv":
        csv_header(next(csv.reader(_lines(handle)), []))
    rows = sum(1 for line in _lines(handle) if line.strip())
    if rows == 0:
        raise DomainError("empty_file", "The file has no usage events.", "file")
    return max(rows - 1, 0) if kind == "csv" else rows


def records(handle: IO[bytes], kind: str) -> Iterator[tuple[int, dict[str, Any] | DomainError]]:
    """(line number, record or the error in it), streamed from the file."""
    if kind == "ndjson":
        for number, line in enumerate(_lines(handle), start=1):
            try:
                record = ndjson_record(line)
            except DomainError as error:
                yield number, error
                continue
            if record is not None:
                yield number, record
        return
    reader = csv.reader(_lines(handle))
    header = csv_header(next(reader, []))
    for row in reader:
        try:
            found = csv_record(header, row)
        except DomainError as error:
            yield reader.line_num, error
            continue
        if found is not None:
            yield reader.line_num, found


def import_usage_file(ctx: ServiceContext, actor: Actor, handle: IO[bytes], kind: str,
                      progress: Callable[[Imported], None]) -> Imported:  # fmt: skip
    """Store the file's usage events; `progress` sees the counts after each batch. A file that is not
    UTF-8, or a CSV without the needed header, raises DomainError (batches before it stay stored)."""
    if kind not in KINDS:
        raise DomainError("invalid_format", "The format is ndjson or csv.", "format")
    return metering.import_usage(ctx, actor, records(handle, kind), progress)
