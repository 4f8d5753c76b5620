"""Usage events: exactly-once insertion and set-based aggregation.

Aggregation takes many windows at once — (subscription, metric, [start, end)) — as one JSON parameter the
database expands into rows (jsonb_to_recordset on PostgreSQL, json_each on SQLite), and answers each
aggregation kind with one GROUP BY over the join: no query per subscription. It computes what
core.metering.aggregate() computes in memory; a differential test holds them equal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from kassa.core.metering import Aggregation, BillableMetric, unit_hours
from kassa.store.tables import usage_events

_EXACT = Context(prec=60)  # wide enough for level × seconds of any accepted level
COLUMNS = ("tenant_id", "id", "customer_id", "subscription_id", "metric", "timestamp", "received_at", "value",
           "unique_key", "group_key", "counted", "late", "properties")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    key: int
    subscription_id: str
    metric: str
    start: datetime
    end: datetime
    # late events count only when received before this instant (None: not at all); on-time events always
    late_before: datetime | None = None


_FROM_STAGING = (
    f"INSERT INTO usage_events ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM usage_staging "  # noqa: S608
    "ORDER BY id ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id"
)
_SQLITE_INSERT = f"INSERT INTO usage_events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608
COPY_FROM = 200  # rows: below this, a multi-row INSERT is as quick as the staging round trip
Quantities = dict[int, dict[str, Decimal]]  # window key → group → quantity


def _stamp(instant: datetime | None, dialect: str) -> str | None:
    if instant is None:
        return None
    instant = instant.astimezone(UTC)
    if dialect == "sqlite":  # the stored text form of UTCDateTime
        return instant.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return instant.isoformat()


def _parse_stamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _seconds(span: timedelta) -> Decimal:
    return Decimal(span.days * 86400 + span.seconds) + Decimal(span.microseconds).scaleb(-6)


class UsageEvents:
    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # ---- writing

    def insert(self, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Insert the rows (properties as JSON text) whose id is new for the tenant; the ids inserted. A concurrent sender of
        the same id waits on the primary key and then finds it taken: counted once."""
        if not rows:
            return set()
        # in id order, so concurrent batches with overlapping ids take the key locks in one order (no deadlock)
        rows = sorted(({**row, "tenant_id": tenant_id} for row in rows), key=lambda row: row["id"])
        if self.dialect == "postgresql" and len(rows) >= COPY_FROM:
            return self._copy_insert(rows)
        if self.dialect == "sqlite":
            return self._sqlite_insert(tenant_id, rows)
        rows = [{**row, "properties": json.loads(row["properties"])} for row in rows]  # the JSON type encodes
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        statement = (
            dialect_insert(usage_events)
            .on_conflict_do_nothing(index_elements=["tenant_id", "id"])
            .returning(usage_events.c.id)
        )
        result = self.conn.execute(statement, list(rows))
        return {row[0] for row in result}

    def _copy_insert(self, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """PostgreSQL: COPY into a session's staging table, then one INSERT … ON CONFLICT DO NOTHING from it —
        several times faster than multi-row INSERTs, with the same exactly-once guarantee."""
        raw = self.conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS usage_staging (LIKE usage_events INCLUDING DEFAULTS) "
                "ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY usage_staging ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[name] for name in COLUMNS])
            cursor.execute(_FROM_STAGING)
            inserted = {row[0] for row in cursor.fetchall()}
            cursor.execute("DELETE FROM usage_staging")
        return inserted

    def _sqlite_insert(self, tenant_id: str, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """SQLite: a writer holds the database's write lock from BEGIN IMMEDIATE, so looking up the ids
        first and inserting the new ones is as safe as ON CONFLICT — and the driver's executemany skips
        SQLAlchemy's per-row parameter processing, the bulk of the cost."""
        seen = self.existing(tenant_id, (row["id"] for row in rows))
        fresh = [row for row in rows if row["id"] not in seen]
        raw = self.conn.connection.driver_connection
        assert raw is not None
        raw.executemany(_SQLITE_INSERT, [
            (row["tenant_id"], row["id"], row["customer_id"], row["subscription_id"], row["metric"],
             _stamp(row["timestamp"], "sqlite"), _stamp(row["received_at"], "sqlite"),
             None if row["value"] is None else format(row["value"], "f"), row["unique_key"], row["group_key"],
             int(row["counted"]), int(row["late"]), row["properties"])
            for row in fresh
        ])  # fmt: skip
        return {row["id"] for row in fresh}

    def existing(self, tenant_id: str, ids: Iterable[str]) -> set[str]:
        wanted = list(ids)
        if not wanted:
            return set()
        query = sa.select(usage_events.c.id).where(usage_events.c.tenant_id == tenant_id,
                                                   usage_events.c.id.in_(wanted))  # fmt: skip
        return set(self.conn.execute(query).scalars())

    def get(self, tenant_id: str, event_id: str) -> sa.Row[Any] | None:
        query = sa.select(usage_events).where(
            usage_events.c.tenant_id == tenant_id, usage_events.c.id == event_id
        )
        return self.conn.execute(query).first()

    def count(self, tenant_id: str) -> int:
        query = (
            sa.select(sa.func.count()).select_from(usage_events).where(usage_events.c.tenant_id == tenant_id)
        )
        return int(self.conn.execute(query).scalar_one())

    def late_periods(
        self, tenant_id: str, subscription_id: str, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """(metric, event timestamp) of late events received in [start, end): which earlier periods owe a
        late-usage line in this one."""
        c = usage_events.c
        query = sa.select(c.metric, c.timestamp).where(
            c.tenant_id == tenant_id, c.subscription_id == subscription_id, c.late.is_(True),
            c.received_at >= start, c.received_at < end,
        )  # fmt: skip
        return [(row.metric, row.timestamp) for row in self.conn.execute(query)]

    # ---- aggregation

    def _with_windows(self, windows: Sequence[Window]) -> tuple[str, dict[str, Any]]:
        rows = [
            {"k": w.key, "sub": w.subscription_id, "metric": w.metric, "s": _stamp(w.start, self.dialect),
             "e": _stamp(w.end, self.dialect), "lb": _stamp(w.late_before, self.dialect)}
            for w in windows
        ]  # fmt: skip
        if self.dialect == "postgresql":
            cte = ("w AS (SELECT * FROM jsonb_to_recordset(CAST(:windows AS jsonb)) "
                   "AS x(k int, sub text, metric text, s timestamptz, e timestamptz, lb timestamptz))")  # fmt: skip
        else:
            cte = ("w AS (SELECT json_extract(value, '$.k') AS k, json_extract(value, '$.sub') AS sub, "
                   "json_extract(value, '$.metric') AS metric, json_extract(value, '$.s') AS s, "
                   "json_extract(value, '$.e') AS e, json_extract(value, '$.lb') AS lb FROM json_each(:windows))")  # fmt: skip
        return cte, {"windows": json.dumps(rows)}

    @property
    def _id_order(self) -> str:
        """Ties on a timestamp go by id in code-point order, as in the oracle and on SQLite, whatever the
        PostgreSQL database's collation."""
        return 'ev.id COLLATE "C"' if self.dialect == "postgresql" else "ev.id"

    @staticmethod
    def _join(inside: bool = True) -> str:
        when = "ev.timestamp >= w.s AND ev.timestamp < w.e" if inside else "ev.timestamp < w.s"
        return (
            "FROM w JOIN usage_events ev ON ev.tenant_id = :tenant AND ev.subscription_id = w.sub "
            f"AND ev.metric = w.metric AND {when} AND ev.counted "
            "AND (NOT ev.late OR ev.received_at < w.lb)"
        )

    def _run(self, sql: str, tenant_id: str, windows: Sequence[Window]) -> list[Any]:
        # Only constant fragments of this module are interpolated; every value is a bound parameter. A query
        # that opens with its own `q AS (...)` continues the WITH list; any other follows it.
        cte, params = self._with_windows(windows)
        return list(self.conn.execute(sa.text(f"WITH {cte}, {sql}" if sql.startswith("q AS") else f"WITH {cte} {sql}"),
                                      {"tenant": tenant_id, **params}))  # fmt: skip

    def aggregate(
        self, tenant_id: str, metrics: Mapping[str, BillableMetric], windows: Sequence[Window]
    ) -> Quantities:
        """Each window's quantity per group, as core.metering.aggregate() defines it."""
        out: Quantities = defaultdict(dict)
        by_kind: dict[Aggregation, list[Window]] = defaultdict(list)
        for window in windows:
            by_kind[metrics[window.metric].aggregation].append(window)
        sqlite_db = self.dialect == "sqlite"
        # count, sum and max in one scan of the windows' events; each window keeps the column of its kind
        simple = [
            w for kind in (Aggregation.COUNT, Aggregation.SUM, Aggregation.MAX) for w in by_kind.get(kind, [])
        ]
        if simple:
            total = "decimal_sum(ev.value)" if sqlite_db else "SUM(ev.value)"
            top = "decimal_max(ev.value)" if sqlite_db else "MAX(ev.value)"
            sql = (f"SELECT w.k, ev.group_key, COUNT(*), {total}, {top} {self._join()} "
                   "GROUP BY w.k, ev.group_key")  # fmt: skip
            column = {Aggregation.COUNT: 2, Aggregation.SUM: 3, Aggregation.MAX: 4}
            kind_of = {w.key: metrics[w.metric].aggregation for w in simple}
            for row in self._run(sql, tenant_id, simple):
                out[row[0]][row[1]] = _decimal(row[column[kind_of[row[0]]]])
        if by_kind.get(Aggregation.UNIQUE_COUNT):
            sql = (f"SELECT w.k, ev.group_key, COUNT(DISTINCT ev.unique_key) {self._join()} "
                   "GROUP BY w.k, ev.group_key")  # fmt: skip
            for row in self._run(sql, tenant_id, by_kind[Aggregation.UNIQUE_COUNT]):
                out[row[0]][row[1]] = _decimal(row[2])
        if by_kind.get(Aggregation.LATEST):
            for key, group, value in self._latest(tenant_id, by_kind[Aggregation.LATEST], inside=True):
                out[key][group] = value
        if by_kind.get(Aggregation.WEIGHTED_SUM):
            for key, groups in self._weighted(tenant_id, by_kind[Aggregation.WEIGHTED_SUM]).items():
                out[key].update(groups)
        return out

    def _latest(
        self, tenant_id: str, windows: Sequence[Window], *, inside: bool
    ) -> list[tuple[int, str, Decimal]]:
        sql = (
            "q AS (SELECT w.k, ev.group_key, ev.value, ROW_NUMBER() OVER (PARTITION BY w.k, ev.group_key "  # noqa: S608
            f"ORDER BY ev.timestamp DESC, {self._id_order} DESC) AS rn {self._join(inside)}) "
            "SELECT k, group_key, value FROM q WHERE rn = 1"
        )
        return [(row[0], row[1], _decimal(row[2])) for row in self._run(sql, tenant_id, windows)]

    def _weighted(self, tenant_id: str, windows: Sequence[Window]) -> Quantities:
        if self.dialect == "sqlite":
            expression = "weighted_seconds(value, ts, nxt)"
        else:
            expression = "SUM(value * EXTRACT(EPOCH FROM (nxt - ts)))"
        sql = (
            "q AS (SELECT w.k, ev.group_key, ev.value, ev.timestamp AS ts, COALESCE(LEAD(ev.timestamp) OVER "  # noqa: S608
            f"(PARTITION BY w.k, ev.group_key ORDER BY ev.timestamp, {self._id_order}), w.e) AS nxt {self._join()}) "
            f"SELECT k, group_key, {expression}, MIN(ts) FROM q GROUP BY k, group_key"
        )
        by_key = {w.key: w for w in windows}
        seconds: dict[tuple[int, str], Decimal] = {}
        first: dict[tuple[int, str], datetime] = {}
        for row in self._run(sql, tenant_id, windows):
            seconds[(row[0], row[1])] = _decimal(row[2])
            first[(row[0], row[1])] = _parse_stamp(row[3])
        for key, group, level in self._latest(tenant_id, windows, inside=False):
            window = by_key[key]
            held_until = first.get((key, group), window.end)
            carried = _EXACT.multiply(level, _seconds(held_until - window.start))
            seconds[(key, group)] = _EXACT.add(seconds.get((key, group), Decimal(0)), carried)
        out: Quantities = defaultdict(dict)
        for (key, group), total in seconds.items():
            out[key][group] = unit_hours(total)
        return out

    def transactions(
        self, tenant_id: str, windows: Sequence[Window]
    ) -> dict[int, dict[str, tuple[Decimal, ...]]]:
        """Each window's event values in time order, per group: what percentage charges rate."""
        sql = (
            f"SELECT w.k, ev.group_key, ev.value {self._join()} ORDER BY w.k, ev.timestamp, {self._id_order}"
        )
        out: dict[int, dict[str, list[Decimal]]] = defaultdict(lambda: defaultdict(list))
        for row in self._run(sql, tenant_id, windows):
            if (
                row[2] is not None
            ):  # a count's events carry no amount (the catalog prices only sums by percentage)
                out[row[0]][row[1]].append(_decimal(row[2]))
        return {k: {g: tuple(v) for g, v in groups.items()} for k, groups in out.items()}
