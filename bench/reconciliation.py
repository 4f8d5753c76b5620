"""Reconciliation benchmark (issue 7): each figure beside a raw baseline measured in the same run.

    .venv/bin/python bench/reconciliation.py [--quick] [--parse-lines N] [--lines L] [--invoices M]
                                             [--customers C] [--postgres URL]

The statements are generated here as CAMT.053 (camt.053.001.02, one booked entry per line with the bank's
entry reference, the payer's name and IBAN and unstructured remittance text) from a scenario: C customers
with made-up company names, a customer reference (K00042) and a known IBAN each (a SEPA mandate), M open
invoices INV-2026-00001.. spread over them (customer k % C; each customer's older invoices due earlier), and
L statement lines in a random order:
  80 % name one open invoice (in one of four spellings, a quarter of them with the customer reference too)
       and pay exactly what it owes, from the customer's name (as written, upper case, or without the legal
       form) and half of them from the customer's IBAN: applied at 1.00;
  10 % only come from a customer's known IBAN and pay exactly one of its open invoices, under another
       name and with no number in the text: applied at 0.90 or 0.95;
   5 % pay an amount that two customers owe (one invoice each) from a stranger: reviewed, both offered;
   5 % pay an amount nothing adds up to (its cents end in 3; invoices' in 0 or 5) from a stranger:
       unmatched (unidentified money).
Amounts are exact and chosen so that these outcomes are certain (the checks below hold them exactly):
invoice amounts are distinct multiples of 0.10 from 100.00, the ambiguous pairs' amounts end in 5 and are
under 100.00, so no sum of a customer's invoices equals them; strangers' names resemble no customer's.

1. Parsing: a statement of N lines (default 20,000, --quick 2,000; about 8 MiB, under the reader's 10 MB)
   through `FileBankReader().read` (defusedxml tree, paths kept for error messages, Money and keyed
   lines) vs a raw baseline: defusedxml's iterparse pulling only amount (Decimal), booking date and
   remittance text from each entry. Lines/s; both must find N lines and the same total.
2. Matching (pure, no database): `match_lines` of L lines (default 5,000) against M open invoices (10,000)
   of C customers (3,000) vs a raw baseline: a regex finding an invoice number in each line's text and a
   dict lookup of it. `match_lines` scores every line against every customer (name similarity, amounts,
   cash application), so its cost grows with L x C: it is measured again at half of L, M and C, the
   growth factor printed (2.0 would be linear in the statement), and profiled at a quarter of the size
   (cProfile: top 10 by own time, kassa's top 10 by cumulative time). Checked: every line's decision and,
   for the applied ones, the invoice and amount allocated.
3. End to end on PostgreSQL, in a schema made and dropped here (kassa_bench_reconciliation): a tenant
   with the C customers and M finalized open invoices (customer 0, its invoice and its mandate made through
   the services, the others copies of their rows with the scenario's names, IBANs, numbers, amounts and
   due dates: customers, payment methods, invoices, invoice lines, journal entries and postings), then
   `reconciliation.import_statement` of the statement of L lines in one transaction (parse, candidates,
   match, each applied line booked as a payment with cash application and a journal entry). Lines/s, with
   where the time went (parse, match, SQL statements, the rest) and the CPU this process and PostgreSQL
   used. Raw baseline, measured after the runs: one INSERT of L rows into a bare copy of statement_lines
   (same keys and indexes, no foreign key) and one UPDATE of the L invoice rows the lines are about in a
   bare copy of invoices, set-based, in one transaction. Checked: applied + review + unmatched + ignored ==
   L and each as the scenario says, each applied line's payment allocated to its invoice, the sum of the
   applied payments == the sum of the applied lines' amounts, the trial balance nets to zero (cash = the
   applied sum, receivables = invoiced - applied). Then the same file imported again (recognized by its
   digest: must change nothing) and the same lines in another file (another statement id: parsed, every
   line known by its key, nothing booked), each timed and checked.
A CHECKPOINT precedes each measured database phase. A summary table ends the output. Nothing here
asserts a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import psycopg
import sqlalchemy as sa
from billing import statements  # bench/billing.py
from defusedxml.ElementTree import iterparse  # type: ignore[import-untyped]
from usage import cpu_seconds, revision, timed  # bench/usage.py: run as scripts, bench/ is on the path

from kassa import bootstrap, config
from kassa.adapters.bank_files.reader import FileBankReader
from kassa.core.audit import Actor, system_actor
from kassa.core.money import Money
from kassa.core.reconciliation import Decision, OpenItem, Proposal, match_lines, name_similarity
from kassa.core.statements import StatementLine
from kassa.services import customers, invoicing, ledger, payments, reconciliation, tenants
from kassa.services.context import ServiceContext
from kassa.store import migrate
from kassa.store.engine import create_engine
from kassa.store.tables import customers as customers_table
from kassa.store.tables import (
    invoice_lines,
    invoices,
    journal_entries,
    journal_postings,
    payment_methods,
)

SCHEMA = "kassa_bench_reconciliation"
W = 52  # name column
CURRENCY = "EUR"
ACCOUNT = "DE02120300000000202051"  # the tenant's own account: the statements'
FINALIZED = datetime(2026, 3, 2, 9, tzinfo=UTC)  # the template invoice is finalized then: due 16 March
BASE_DUE = date(2026, 3, 16)
IMPORTED = datetime(2026, 3, 20, 10, tzinfo=UTC)  # the system clock during the imports
FIRST_BOOKED = date(2026, 3, 9)
TERMS_DAYS = 14
PROFILE_SHARE = 4  # the profile runs at a quarter of the sizes: cProfile slows it down about 2x


@dataclass(frozen=True, slots=True)
class Sizes:
    parse_lines: int
    lines: int
    invoices: int
    customers: int


FULL = Sizes(20_000, 5_000, 10_000, 3_000)
QUICK = Sizes(2_000, 500, 1_000, 300)


class FixedClock:
    """A `Clock` that stands at a set instant (moved by hand between the phases)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


# ---- the scenario ----------------------------------------------------------------------------------------

NAMED, IBAN_ONLY, AMBIGUOUS, UNKNOWN = "named", "iban", "ambiguous", "unknown"
EXPECTED = {NAMED: Decision.APPLY, IBAN_ONLY: Decision.APPLY, AMBIGUOUS: Decision.REVIEW,
            UNKNOWN: Decision.UNMATCHED}  # fmt: skip
STATUS = {Decision.APPLY: "applied", Decision.REVIEW: "review", Decision.UNMATCHED: "unmatched"}
_SYLLABLES = ("ka ro ven til mar sol dor fen gra hul is jor kel lum nor pav quin ros sta tel ul vor wen "
              "zan bel cor dra esk fal gor hen ix lan mir nek ob pra rin sev tor ux vil").split()  # fmt: skip
_LEGAL = ("GmbH", "BV", "Ltd", "SAS", "AG", "Oy", "SRL", "AB")
_PEOPLE = ("Jana Novakova", "Peter Smith", "Maria Garcia Lopez", "Hans-Jürgen Weber", "Olga Ivanova",
           "Chen Wei", "Aoife O'Brien", "Lars Johansson", "Fatima Zahra Benali", "Giulia Romano",
           "Tomasz Wojcik", "Ines Ferreira", "Kwame Mensah", "Sophie Dubois", "Mehmet Yilmaz",
           "Anna Lindqvist", "Pieter de Vries", "Eleni Papadopoulou", "Raj Patel", "Yuki Tanaka")  # fmt: skip
_PLAIN_TEXT = ("Payment", "Zahlung", "Überweisung März", "Monthly services", "Betaling", "Thank you")


def iban(bank: str, account: int) -> str:
    """A German IBAN with valid check digits (ISO 13616: D = 13, E = 14)."""
    bban = f"{bank}{account:010d}"
    return f"DE{98 - int(bban + '131400') % 97:02d}{bban}"


@dataclass(frozen=True, slots=True)
class Customer:
    name: str
    reference: str  # its external id, as it quotes it
    iban: str  # its SEPA mandate's: a known IBAN


@dataclass(frozen=True, slots=True)
class Invoice:
    number: str
    customer: int
    minor: int  # what it owes, in cents
    due_date: date


@dataclass(frozen=True, slots=True)
class Row:
    kind: str
    minor: int
    reference: str
    name: str
    iban: str
    booked_on: date
    bank_ref: str
    invoice: int | None  # what it pays (applied lines); the first of the pair for ambiguous ones
    pair: int | None = None  # the other invoice owing the same (ambiguous lines)


@dataclass(frozen=True, slots=True)
class Scenario:
    customers: list[Customer]
    invoices: list[Invoice]
    rows: list[Row]

    def items(self, ids: Sequence[str] | None = None) -> list[OpenItem]:
        """The open items `match_lines` is given (as the service builds them from the database)."""
        return [
            OpenItem(invoice_id=ids[k] if ids else f"inv{k}", number=inv.number, customer_id=f"cus{inv.customer}",
                     customer_name=self.customers[inv.customer].name,
                     customer_reference=self.customers[inv.customer].reference,
                     ibans=frozenset({self.customers[inv.customer].iban}),
                     remaining=Money.from_minor_units(inv.minor, CURRENCY), due_date=inv.due_date)
            for k, inv in enumerate(self.invoices)
        ]  # fmt: skip


def company_names(rng: random.Random, n: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        words = [
            "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() for _ in range(2)
        ]
        name = f"{' '.join(words)} {rng.choice(_LEGAL)}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def scenario(lines: int, n_invoices: int, n_customers: int, seed: int = 7) -> Scenario:
    """L statement lines against M open invoices of C customers, in the mix the module docstring gives."""
    named, by_iban, ambiguous = lines * 80 // 100, lines * 10 // 100, lines * 5 // 100
    unknown = lines - named - by_iban - ambiguous
    involved = named + by_iban + 2 * ambiguous
    if n_invoices < max(involved, n_customers) or n_customers < 2 * ambiguous or n_invoices > 99_000:
        raise SystemExit(f"{lines:,} lines need at least {max(involved, n_customers):,} invoices (at most 99,000) "
                         f"and {2 * ambiguous:,} customers")  # fmt: skip
    rng = random.Random(seed)
    names = company_names(rng, n_customers)
    people = [p for p in _PEOPLE if all(name_similarity(p, n) < Decimal("0.80") for n in names)]
    name_similarity.cache_clear()  # the timed runs start cold
    custs = [Customer(names[c], f"K{c:05d}", iban("50010517", 1_000_000 + c)) for c in range(n_customers)]
    amounts = rng.sample(range(10_000, 1_000_000, 10), n_invoices)  # 100.00 to 9,999.90, all different
    per_customer: dict[int, list[int]] = {}
    for k in range(n_invoices):
        per_customer.setdefault(k % n_customers, []).append(k)
    # each customer's first invoice is its newest (due 16 March), the ones after it two weeks earlier each
    due = [BASE_DUE - timedelta(days=14 * (k // n_customers)) for k in range(n_invoices)]
    pairs: list[tuple[int, int]] = []
    chosen = rng.sample(range(n_customers), 2 * ambiguous)  # one invoice of each: no customer in two pairs
    taken: set[int] = set()
    for p in range(ambiguous):
        a, b = (rng.choice(per_customer[c]) for c in chosen[2 * p : 2 * p + 2])
        amounts[a] = amounts[b] = 1_005 + 10 * (p % 900)  # 10.05 to 99.95: under any invoice's 100.00
        pairs.append((a, b))
        taken |= {a, b}
    rest = [k for k in range(n_invoices) if k not in taken]
    rng.shuffle(rest)
    iban_paid, named_paid = rest[:by_iban], rest[by_iban : by_iban + named]
    invs = [Invoice(f"INV-2026-{k + 1:05d}", k % n_customers, amounts[k], due[k]) for k in range(n_invoices)]
    stranger = iter(range(10**9))

    def other_iban() -> str:
        return iban("37040044", next(stranger))

    specs: list[tuple[str, int, str, str, str, int | None, int | None]] = []
    for n, k in enumerate(named_paid):
        inv, cust = invs[k], custs[invs[k].customer]
        text = (f"Invoice {inv.number}", f"Rechnung {inv.number} Kundennr. {cust.reference}",
                inv.number.replace("-", " "), f"payment {inv.number.lower()}")[n % 4]  # fmt: skip
        payer = (cust.name, cust.name.upper(), cust.name.rsplit(" ", 1)[0])[n % 3]
        specs.append((NAMED, inv.minor, text, payer, cust.iban if n % 2 else other_iban(), k, None))
    for n, k in enumerate(iban_paid):
        inv = invs[k]
        specs.append((IBAN_ONLY, inv.minor, _PLAIN_TEXT[n % len(_PLAIN_TEXT)], people[n % len(people)],
                      custs[inv.customer].iban, k, None))  # fmt: skip
    for n, (a, b) in enumerate(pairs):
        specs.append((AMBIGUOUS, invs[a].minor, _PLAIN_TEXT[n % len(_PLAIN_TEXT)], people[n % len(people)],
                      other_iban(), a, b))  # fmt: skip
    for n in range(unknown):
        specs.append((UNKNOWN, rng.randrange(103, 1_000_000, 10), _PLAIN_TEXT[n % len(_PLAIN_TEXT)],
                      people[n % len(people)], other_iban(), None, None))  # fmt: skip
    rng.shuffle(specs)
    rows = [Row(kind=kind, minor=minor, reference=text, name=payer, iban=account, invoice=k, pair=other,
                booked_on=FIRST_BOOKED + timedelta(days=i % 12), bank_ref=f"BENCH{i + 1:08d}")
            for i, (kind, minor, text, payer, account, k, other) in enumerate(specs)]  # fmt: skip
    return Scenario(customers=custs, invoices=invs, rows=rows)


def camt053(rows: Sequence[Row], statement_id: str = "BENCH-2026-03") -> bytes:
    """The rows as one camt.053.001.02 statement of ACCOUNT, one booked credit entry each."""
    entries = "\n".join(
        f'<Ntry><Amt Ccy="EUR">{r.minor // 100}.{r.minor % 100:02d}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{r.booked_on}</Dt></BookgDt><ValDt><Dt>{r.booked_on}</Dt></ValDt>"
        f"<AcctSvcrRef>{r.bank_ref}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{escape(r.name)}</Nm>"
        f"</Dbtr><DbtrAcct><Id><IBAN>{r.iban}</IBAN></Id></DbtrAcct></RltdPties><RmtInf><Ustrd>"
        f"{escape(r.reference)}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for r in rows
    )  # fmt: skip
    last = max((r.booked_on for r in rows), default=FIRST_BOOKED)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{last}T18:00:00+01:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><CreDtTm>{last}T18:00:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n{entries}\n</Stmt></BkToCstmrStmt></Document>\n"
    ).encode()


# ---- output ----------------------------------------------------------------------------------------------


def rate(
    name: str, count: int, seconds: float, raw_seconds: float, unit: str = "lines", note: str = ""
) -> None:
    print(f"{name:<{W}} {count / seconds:>9,.0f} {unit}/s   raw {count / raw_seconds:>10,.0f} {unit}/s   "
          f"ratio {seconds / raw_seconds:7.1f}x{note}")  # fmt: skip


def profile_table(profiler: cProfile.Profile, top: int = 10) -> None:
    """The top functions by own time, and kassa's by cumulative time."""
    stats = pstats.Stats(profiler)
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    root = str(Path(__file__).resolve().parents[1]) + "/"

    def show(funcs: list[Any]) -> None:
        for func in funcs:
            _, calls, own, cumulative, _ = table[func]
            file, line, name = func
            where = file.replace(root, "").split("site-packages/")[-1].split("lib/python3.11/")[-1]
            print(f"  {cumulative:>9.2f}s {own:>6.2f}s {calls:>9}  {name} ({where}:{line})")

    print(f"  {'cumulative':>10} {'own':>7} {'calls':>9}  all functions, top {top} by own time")
    show(sorted(table, key=lambda f: -table[f][2])[:top])
    print(f"  {'':>10} {'':>7} {'':>9}  kassa's functions, top {top} by cumulative time")
    ours = [f for f in table if f[0].startswith(root + "kassa/")]
    show(sorted(ours, key=lambda f: -table[f][3])[:top])


# ---- 1. parsing ------------------------------------------------------------------------------------------


def raw_parse(content: bytes) -> list[tuple[Decimal, date, str | None]]:
    """Amount, booking date and remittance text of each entry, streamed by defusedxml's iterparse."""
    out: list[tuple[Decimal, date, str | None]] = []
    amount: Decimal | None = None
    booked: date | None = None
    text: str | None = None
    for _, element in iterparse(io.BytesIO(content), forbid_dtd=True):
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "Amt" and amount is None:
            amount = Decimal(element.text)
        elif tag == "Dt" and booked is None:
            booked = date.fromisoformat(element.text)
        elif tag == "Ustrd":
            text = element.text
        elif tag == "Ntry":
            assert amount is not None and booked is not None
            out.append((amount, booked, text))
            amount, booked, text = None, None, None
            element.clear()
    return out


def bench_parse(n: int, sizes: Sizes) -> tuple[float, float]:
    customers_n = max(sizes.customers, 2 * (n * 5 // 100))
    s = scenario(n, max(n, customers_n), customers_n, seed=11)
    content = camt053(s.rows)
    total = sum(r.minor for r in s.rows)
    reader = FileBankReader()
    reader.read(
        content[: content.index(b"\n<Ntry>", 10_000)] + b"\n</Stmt></BkToCstmrStmt></Document>"
    )  # warm
    found: list[Any] = []
    ours = timed(lambda: found.append(reader.read(content)))
    raw_rows: list[tuple[Decimal, date, str | None]] = []
    raw = timed(lambda: raw_rows.extend(raw_parse(content)))
    statement = found[0]
    assert len(statement.lines) == len(raw_rows) == n, (len(statement.lines), len(raw_rows), n)
    assert sum(line.amount.to_minor_units() for line in statement.lines) == total
    assert sum(amount for amount, _, _ in raw_rows) * 100 == total
    assert len({line.key for line in statement.lines}) == n
    print(f"  {n:,} lines, {len(content) / 2**20:.1f} MiB: FileBankReader {ours:.2f} s, iterparse {raw:.2f} s; "
          f"checked: {n:,} lines and {Decimal(total) / 100:,.2f} EUR both, {n:,} distinct line keys")  # fmt: skip
    return ours, raw


# ---- 2. matching -----------------------------------------------------------------------------------------

_NUMBER = re.compile(r"INV[ -]?(\d{4})[ -]?(\d{5})", re.IGNORECASE)


def raw_match(lines: Sequence[StatementLine], by_number: dict[str, OpenItem]) -> list[OpenItem | None]:
    out: list[OpenItem | None] = []
    for line in lines:
        found = _NUMBER.search(line.reference or "")
        out.append(by_number.get(f"INV-{found[1]}-{found[2]}") if found else None)
    return out


def check_proposals(s: Scenario, proposals: Sequence[Proposal], ids: Sequence[str]) -> Counter[str]:
    """Each line decided as its kind says; an applied one allocates its whole amount to its invoice."""
    assert len(proposals) == len(s.rows)
    for row, p in zip(s.rows, proposals, strict=True):
        assert p.decision is EXPECTED[row.kind], (row, p.decision, p.reasons)
        if p.decision is Decision.APPLY:
            assert row.invoice is not None
            assert [(a.invoice_id, a.amount.to_minor_units()) for a in p.allocations] == [
                (ids[row.invoice], row.minor)], (row, p.allocations)  # fmt: skip
            assert not p.unapplied.amount
        elif p.decision is Decision.REVIEW:
            assert row.invoice is not None and row.pair is not None
            offered = {a.invoice_id for a in p.allocations} | {
                i for a in p.alternatives for i in a.invoice_ids
            }
            assert offered == {ids[row.invoice], ids[row.pair]}, (row, p)
    return Counter(STATUS[p.decision] for p in proposals)


def statement_lines(s: Scenario) -> list[StatementLine]:
    return list(FileBankReader().read(camt053(s.rows)).lines)


def run_match(lines: int, n_invoices: int, n_customers: int) -> tuple[float, float, Scenario, Counter[str]]:
    """match_lines and the raw baseline on one scenario: (seconds, raw seconds, scenario, decisions)."""
    s = scenario(lines, n_invoices, n_customers)
    parsed = statement_lines(s)
    items = s.items()
    by_number = {item.number: item for item in items}
    name_similarity.cache_clear()
    proposals: list[Proposal] = []
    ours = timed(lambda: proposals.extend(match_lines(parsed, items, [])))
    found: list[OpenItem | None] = []
    raw = timed(lambda: found.extend(raw_match(parsed, by_number)))
    named = sum(1 for row in s.rows if row.kind == NAMED)
    assert sum(1 for item in found if item is not None) == named, "the raw baseline finds every named invoice"
    decided = check_proposals(s, proposals, [f"inv{k}" for k in range(n_invoices)])
    return ours, raw, s, decided


def profile_match(lines: int, n_invoices: int, n_customers: int) -> None:
    s = scenario(lines, n_invoices, n_customers)
    parsed, items = statement_lines(s), s.items()
    name_similarity.cache_clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    match_lines(parsed, items, [])
    profiler.disable()
    print(f"  profile: match_lines of {lines:,} lines x {n_customers:,} customers ({n_invoices:,} invoices) "
          f"under cProfile, {time.perf_counter() - started:.1f} s")  # fmt: skip
    profile_table(profiler)


# ---- 3. end to end on PostgreSQL -------------------------------------------------------------------------


def pg_connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True)


def settle(url: str) -> None:
    """A checkpoint before each measured phase: the writes of the one before are on disk, not in its way."""
    with pg_connect(url) as conn:
        conn.execute("CHECKPOINT")


def copied(template: str, k: int) -> str:
    """Copy k's id from a template id (k = 0 is the template itself)."""
    return template if k == 0 else f"{template[:30]}x{k:06d}"


@dataclass(frozen=True, slots=True)
class Tenant:
    actor: Actor
    invoice_ids: list[str]  # by scenario index
    customer_ids: list[str]


def populate(ctx: ServiceContext, clock: FixedClock, s: Scenario) -> Tenant:
    """Customer 0, its invoice (finalized on 2 March) and its SEPA mandate through the services; every
    other customer, mandate, invoice, invoice line and journal entry a copy of theirs, with the scenario's
    values; the number sequence moved on to the last number; then ANALYZE."""
    clock.at = FINALIZED
    tenant, _ = tenants.create_tenant(ctx, "Reconciliation bench")
    actor = system_actor(tenant.id, "bench")
    first, inv0 = s.customers[0], s.invoices[0]
    customer = customers.create_customer(ctx, actor, {
        "external_id": first.reference, "name": first.name, "currency": CURRENCY, "payment_terms_days": TERMS_DAYS,
    })  # fmt: skip
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": customer.id, "lines": [
        {"description": "Services", "quantity": "1", "unit_price": str(Decimal(inv0.minor) / 100)}]})  # fmt: skip
    invoice = invoicing.finalize_invoice(ctx, actor, draft.id)
    assert (invoice.number, invoice.due_date, invoice.amount_remaining.to_minor_units()) == (
        inv0.number, inv0.due_date, inv0.minor)  # fmt: skip
    method = payments.add_payment_method(ctx, actor, customer.id, {
        "type": "sepa_debit", "iban": first.iban, "mandate_id": "BENCH-M-0", "mandate_signed_on": "2026-01-02"})  # fmt: skip
    customer_ids = [copied(customer.id, c) for c in range(len(s.customers))]
    invoice_ids = [copied(invoice.id, k) for k in range(len(s.invoices))]
    with ctx.engine.begin() as conn:

        def template(table: sa.Table, **where: str) -> list[dict[str, Any]]:
            query = sa.select(table).where(table.c.tenant_id == tenant.id,
                                           *(table.c[k] == v for k, v in where.items()))  # fmt: skip
            return [dict(r._mapping) for r in conn.execute(query)]

        (cust_row,) = template(customers_table, id=customer.id)
        (method_row,) = template(payment_methods, id=method.id)
        (invoice_row,) = template(invoices, id=invoice.id)
        (line_row,) = template(invoice_lines, invoice_id=invoice.id)
        (entry_row,) = template(journal_entries, source_id=invoice.id)
        posting_rows = template(journal_postings, entry_id=entry_row["id"])
        rows: dict[sa.Table, list[dict[str, Any]]] = {t: [] for t in (customers_table, payment_methods, invoices,
                                                                      invoice_lines, journal_entries, journal_postings)}  # fmt: skip
        for c, cust in enumerate(s.customers[1:], 1):
            rows[customers_table].append({**cust_row, "id": customer_ids[c], "external_id": cust.reference,
                                          "name": cust.name})  # fmt: skip
            rows[payment_methods].append({**method_row, "id": copied(method.id, c), "customer_id": customer_ids[c],
                                          "iban": cust.iban, "mandate_id": f"BENCH-M-{c}",
                                          "account_holder": cust.name})  # fmt: skip
        for k, inv in enumerate(s.invoices[1:], 1):
            cust, cid, iid = s.customers[inv.customer], customer_ids[inv.customer], invoice_ids[k]
            buyer = {
                **invoice_row["parties"]["buyer"],
                "id": cid,
                "name": cust.name,
                "external_id": cust.reference,
            }
            rows[invoices].append({
                **invoice_row, "id": iid, "customer_id": cid, "number": inv.number, "subtotal_minor": inv.minor,
                "total_minor": inv.minor, "amount_due_minor": inv.minor, "due_date": inv.due_date,
                "finalized_at": FINALIZED - (BASE_DUE - inv.due_date),
                "breakdown": [{**invoice_row["breakdown"][0], "taxable": inv.minor}],
                "parties": {**invoice_row["parties"], "buyer": buyer, "accounts": {cid: cust.name}},
            })  # fmt: skip
            rows[invoice_lines].append({**line_row, "invoice_id": iid, "customer_id": cid, "account_id": cid,
                                        "item_key": f"{iid}|0", "unit_price": Decimal(inv.minor) / 100,
                                        "amount_minor": inv.minor, "net_minor": inv.minor})  # fmt: skip
            entry_id = copied(entry_row["id"], k)
            rows[journal_entries].append({**entry_row, "id": entry_id, "source_id": iid,
                                          "posted_at": FINALIZED - (BASE_DUE - inv.due_date),
                                          "description": f"Invoice {inv.number}"})  # fmt: skip
            rows[journal_postings].extend(
                {**p, "entry_id": entry_id, "debit_minor": inv.minor if p["debit_minor"] else 0,
                 "credit_minor": inv.minor if p["credit_minor"] else 0} for p in posting_rows
            )  # fmt: skip
        for table, values in rows.items():
            for start in range(0, len(values), 5000):
                conn.execute(table.insert(), values[start : start + 5000])
        conn.exec_driver_sql("UPDATE number_sequences SET last = %(m)s WHERE tenant_id = %(t)s",
                             {"m": len(s.invoices), "t": tenant.id})  # fmt: skip
    with ctx.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
    return Tenant(actor=actor, invoice_ids=invoice_ids, customer_ids=customer_ids)


@contextmanager
def stopwatch(module: Any, name: str, spent: list[float]) -> Iterator[None]:
    """`module.name` (a function) timed while inside: its seconds are added to spent[0]."""
    original = getattr(module, name)

    def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    setattr(module, name, measured)
    try:
        yield
    finally:
        setattr(module, name, original)


@dataclass(frozen=True, slots=True)
class Import:
    seconds: float
    parse: float
    match: float
    sql: float
    statements: int
    python_cpu: float  # this process, over the import
    postgres_cpu: float


def run_import(ctx: ServiceContext, actor: Actor, content: bytes) -> tuple[Import, Any, bool]:
    parse, match = [0.0], [0.0]
    me = [os.getpid()]
    cpu, pg_cpu = cpu_seconds(me), cpu_seconds()
    with (statements(ctx.engine) as tally, stopwatch(reconciliation, "match_lines", match),
          stopwatch(ctx.bank_files, "read", parse)):  # fmt: skip
        started = time.perf_counter()
        stored, new = reconciliation.import_statement(ctx, actor, content, format="camt053")
        elapsed = time.perf_counter() - started
    result = Import(seconds=elapsed, parse=parse[0], match=match[0], sql=tally[1], statements=int(tally[0]),
                    python_cpu=cpu_seconds(me) - cpu, postgres_cpu=cpu_seconds() - pg_cpu)  # fmt: skip
    return result, stored, new


COUNTED = ("bank_statements", "statement_lines", "payments", "payment_allocations", "journal_entries",
           "journal_postings", "audit_events", "events", "credit_balance_transactions")  # fmt: skip


def counts(url: str, tenant_id: str) -> dict[str, int]:
    with pg_connect(url) as conn:
        found = {}
        for table in COUNTED:
            exists = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()
            if exists is not None and exists[0] is not None:
                query = f"SELECT count(*) FROM {table} WHERE tenant_id = %s"  # noqa: S608
                row = conn.execute(query, (tenant_id,)).fetchone()
                found[table] = row[0] if row else 0
        return found


def check_import(url: str, ctx: ServiceContext, s: Scenario, t: Tenant, statement_id: str) -> dict[str, int]:
    """Statuses as the scenario says, payments allocated to their invoices, sums and the trial balance."""
    by_ref = {row.bank_ref: row for row in s.rows}
    p = {"t": t.actor.tenant_id, "s": statement_id}
    with pg_connect(url) as conn:
        lines = conn.execute("SELECT bank_reference, status, amount_minor, payment_id FROM statement_lines "
                             "WHERE tenant_id = %(t)s AND statement_id = %(s)s", p).fetchall()  # fmt: skip
        allocated = dict(((ref, inv), minor) for ref, inv, minor in conn.execute(
            "SELECT sl.bank_reference, pa.invoice_id, pa.amount_minor FROM statement_lines sl "
            "JOIN payment_allocations pa ON pa.tenant_id = sl.tenant_id AND pa.payment_id = sl.payment_id "
            "WHERE sl.tenant_id = %(t)s AND sl.statement_id = %(s)s", p))  # fmt: skip
        paid, paid_lines = conn.execute(
            "SELECT coalesce(sum(pay.amount_minor), 0), (SELECT coalesce(sum(amount_minor), 0) FROM statement_lines "
            "WHERE tenant_id = %(t)s AND statement_id = %(s)s AND status = 'applied') FROM payments pay "
            "JOIN statement_lines sl ON sl.tenant_id = pay.tenant_id AND sl.payment_id = pay.id "
            "WHERE sl.tenant_id = %(t)s AND sl.statement_id = %(s)s", p).fetchone()  # type: ignore[misc]  # fmt: skip
        settled = conn.execute("SELECT count(*) FROM invoices WHERE tenant_id = %(t)s AND status = 'paid'",
                               p).fetchone()  # fmt: skip
    status = Counter(line[1] for line in lines)
    assert sum(status.values()) == len(s.rows), (status, len(s.rows))
    expected = Counter(STATUS[EXPECTED[row.kind]] for row in s.rows)
    assert status == expected, (status, expected)
    applied = 0
    for ref, state, minor, payment_id in lines:
        row = by_ref[ref]
        assert minor == row.minor
        if state == "applied":
            assert payment_id is not None and row.invoice is not None
            assert allocated.get((ref, t.invoice_ids[row.invoice])) == row.minor, row
            applied += minor
    assert len(allocated) == status["applied"]
    assert paid == paid_lines == applied, (paid, paid_lines, applied)
    assert settled is not None and settled[0] == status["applied"]
    balances = {
        row["account"]: Decimal(row["balance"]["amount"]) for row in ledger.trial_balance(ctx, t.actor)
    }
    invoiced = Decimal(sum(inv.minor for inv in s.invoices)) / 100
    assert sum(balances.values()) == 0, balances
    assert balances.get("1000") == Decimal(applied) / 100, balances
    assert balances.get("1100") == invoiced - Decimal(applied) / 100, (balances, invoiced)
    print(f"  checked: {status['applied']:,} applied + {status['review']:,} review + {status['unmatched']:,} "
          f"unmatched + {status['ignored']:,} ignored = {len(lines):,} lines, each as the scenario says; each "
          f"applied line's payment allocated to its invoice ({settled[0]:,} invoices paid); applied payments "
          f"{Decimal(paid) / 100:,.2f} EUR = the applied lines' amounts; trial balance nets to 0.00 (cash "
          f"{balances['1000']:,.2f}, receivables {balances['1100']:,.2f})")  # fmt: skip
    return dict(status)


def raw_import(url: str, s: Scenario, t: Tenant, lines: Sequence[StatementLine]) -> tuple[float, int]:
    """One INSERT of the L lines (unnest of arrays) into a bare copy of statement_lines and one UPDATE of
    the L invoice rows they are about (each ambiguous pair counted whole, the unidentified lines none) in a
    bare copy of invoices, in one transaction."""
    involved: dict[str, int] = {}
    for row in s.rows:
        for k in (row.invoice, row.pair):
            if k is not None:
                involved[t.invoice_ids[k]] = s.invoices[k].minor
    cols = {
        "id": [f"bslraw{i:08d}" for i in range(len(lines))], "booked_on": [ln.booked_on for ln in lines],
        "amount_minor": [ln.amount.to_minor_units() for ln in lines], "line_key": [ln.key for ln in lines],
        "reference": [ln.reference for ln in lines], "counterparty_name": [ln.counterparty_name for ln in lines],
        "counterparty_iban": [ln.counterparty_iban for ln in lines],
        "bank_reference": [ln.bank_reference for ln in lines],
    }  # fmt: skip
    types = {"booked_on": "date[]", "amount_minor": "bigint[]"}
    p: dict[str, Any] = {"t": t.actor.tenant_id, "at": IMPORTED, "account": ACCOUNT, **cols,
                         "ids": list(involved), "paid": list(involved.values())}  # fmt: skip
    names = ", ".join(cols)
    arrays = ", ".join(f"%({c})s::{types.get(c, 'text[]')}" for c in cols)
    with pg_connect(url) as conn:
        conn.execute("CREATE TABLE statement_lines_raw (LIKE statement_lines INCLUDING ALL)")
        conn.execute("CREATE TABLE invoices_raw (LIKE invoices INCLUDING ALL)")
        conn.execute("INSERT INTO invoices_raw SELECT * FROM invoices WHERE tenant_id = %(t)s", p)
        conn.execute("VACUUM ANALYZE invoices_raw")
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(
                f"INSERT INTO statement_lines_raw (tenant_id, statement_id, account, currency, status, proposal, "  # noqa: S608
                f"created_at, {names}) SELECT %(t)s, 'bstraw', %(account)s, 'EUR', 'applied', '{{}}', %(at)s, * "
                f"FROM unnest({arrays})", p)  # fmt: skip
            conn.execute(
                "UPDATE invoices_raw i SET amount_paid_minor = i.amount_paid_minor + x.paid, status = 'paid', "
                "paid_at = %(at)s FROM unnest(%(ids)s::text[], %(paid)s::bigint[]) x (id, paid) "
                "WHERE i.tenant_id = %(t)s AND i.id = x.id", p)  # fmt: skip
        elapsed = time.perf_counter() - started
        written = conn.execute("SELECT count(*) FROM statement_lines_raw").fetchone()
        conn.execute("DROP TABLE statement_lines_raw, invoices_raw")
    assert written is not None and written[0] == len(lines), written
    return elapsed, len(involved)


def breakdown(r: Import, applied: int) -> str:
    rest = r.seconds - r.parse - r.match - r.sql
    return (f"parse {r.parse:.1f} s, match_lines {r.match:.1f} s, {r.statements:,} SQL statements {r.sql:.1f} s "
            f"({r.statements / max(applied, 1):.0f} per applied line), the rest (Python around them) {rest:.1f} s; "
            f"CPU: this process {r.python_cpu / r.seconds:.2f} cores, postgres {r.postgres_cpu / r.seconds:.2f}")  # fmt: skip


# ---- main ------------------------------------------------------------------------------------------------


def facts(url: str) -> None:
    memory = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))  # fmt: skip
    with pg_connect(url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        buffers = conn.execute("SHOW shared_buffers").fetchone()[0]  # type: ignore[index]
    print(f"machine: {os.cpu_count()} cores, {int(memory) / 2**20:.0f} GB RAM, {platform.platform(terse=True)}; "
          f"python {platform.python_version()}; PostgreSQL {version} (local, shared_buffers {buffers})")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument(
        "--parse-lines", type=int, help=f"lines of the parsed statement (default {FULL.parse_lines:,})"
    )
    parser.add_argument(
        "--lines", type=int, help=f"statement lines matched and imported (default {FULL.lines:,})"
    )
    parser.add_argument("--invoices", type=int, help=f"open invoices (default {FULL.invoices:,})")
    parser.add_argument("--customers", type=int, help=f"customers owing them (default {FULL.customers:,})")
    parser.add_argument("--postgres", metavar="URL", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    base = QUICK if args.quick else FULL
    sizes = Sizes(args.parse_lines or base.parse_lines, args.lines or base.lines, args.invoices or base.invoices,
                  args.customers or base.customers)  # fmt: skip
    n_lines, n_invoices, n_customers = sizes.lines, sizes.invoices, sizes.customers
    started = time.perf_counter()
    print(f"kassa reconciliation benchmark, {datetime.now(UTC):%Y-%m-%d}{' (--quick)' if args.quick else ''}, "
          f"{revision()}")  # fmt: skip
    facts(args.postgres)

    print(f"\n1. parsing a CAMT.053 statement of {sizes.parse_lines:,} lines")
    parse, raw_parse_s = bench_parse(sizes.parse_lines, sizes)

    print(
        f"\n2. matching (pure): {n_lines:,} lines against {n_invoices:,} open invoices of {n_customers:,} customers"
    )
    half = (n_lines // 2, n_invoices // 2, n_customers // 2)
    small, small_raw, _, _ = run_match(*half)
    print(f"  half the size ({half[0]:,} lines x {half[2]:,} customers): match_lines {small:.1f} s, "
          f"{small / half[0] * 1000:.1f} ms a line; raw {small_raw * 1000:.1f} ms")  # fmt: skip
    match, raw_match_s, s, decided = run_match(n_lines, n_invoices, n_customers)
    growth = match / small
    print(f"  full size ({n_lines:,} lines x {n_customers:,} customers): match_lines {match:.1f} s, "
          f"{match / n_lines * 1000:.1f} ms a line, {match / (n_lines * n_customers) * 1e6:.0f} µs a line and "
          f"customer; raw {raw_match_s * 1000:.1f} ms")  # fmt: skip
    print(f"  growth for twice the lines, invoices and customers: {growth:.2f}x (linear in the statement: 2x; "
          f"every line scored against every customer: 4x)")  # fmt: skip
    print(f"  checked: {decided['applied']:,} applied, {decided['review']:,} review, {decided['unmatched']:,} "
          f"unmatched, each as the scenario says; every applied line allocated whole to its invoice")  # fmt: skip
    quarter = (n_lines // PROFILE_SHARE, n_invoices // PROFILE_SHARE, n_customers // PROFILE_SHARE)
    profile_match(*quarter)

    print(f"\n3. end to end (postgresql): import_statement of {n_lines:,} lines, {n_invoices:,} open invoices, "
          f"{n_customers:,} customers")  # fmt: skip
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}options=-csearch_path%3D{SCHEMA}"
    try:
        clock = FixedClock(FINALIZED)
        ctx = bootstrap.build_context(config.load({}, database_url=url))
        ctx.clock = clock
        migrate.upgrade(ctx.engine)
        made = time.perf_counter()
        t = populate(ctx, clock, s)
        print(f"  (setup, not measured: {n_customers:,} customers with a SEPA mandate, {n_invoices:,} finalized "
              f"open invoices with their journal entries: {time.perf_counter() - made:.0f} s)")  # fmt: skip
        content = camt053(s.rows)
        clock.at = IMPORTED
        settle(url)
        name_similarity.cache_clear()
        first, stored, new = run_import(ctx, t.actor, content)
        assert new and stored.new_lines == n_lines, (new, stored.new_lines)
        status = check_import(url, ctx, s, t, stored.id)
        print(f"  import in {first.seconds:.1f} s: {breakdown(first, status.get('applied', 0))}")

        before = counts(url, t.actor.tenant_id)
        again, same, new = run_import(ctx, t.actor, content)
        assert not new and same.id == stored.id
        assert counts(url, t.actor.tenant_id) == before, "the same file again changes nothing"
        print(f"  the same file again: {again.seconds * 1000:.1f} ms, {again.statements} SQL statement{'s' * (again.statements != 1)}, "
              f"recognized by its digest; checked: no row added or changed in {', '.join(before)}")  # fmt: skip
        other = camt053(s.rows, statement_id="BENCH-2026-03-COPY")
        overlap, copy, new = run_import(ctx, t.actor, other)
        after = counts(url, t.actor.tenant_id)
        assert new and copy.new_lines == 0 and copy.line_count == n_lines, (copy.new_lines, copy.line_count)
        grown = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        assert grown == {"bank_statements": 1, "audit_events": 1, "events": 1}, grown
        print(f"  the same lines in another file: {overlap.seconds:.2f} s (parse {overlap.parse:.2f} s, "
              f"{overlap.statements} SQL statements); checked: {n_lines:,} lines all known by their keys, "
              f"nothing booked, only the file's own row, audit entry and event added")  # fmt: skip

        print("\n  raw baseline, after the runs (so its writes do not disturb them)")
        lines = statement_lines(s)
        raw, updated = raw_import(url, s, t, lines)
        print(f"  {n_lines:,} statement lines written by one insert from arrays (unnest) and {updated:,} invoice "
              f"rows changed by one update joined to arrays, in one transaction: {raw:.3f} s")  # fmt: skip
        ctx.engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA} CASCADE")
        admin.dispose()

    print(f"\nsummary: parse {sizes.parse_lines:,} lines; match and import {n_lines:,} lines against "
          f"{n_invoices:,} open invoices of {n_customers:,} customers")  # fmt: skip
    rate(f"parse CAMT.053, {sizes.parse_lines:,} lines", sizes.parse_lines, parse, raw_parse_s)
    rate(f"match_lines, {half[0]:,} lines x {half[2]:,} customers", half[0], small, small_raw)
    rate(f"match_lines, {n_lines:,} lines x {n_customers:,} customers", n_lines, match, raw_match_s,
         note=f"   (growth for 2x the size: {growth:.2f}x)")  # fmt: skip
    rate(f"import_statement, {n_lines:,} lines (postgresql)", n_lines, first.seconds, raw,
         note=f"   (match_lines {first.match / first.seconds:.0%} of it)")  # fmt: skip
    print(f"{'  the same file again (changes nothing)':<{W}} {again.seconds * 1000:>9.1f} ms")
    print(f"{'  the same lines in another file (books nothing)':<{W}} {overlap.seconds:>9.2f} s")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
