"""Reconciliation: which invoice, customer or expected payout each bank statement line pays.

`match_lines` gives every line exactly one `Proposal`: *apply* (confident: booked automatically),
*review* (doubtful: the exceptions queue, with the best candidate and its alternatives) or *unmatched*
(nothing plausible). An unmatched credit is *unidentified money* and is queued too (`Proposal.queued`):
someone must find its payer or send it back. An unmatched debit is money out (rent, salaries, refunds
paid): reconciliation of receivables ignores it.

Scoring, per candidate, in exact `Decimal` points summed and capped at 1.00 (the confidence):

customer candidate (a customer with at least one open item):
  0.60  the text names one of its open invoices exactly (case, spaces and dashes ignored:
        "inv2026-00012" and "INV202600012" are INV-2026-00012)
  0.50  ... or only tolerantly: numbers compared as numbers ("INV 2026 12"), or the letter prefix left
        out with at least two numbers written in full ("2026/00012"; "2026-03-04" is a date, not
        INV-2026-00003), and only when exactly one open invoice fits that spelling (otherwise the text
        names none and a reason says which invoices could be meant)
  0.30  ... or names only invoices of the customer's that have nothing left to pay (a payment made twice:
        it says who paid, but is never applied automatically)
  0.40  the text carries the customer's reference (its external id, 3 characters or more)
  0.50  the counterparty IBAN is one of the customer's known IBANs
  0.30 x similarity  the counterparty name resembles the customer's name, similarity >= 0.80; names
        are lowercased, stripped of accents and legal forms (BV, GmbH, Ltd, Inc, SA, ...) and compared
        with difflib's ratio (2 x matched characters / total characters, computed exactly), in written
        and in sorted word order, the better of the two, rounded half up to 2 decimals
  0.40  the amount equals what the named invoices still owe together, or (no invoice named) one open
        invoice's remaining (the oldest such), or the sum of the customer's k >= 2 oldest open invoices
  0.05  the line is booked within 7 days of the due date of the first invoice it pays
expected credit (a payout or a SEPA collection batch the bank will credit):
  0.60  the text carries its ref (payout id, batch message id)
  0.40  the amount equals the expected net
  0.50  ... and the line is booked within 3 days of the expected date

A customer with neither points from the text nor identity nor an equal amount is no candidate; a
candidate with only an equal amount (0.40, 0.45 near the due date) is plausible and goes to review.
The best candidate (ties: customers before expected credits, then by id) is *applied* when its
confidence >= `auto_threshold` (0.90), it leads the second best by at least `margin` (0.15), it pays
something (a known customer whose money pays no open invoice is reviewed, not parked on the credit
balance unseen) and its text does not name only invoices already paid. So a reference and the amount
(1.00), a tolerant reference and the amount (0.90), or a known IBAN and the amount (0.90) apply; a
similar name and the amount (0.70) is reviewed; two customers owing the same amount, with nothing else
to tell them apart, are reviewed with both offered.

What a customer candidate allocates: the named invoices, oldest due first (`apply_cash`), the rest
unapplied (to the customer's credit balance: an overpayment); with none named, the invoice whose
remaining equals the amount, else the customer's open invoices oldest first, the rest unapplied. An
expected credit allocates nothing and leaves nothing unapplied (a difference to the expected net is a
fee or adjustment for the payout's own booking). For a customer, sum(allocations) + unapplied is
always the line's amount.

Order: an invoice's remaining is used up as lines pay it. Lines naming an open invoice come first,
then the others, each group in statement order, so a line that names an invoice wins it over one that
only matches its amount. In that order, first only the confident lines take money; then every line not
applied is scored again against what is left, in the same order, and takes what it proposes (applied
if it is now confident, else as a review suggestion), so no two proposals book the same money.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from difflib import SequenceMatcher
from enum import StrEnum
from functools import lru_cache

from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import Allocation, OpenInvoice, apply_cash
from kassa.core.statements import StatementLine, normalize_iban

NAMED_EXACT = Decimal("0.60")
NAMED_TOLERANT = Decimal("0.50")
NAMED_SETTLED = Decimal("0.30")
CUSTOMER_REFERENCE = Decimal("0.40")
KNOWN_IBAN = Decimal("0.50")
NAME_WEIGHT = Decimal("0.30")
NAME_FLOOR = Decimal("0.80")
EQUAL_AMOUNT = Decimal("0.40")
NEAR_DUE_DATE = Decimal("0.05")
DUE_DATE_DAYS = 7
EXPECTED_REF = Decimal("0.60")
EXPECTED_AMOUNT = Decimal("0.40")
EXPECTED_WINDOW = Decimal("0.50")
EXPECTED_DAYS = 3
MIN_REFERENCE_CHARS = 3
MAX_ALTERNATIVES = 5

_ONE = Decimal(1)
_CENT = Decimal("0.01")
_RATIO = Context(prec=28)  # the caller's decimal context must not change a score
_PART = re.compile(r"[a-z]+|[0-9]+", re.IGNORECASE)
_LEGAL_FORMS = frozenset(
    "ab ag aps as bv bvba co corp corporation cv eg ev gbr gmbh inc kg kft lda limited llc llp lp ltd "
    "nv oy oyj plc pty sa sarl sas sl sp spa srl sro ug vof zoo".split()
)


class Decision(StrEnum):
    APPLY = "apply"
    REVIEW = "review"
    UNMATCHED = "unmatched"


class ExpectedKind(StrEnum):
    PAYOUT = "payout"
    SEPA_BATCH = "sepa_batch"


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenItem:
    """An invoice still owed, with what identifies its customer on a bank statement."""

    invoice_id: str
    number: str
    customer_id: str
    customer_name: str
    customer_reference: str | None = None  # the customer's external id, as customers quote it
    ibans: frozenset[str] = frozenset()  # the customer's known IBANs, normalized
    remaining: Money
    due_date: date


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectedCredit:
    """Money kassa knows is coming: a gateway payout or the proceeds of a SEPA direct debit batch."""

    id: str
    kind: ExpectedKind
    ref: str  # what the bank's text will carry: the payout id, the batch message id
    amount: Money  # net of fees
    expected_on: date


@dataclass(frozen=True, slots=True, kw_only=True)
class Alternative:
    customer_id: str | None = None
    invoice_ids: tuple[str, ...] = ()
    expected_id: str | None = None
    confidence: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    line_key: str
    amount: Money  # the line's signed amount
    decision: Decision
    confidence: Decimal  # 0.00 to 1.00
    customer_id: str | None = None
    allocations: tuple[Allocation, ...] = ()
    expected_id: str | None = None
    unapplied: Money  # an overpayment's rest: to the customer's credit balance
    reasons: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()

    @property
    def queued(self) -> bool:
        """In the exceptions queue: a doubtful match, or money in that nothing matches."""
        return self.decision is Decision.REVIEW or (
            self.decision is Decision.UNMATCHED and self.amount.amount > 0
        )


@lru_cache(maxsize=4096)  # a statement repeats a few payer names against the same customers
def name_similarity(a: str, b: str) -> Decimal:
    """0.00 to 1.00: how alike two party names are once case and legal forms are set aside."""
    x, y = _plain_name(a), _plain_name(b)
    if not x or not y:
        return Decimal(0)
    ratio = max(_ratio(x, y), _ratio(" ".join(sorted(x.split())), " ".join(sorted(y.split()))))
    return ratio.quantize(_CENT, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=65536)
def _letters(name: str) -> Counter[str]:
    return Counter(_plain_name(name))


def _may_be_similar(a: str, b: str) -> bool:
    """False only when the names cannot reach NAME_FLOOR: difflib matches at most the characters the two
    have in common, so 2 x common / total bounds the ratio in either word order (and 0.795 leaves room for
    the rounding to 0.80). Saves the SequenceMatcher for the customers a payer's name has nothing to do with."""
    x, y = _letters(a), _letters(b)
    total = x.total() + y.total()
    return total > 0 and 2000 * (x & y).total() >= 795 * total


@lru_cache(maxsize=65536)
def _plain_name(name: str) -> str:
    # Dots go first so "B.V." and "S.A." become the words "bv" and "sa".
    folded = unicodedata.normalize("NFKD", name.casefold().replace(".", ""))
    words = re.sub(r"[^0-9a-z]+", " ", "".join(c for c in folded if not unicodedata.combining(c))).split()
    kept = [w for w in words if w not in _LEGAL_FORMS]
    return " ".join(kept or words)


def _ratio(a: str, b: str) -> Decimal:
    # difflib's ratio() is a float; the matching blocks are whole numbers, so the same ratio is exact.
    blocks = SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks()
    return _RATIO.divide(Decimal(2 * sum(block.size for block in blocks)), Decimal(len(a) + len(b)))


# ---- finding numbers and references in text ---------------------------------------------------------

_Part = tuple[str, str]  # ("L", "INV") or ("D", "12"): letters upper case, digits without leading zeros


@dataclass(frozen=True, slots=True)
class _Token:
    part: _Part
    text: str  # as written, upper case
    start: int
    end: int
    glued: bool  # letters joined to what follows with nothing, "-", "/", "." or "_" (a prefix)


def _tokens(text: str) -> list[_Token]:
    found = list(_PART.finditer(text))
    out = []
    for i, m in enumerate(found):
        value = m.group().upper()
        following = text[m.end() : found[i + 1].start()] if i + 1 < len(found) else " "
        digits = value.isdigit()
        part = ("D", str(int(value))) if digits else ("L", value)
        out.append(
            _Token(part, value, m.start(), m.end(), not digits and following in ("", "-", "/", ".", "_"))
        )
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class _Found:
    named: tuple[tuple[str, bool], ...] = ()  # (invoice id, exact) in order of appearance
    customers: frozenset[str] = frozenset()  # whose reference the text carries
    expected: frozenset[str] = frozenset()  # whose ref the text carries
    notes: tuple[str, ...] = ()


@dataclass(slots=True)
class _Customer:
    id: str
    name: str
    reference: str | None
    ibans: set[str]
    items: list[OpenItem] = field(default_factory=list)


class _Book:
    """The open items and expected credits, indexed for searching statement text."""

    def __init__(self, open_items: Sequence[OpenItem], expected: Sequence[ExpectedCredit]) -> None:
        self.items: dict[str, OpenItem] = {}
        self.customers: dict[str, _Customer] = {}
        self.expected: dict[str, ExpectedCredit] = {}
        self.exact: dict[str, list[tuple[str, str]]] = {}  # collapsed text -> (kind, id)
        self.tolerant: dict[tuple[_Part, ...], list[str]] = {}  # letters and numbers as numbers
        self.bare: dict[tuple[str, ...], list[str]] = {}  # without the letter prefix, digits as written
        for i, item in enumerate(open_items):
            if item.invoice_id in self.items:
                raise DomainError(
                    "duplicate_open_item", f"Invoice {item.invoice_id} is listed twice.", f"open_items.{i}"
                )
            self.items[item.invoice_id] = item
            ibans = {n for n in (normalize_iban(x) for x in item.ibans) if n}
            customer = self.customers.setdefault(
                item.customer_id,
                _Customer(item.customer_id, item.customer_name, item.customer_reference, set()),
            )
            customer.ibans |= ibans
            customer.items.append(item)
            self._index_exact(item.number, "invoice", item.invoice_id, 1)
            tokens = _tokens(item.number)
            self.tolerant.setdefault(tuple(t.part for t in tokens), []).append(item.invoice_id)
            first_digit = next((k for k, t in enumerate(tokens) if t.part[0] == "D"), len(tokens))
            if first_digit and sum(t.part[0] == "D" for t in tokens[first_digit:]) >= 2:
                self.bare.setdefault(tuple(t.text for t in tokens[first_digit:]), []).append(item.invoice_id)
        for customer in self.customers.values():
            customer.items.sort(key=lambda it: (it.due_date, it.number, it.invoice_id))
            if customer.reference:
                self._index_exact(customer.reference, "customer", customer.id, MIN_REFERENCE_CHARS)
        for i, credit in enumerate(expected):
            if credit.id in self.expected:
                raise DomainError(
                    "duplicate_expected_credit", f"{credit.id} is listed twice.", f"expected.{i}"
                )
            self.expected[credit.id] = credit
            self._index_exact(credit.ref, "expected", credit.id, MIN_REFERENCE_CHARS)
        self.widths = sorted({len(k) for k in self.tolerant} | {len(k) for k in self.bare})
        self.longest = max((len(k) for k in self.exact), default=0)
        self.by_iban: dict[str, list[str]] = {}
        for customer in sorted(self.customers.values(), key=lambda c: c.id):
            for iban in customer.ibans:
                self.by_iban.setdefault(iban, []).append(customer.id)

    def _index_exact(self, text: str, kind: str, key: str, shortest: int) -> None:
        collapsed = "".join(t.text for t in _tokens(text))
        if len(collapsed) >= shortest:
            self.exact.setdefault(collapsed, []).append((kind, key))

    def find(self, line: StatementLine) -> _Found:
        named: dict[str, tuple[int, int, bool]] = {}  # invoice id -> (field, start, exact)
        customers: set[str] = set()
        expected: set[str] = set()
        notes: list[str] = []
        for index, text in enumerate(t for t in (line.reference, line.description) if t):
            tokens = _tokens(text)
            claimed: list[tuple[int, int]] = []
            for i in range(len(tokens)):
                collapsed = ""
                for j in range(i, len(tokens)):
                    collapsed += tokens[j].text
                    if len(collapsed) > self.longest:
                        break
                    hits = self.exact.get(collapsed, [])
                    invoices = [key for kind, key in hits if kind == "invoice"]
                    customers.update(key for kind, key in hits if kind == "customer")
                    expected.update(key for kind, key in hits if kind == "expected")
                    if invoices:
                        claimed.append((i, j + 1))
                        if len(invoices) == 1:
                            named.setdefault(invoices[0], (index, tokens[i].start, True))
                        else:
                            numbers = " or ".join(sorted(self.items[x].number for x in invoices))
                            notes.append(
                                f'"{text[tokens[i].start : tokens[j].end]}" could be {numbers}: not counted'
                            )
            spans: list[tuple[int, int, list[str]]] = []
            for i in range(len(tokens)):
                for width in self.widths:
                    run = tokens[i : i + width]
                    if len(run) < width:
                        break
                    fits = set(self.tolerant.get(tuple(t.part for t in run), []))
                    if not (i and tokens[i - 1].glued):  # "NL-2026-00012": another series' prefix
                        fits.update(self.bare.get(tuple(t.text for t in run), []))
                    if fits:
                        spans.append((i, i + width, sorted(fits)))
            for start, end, ids in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
                if any(start < e and s < end for s, e in claimed):
                    continue  # inside a longer or exact match: that one says what is meant
                claimed.append((start, end))
                if len(ids) == 1:
                    named.setdefault(ids[0], (index, tokens[start].start, False))
                else:
                    written = text[tokens[start].start : tokens[end - 1].end]
                    numbers = " or ".join(self.items[x].number for x in ids)
                    notes.append(f'"{written}" could be {numbers}: not counted')
        order = sorted(named, key=lambda k: (named[k][0], named[k][1], k))
        return _Found(
            named=tuple((k, named[k][2]) for k in order),
            customers=frozenset(customers),
            expected=frozenset(expected),
            notes=tuple(notes),
        )


# ---- scoring ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Candidate:
    rank: str
    confidence: Decimal
    customer_id: str | None = None
    expected_id: str | None = None
    allocations: tuple[Allocation, ...] = ()
    unapplied: Money
    reasons: tuple[str, ...]
    doubts: tuple[str, ...] = ()  # why it is never applied automatically, however high it scores


def _listing(numbers: Sequence[str]) -> str:
    return numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]


def _days(line: StatementLine, day: date) -> str:
    gap = (line.booked_on - day).days
    return "on" if gap == 0 else f"{abs(gap)} day{'s' * (abs(gap) != 1)} {'after' if gap > 0 else 'before'}"


def _score_customer(
    customer: _Customer, line: StatementLine, found: _Found, pool: dict[str, Money]
) -> _Candidate | None:
    amount = line.amount
    items = [it for it in customer.items if it.remaining.currency == amount.currency]
    ids = {it.invoice_id for it in items}
    owing = [
        OpenInvoice(id=it.invoice_id, number=it.number, due_date=it.due_date, remaining=pool[it.invoice_id])
        for it in items
        if pool[it.invoice_id].amount > 0
    ]
    live = {o.id for o in owing}
    points, reasons = Decimal(0), []
    named_points, named, settled = Decimal(0), [], False
    for invoice_id, exact in found.named:
        if invoice_id not in ids:
            continue
        number = next(it.number for it in items if it.invoice_id == invoice_id)
        if invoice_id in live:
            named.append(invoice_id)
            named_points = max(named_points, NAMED_EXACT if exact else NAMED_TOLERANT)
            reasons.append(f"reference names {number}" + ("" if exact else " (spelled differently)"))
        else:
            settled = True
            reasons.append(f"reference names {number}, which has nothing left to pay")
    points += named_points or (NAMED_SETTLED if settled else Decimal(0))
    if customer.id in found.customers:
        points += CUSTOMER_REFERENCE
        reasons.append(f"reference carries the customer reference {customer.reference}")
    if normalize_iban(line.counterparty_iban) in customer.ibans:
        points += KNOWN_IBAN
        reasons.append(f"IBAN known for {customer.name}")
    payer = line.counterparty_name or ""
    similarity = (
        name_similarity(payer, customer.name) if _may_be_similar(payer, customer.name) else Decimal(0)
    )
    if similarity >= NAME_FLOOR:
        points += (similarity * NAME_WEIGHT).quantize(_CENT, rounding=ROUND_HALF_UP)
        reasons.append(f"name similar ({similarity})")
    if named:
        targets = [o for o in owing if o.id in named]
        allocations, rest = apply_cash(amount, targets)
        owed = sum((o.remaining for o in targets), Money.zero(amount.currency))
        numbers = _listing([o.number for o in targets])
        if owed == amount:
            points += EQUAL_AMOUNT
            reasons.append(f"amount equals the open balance of {numbers}")
        elif rest.amount > 0:
            reasons.append(f"amount exceeds {numbers} by {rest}: the rest goes to the credit balance")
        else:
            reasons.append(f"amount is {owed - amount} short of {numbers}: paid in part, oldest first")
    else:
        equal = [o for o in owing if o.remaining == amount]
        if equal:
            allocations, rest = (
                [Allocation(invoice_id=equal[0].id, amount=amount)],
                Money.zero(amount.currency),
            )
            points += EQUAL_AMOUNT
            reasons.append(f"amount equals the open balance of {equal[0].number}")
        else:
            if not points and not _sums_to(owing, amount):
                return None  # nothing ties this customer to the line: no need to work out what it would pay
            allocations, rest = apply_cash(amount, owing) if owing else ([], amount)
            by_id = {o.id: o for o in owing}
            if (
                len(allocations) >= 2
                and not rest.amount
                and all(a.amount == by_id[a.invoice_id].remaining for a in allocations)
            ):
                points += EQUAL_AMOUNT
                numbers = _listing([by_id[a.invoice_id].number for a in allocations])
                reasons.append(
                    f"amount equals the sum of the {len(allocations)} oldest open invoices ({numbers})"
                )
            elif allocations:
                numbers = _listing([by_id[a.invoice_id].number for a in allocations])
                left = f", {rest} left for the credit balance" if rest.amount else ""
                reasons.append(f"amount matches no open balance: pays {numbers} oldest first{left}")
    if not points:
        return None
    if allocations:
        due = next(o.due_date for o in owing if o.id == allocations[0].invoice_id)
        if abs((line.booked_on - due).days) <= DUE_DATE_DAYS:
            points += NEAR_DUE_DATE
            reasons.append(f"booked {_days(line, due)} the due date")
    doubts = []
    if settled and not named:
        doubts.append("names only invoices already paid")
    if not allocations:
        doubts.append("pays no open invoice")
    return _Candidate(
        rank=f"c:{customer.id}",
        confidence=min(points, _ONE),
        customer_id=customer.id,
        allocations=tuple(allocations),
        unapplied=rest,
        reasons=tuple(reasons),
        doubts=tuple(doubts),
    )


def _sums_to(owing: Sequence[OpenInvoice], amount: Money) -> bool:
    """The amount is what the k >= 2 oldest open invoices owe together (apply_cash's order)."""
    total, count = Money.zero(amount.currency), 0
    for o in sorted(owing, key=lambda o: (o.due_date, o.number)):
        total, count = total + o.remaining, count + 1
        if total >= amount:
            return count >= 2 and total == amount
    return False


def _score_expected(credit: ExpectedCredit, line: StatementLine, found: _Found) -> _Candidate | None:
    points, reasons = Decimal(0), []
    what = "payout" if credit.kind == ExpectedKind.PAYOUT else "SEPA batch"
    if credit.id in found.expected:
        points += EXPECTED_REF
        reasons.append(f"text carries the {what} reference {credit.ref}")
    if credit.amount == line.amount:
        points += EXPECTED_AMOUNT
        reasons.append(f"amount equals the expected {what} net")
        if abs((line.booked_on - credit.expected_on).days) <= EXPECTED_DAYS:
            points += EXPECTED_WINDOW
            reasons.append(f"booked {_days(line, credit.expected_on)} the expected date")
    elif points:
        reasons.append(
            f"amount differs from the expected net {credit.amount} by {line.amount - credit.amount}"
        )
    if not points:
        return None
    return _Candidate(
        rank=f"e:{credit.id}",
        confidence=min(points, _ONE),
        expected_id=credit.id,
        unapplied=Money.zero(line.amount.currency),
        reasons=tuple(reasons),
    )


def _candidates(
    book: _Book, line: StatementLine, found: _Found, pool: dict[str, Money], taken: set[str]
) -> list[_Candidate]:
    out: list[_Candidate] = []
    for customer_id in sorted(book.customers):
        candidate = _score_customer(book.customers[customer_id], line, found, pool)
        if candidate is not None:
            out.append(candidate)
    for credit_id in sorted(book.expected):
        credit = book.expected[credit_id]
        if credit_id in taken or credit.amount.currency != line.amount.currency:
            continue
        candidate = _score_expected(credit, line, found)
        if candidate is not None:
            out.append(candidate)
    return sorted(out, key=lambda c: (-c.confidence, c.rank))


def _propose(
    candidates: list[_Candidate], line: StatementLine, found: _Found, threshold: Decimal, margin: Decimal
) -> Proposal:
    zero = Money.zero(line.amount.currency)
    if not candidates:
        why = "unidentified: no invoice, customer or expected credit matches"
        return Proposal(
            line_key=line.key, amount=line.amount, decision=Decision.UNMATCHED, confidence=Decimal("0.00"),
            unapplied=zero, reasons=(why, *found.notes),
        )  # fmt: skip
    best, others = candidates[0], candidates[1:]
    second = others[0].confidence if others else Decimal(0)
    doubts: list[str] = []
    if best.confidence < threshold:
        doubts.append(f"confidence {best.confidence} is below {threshold}")
    if others and best.confidence - second < margin:
        doubts.append(f"{(others[0].customer_id or others[0].expected_id)} is close behind ({second})")
    doubts.extend(best.doubts)
    alternatives = tuple(
        Alternative(
            customer_id=c.customer_id,
            invoice_ids=tuple(a.invoice_id for a in c.allocations),
            expected_id=c.expected_id,
            confidence=c.confidence,
        )
        for c in others[:MAX_ALTERNATIVES]
    )
    return Proposal(
        line_key=line.key,
        amount=line.amount,
        decision=Decision.REVIEW if doubts else Decision.APPLY,
        confidence=best.confidence.quantize(_CENT),
        customer_id=best.customer_id,
        allocations=best.allocations,
        expected_id=best.expected_id,
        unapplied=best.unapplied,
        reasons=best.reasons + found.notes + tuple(doubts),
        alternatives=alternatives,
    )


def _share(value: Decimal, name: str) -> Decimal:
    if not isinstance(value, Decimal) or not 0 <= value <= 1:
        raise DomainError("invalid_threshold", f"{name} is a Decimal from 0 to 1.", name)
    return value


def match_lines(
    lines: Sequence[StatementLine],
    open_items: Iterable[OpenItem],
    expected: Iterable[ExpectedCredit],
    *,
    auto_threshold: Decimal = Decimal("0.90"),
    margin: Decimal = Decimal("0.15"),
) -> list[Proposal]:
    """One proposal per line, in the lines' order (see the module docstring for how they are decided)."""
    threshold, margin = _share(auto_threshold, "auto_threshold"), _share(margin, "margin")
    book = _Book(list(open_items), list(expected))
    pool = {item.invoice_id: item.remaining for item in book.items.values()}
    taken: set[str] = set()
    found = [book.find(line) if line.credit else _Found() for line in lines]
    credits = [i for i, line in enumerate(lines) if line.credit]
    order = [i for i in credits if found[i].named] + [i for i in credits if not found[i].named]

    def propose(i: int) -> Proposal:
        candidates = _candidates(book, lines[i], found[i], pool, taken)
        return _propose(candidates, lines[i], found[i], threshold, margin)

    def take(proposal: Proposal) -> None:
        for allocation in proposal.allocations:
            pool[allocation.invoice_id] = pool[allocation.invoice_id] - allocation.amount
        if proposal.expected_id is not None:
            taken.add(proposal.expected_id)

    decided: dict[int, Proposal] = {}
    for i in order:  # first only what is confident takes money ...
        proposal = propose(i)
        if proposal.decision is Decision.APPLY:
            take(proposal)
            decided[i] = proposal
    for i in order:  # ... then the rest, against what is left, each taking what it proposes
        if i not in decided:
            decided[i] = proposal = propose(i)
            take(proposal)
    return [decided.get(i) or _money_out(line) for i, line in enumerate(lines)]


def _money_out(line: StatementLine) -> Proposal:
    why = "money out: not a receivable, ignored" if line.amount.amount < 0 else "no amount"
    return Proposal(
        line_key=line.key, amount=line.amount, decision=Decision.UNMATCHED, confidence=Decimal("0.00"),
        unapplied=Money.zero(line.amount.currency), reasons=(why,),
    )  # fmt: skip
