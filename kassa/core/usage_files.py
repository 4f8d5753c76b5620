"""Usage event files, record by record: NDJSON (one event object per line) or CSV (a header row; columns
id, metric, subscription_id, external_customer_id, timestamp, and every other column a property —
`properties.region` or plain `region`; an empty cell is an absent property). Pure: the caller reads the
file and streams its lines through here, so a file of any size is never held in memory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from kassa.core.errors import DomainError

FIELDS = ("id", "metric", "subscription_id", "external_customer_id", "timestamp")


def ndjson_record(line: str) -> dict[str, Any] | None:
    """The event on one NDJSON line (None for a blank line). Numbers are read exactly."""
    text = line.strip()
    if not text:
        return None
    try:
        record = json.loads(text, parse_float=Decimal)
    except (ValueError, RecursionError) as error:
        raise DomainError("invalid_json", f"Not a JSON object: {error}.") from None
    if not isinstance(record, dict):
        raise DomainError("invalid_usage_event", "Each line is one usage event object.")
    return record


def csv_header(row: Sequence[str]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in row)
    missing = [name for name in ("id", "metric", "timestamp") if name not in names]
    if missing:
        raise DomainError("invalid_csv", f"The header needs the column {missing[0]!r}.", missing[0])
    if len(set(names)) != len(names):
        raise DomainError("invalid_csv", "A column name appears twice in the header.")
    return names


def csv_record(header: Sequence[str], row: Sequence[str]) -> dict[str, Any] | None:
    if not any(cell.strip() for cell in row):
        return None
    if len(row) != len(header):
        raise DomainError("invalid_csv", f"Expected {len(header)} cells, found {len(row)}.")
    record: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for name, cell in zip(header, row, strict=True):
        if cell == "":
            continue
        if name in FIELDS:
            record[name] = cell
        else:
            properties[name.removeprefix("properties.")] = cell
    record["properties"] = properties
    return record
