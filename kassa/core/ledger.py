"""The double-entry general ledger: a tenant's chart of accounts and the balanced journal entries that
every money movement posts (see docs/ledger.md).

Services post entries through the builders (`invoice_entry`, `credit_note_entry`, ...), which speak in
roles (`Role.ACCOUNTS_RECEIVABLE`) that the tenant's chart maps to its own account codes. An entry is
balanced by construction: `JournalEntry` refuses postings whose debits and credits differ. Finalized
entries are never edited; `reversing` is the correction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from kassa.core.errors import DomainError, prefixed
from kassa.core.money import Money, currency_code

ACCOUNT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
OVERRIDE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # a product code or a jurisdiction
SOURCE_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_ACCOUNTS = 500
MAX_TEXT = 500


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class Role(StrEnum):
    """What a posting is for; the chart maps each role (and per-key overrides) to an account."""

    CASH = "cash"
    PAYMENTS_IN_TRANSIT = "payments_in_transit"  # captured by a gateway, not yet paid out to the bank
    ACCOUNTS_RECEIVABLE = "accounts_receivable"
    UNBILLED_RECEIVABLE = "unbilled_receivable"  # earned but not yet invoiced (usage in arrears)
    TAX_PAYABLE = "tax_payable"
    CUSTOMER_CREDIT = "customer_credit"  # the credit balance: money owed back to customers
    DEFERRED_REVENUE = "deferred_revenue"
    PREPAID_WALLET = "prepaid_wallet"
    REVENUE = "revenue"
    DISCOUNTS = "discounts"  # contra-revenue
    CREDIT_GRANTS = "credit_grants"  # goodwill credits are an expense, not less revenue
    BAD_DEBT = "bad_debt"
    PAYMENT_FEES = "payment_fees"


class SourceType(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    CREDIT_GRANT = "credit_grant"
    INVOICE_VOID = "invoice_void"
    INVOICE_UNCOLLECTIBLE = "invoice_uncollectible"
    PAYMENT = "payment"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    PAYOUT = "payout"
    REVENUE_RECOGNITION = "revenue_recognition"
    WALLET = "wallet"  # a prepaid wallet's transaction: top-up, draw, expiry


_ROLES = frozenset(Role)
_ACCOUNT_TYPES = frozenset(AccountType)
# A role mapped to an account of another type is a misconfiguration that would put, say, receivables
# into revenue; where practice differs (discounts as expense) both are allowed.
ROLE_TYPES: Mapping[Role, frozenset[AccountType]] = {
    Role.CASH: frozenset({AccountType.ASSET}),
    Role.PAYMENTS_IN_TRANSIT: frozenset({AccountType.ASSET}),
    Role.ACCOUNTS_RECEIVABLE: frozenset({AccountType.ASSET}),
    Role.UNBILLED_RECEIVABLE: frozenset({AccountType.ASSET}),
    Role.TAX_PAYABLE: frozenset({AccountType.LIABILITY}),
    Role.CUSTOMER_CREDIT: frozenset({AccountType.LIABILITY}),
    Role.DEFERRED_REVENUE: frozenset({AccountType.LIABILITY}),
    Role.PREPAID_WALLET: frozenset({AccountType.LIABILITY}),
    Role.REVENUE: frozenset({AccountType.REVENUE}),
    Role.DISCOUNTS: frozenset({AccountType.REVENUE, AccountType.EXPENSE}),
    Role.CREDIT_GRANTS: frozenset({AccountType.EXPENSE, AccountType.REVENUE}),
    Role.BAD_DEBT: frozenset({AccountType.EXPENSE}),
    Role.PAYMENT_FEES: frozenset({AccountType.EXPENSE}),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    code: str
    name: str
    type: AccountType
    contra: bool = False  # a contra account (discounts against revenue) keeps the opposite normal side

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not ACCOUNT_CODE.fullmatch(self.code):
            raise _chart_error("code", "An account code is 1 to 32 letters, digits, '.', '_' or '-'.")
        if not isinstance(self.name, str) or not 1 <= len(self.name.strip()) <= 200:
            raise _chart_error("name", "An account name is 1 to 200 characters.")
        if not isinstance(self.type, str) or self.type not in _ACCOUNT_TYPES:
            raise _chart_error("type", f"The type is one of {', '.join(AccountType)}.")
        if not isinstance(self.contra, bool):
            raise _chart_error("contra", "contra is true or false.")
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "type", AccountType(self.type))

    @property
    def normal_side(self) -> Side:
        debit = self.type in (AccountType.ASSET, AccountType.EXPENSE)
        return Side.DEBIT if debit != self.contra else Side.CREDIT


@dataclass(frozen=True, slots=True, kw_only=True)
class ChartOfAccounts:
    """Accounts, the account of each role, and overrides keyed "<role>:<key>" ("revenue:<product code>",
    "tax_payable:<jurisdiction>"). Checked whole on construction, so every role resolves."""

    accounts: tuple[Account, ...]
    roles: Mapping[Role, str]
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        accounts = tuple(self.accounts)
        if not accounts or len(accounts) > MAX_ACCOUNTS:
            raise _chart_error("accounts", f"A chart has 1 to {MAX_ACCOUNTS} accounts.")
        types: dict[str, AccountType] = {}
        for i, account in enumerate(accounts):
            if account.code in types:
                raise _chart_error(
                    f"accounts.{i}.code", f"Account {account.code} is listed twice.", "duplicate_account"
                )
            types[account.code] = account.type
        for role in self.roles:
            if role not in _ROLES:
                raise _chart_error(f"roles.{role}", f"Unknown role {role!r}.")
        roles = {Role(role): code for role, code in self.roles.items()}
        for role in Role:
            if role not in roles:
                raise _chart_error(f"roles.{role}", f"No account for the role {role}.", "missing_role")
            _check_mapping(types, role, roles[role], f"roles.{role}")
        for key, code in self.overrides.items():
            role_name, _, target = key.partition(":")
            if role_name not in _ROLES or not OVERRIDE_KEY.fullmatch(target):
                raise _chart_error(
                    f"overrides.{key}", 'An override key is "<role>:<key>", like "revenue:api".'
                )
            _check_mapping(types, Role(role_name), code, f"overrides.{key}")
        object.__setattr__(self, "accounts", accounts)
        object.__setattr__(self, "roles", {role: roles[role] for role in Role})
        object.__setattr__(self, "overrides", dict(sorted(self.overrides.items())))

    def account(self, role: Role, key: str | None = None) -> Account:
        """The override for (role, key) if there is one, else the role's account."""
        code = self.overrides.get(f"{role}:{key}") if key is not None else None
        return self.by_code(code if code is not None else self.roles[role])

    def by_code(self, code: str) -> Account:
        for account in self.accounts:
            if account.code == code:
                return account
        raise DomainError("unknown_account", f"The chart has no account {code!r}.", "account")


def _chart_error(path: str, message: str, code: str = "invalid_chart") -> DomainError:
    return DomainError(code, message, path)


def _check_mapping(types: Mapping[str, AccountType], role: Role, code: str, path: str) -> None:
    if code not in types:
        raise _chart_error(path, f"The chart has no account {code!r}.", "unknown_account")
    if types[code] not in ROLE_TYPES[role]:
        allowed = " or ".join(sorted(ROLE_TYPES[role]))
        raise _chart_error(
            path, f"{role} maps to an account of type {allowed}, not {types[code]}.", "account_type_mismatch"
        )


# code, name, type, role (None: an account no builder posts to). 4900 is the one contra account.
_DEFAULT_ACCOUNTS: tuple[tuple[str, str, AccountType, Role | None], ...] = (
    ("1000", "Cash", AccountType.ASSET, Role.CASH),
    ("1050", "Payments in transit", AccountType.ASSET, Role.PAYMENTS_IN_TRANSIT),
    ("1100", "Accounts receivable", AccountType.ASSET, Role.ACCOUNTS_RECEIVABLE),
    ("1150", "Unbilled receivables", AccountType.ASSET, Role.UNBILLED_RECEIVABLE),
    ("2100", "Tax payable", AccountType.LIABILITY, Role.TAX_PAYABLE),
    ("2200", "Customer credit balances", AccountType.LIABILITY, Role.CUSTOMER_CREDIT),
    ("2300", "Deferred revenue", AccountType.LIABILITY, Role.DEFERRED_REVENUE),
    ("2400", "Prepaid wallets", AccountType.LIABILITY, Role.PREPAID_WALLET),
    ("3000", "Retained earnings", AccountType.EQUITY, None),
    ("4000", "Revenue", AccountType.REVENUE, Role.REVENUE),
    ("4900", "Discounts", AccountType.REVENUE, Role.DISCOUNTS),
    ("6100", "Goodwill credits", AccountType.EXPENSE, Role.CREDIT_GRANTS),
    ("6200", "Bad debt", AccountType.EXPENSE, Role.BAD_DEBT),
    ("6300", "Payment fees", AccountType.EXPENSE, Role.PAYMENT_FEES),
)


def default_chart() -> ChartOfAccounts:
    return ChartOfAccounts(
        accounts=tuple(
            Account(code=c, name=n, type=t, contra=c == "4900") for c, n, t, _ in _DEFAULT_ACCOUNTS
        ),
        roles={role: code for code, _, _, role in _DEFAULT_ACCOUNTS if role is not None},
    )


def parse_chart(doc: Mapping[str, Any]) -> ChartOfAccounts:
    """A chart from its JSON document ({accounts: [{code, name, type, contra?}], roles: {role: code},
    overrides?: {"<role>:<key>": code}}); the first problem is reported with its path."""
    if not isinstance(doc, Mapping):
        raise _chart_error("", "A chart is an object.")
    _known_fields(doc, "", {"accounts", "roles", "overrides"})
    items = doc.get("accounts")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ACCOUNTS:
        raise _chart_error("accounts", f"Expected a list of 1 to {MAX_ACCOUNTS} accounts.")
    accounts = tuple(_account(item, f"accounts.{i}") for i, item in enumerate(items))
    roles: Mapping[Any, str] = _string_map(doc.get("roles"), "roles")  # role names checked by the chart
    overrides = _string_map(doc.get("overrides", {}), "overrides")
    return ChartOfAccounts(accounts=accounts, roles=roles, overrides=overrides)


def _known_fields(doc: Mapping[str, Any], path: str, names: set[str]) -> None:
    for key in doc:
        if key not in names:
            raise _chart_error(f"{path}{key}", f"Unknown field {key!r}.")


def _account(item: Any, path: str) -> Account:
    if not isinstance(item, Mapping):
        raise _chart_error(path, "An account is an object.")
    _known_fields(item, f"{path}.", {"code", "name", "type", "contra"})
    fields: dict[str, Any] = {"code": None, "name": None, "type": None, "contra": False} | dict(item)
    try:
        return Account(**fields)
    except DomainError as error:
        raise prefixed(error, path) from None


def _string_map(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) > MAX_ACCOUNTS:
        raise _chart_error(path, "Expected an object of account codes.")
    for key, code in value.items():
        if not isinstance(code, str):
            raise _chart_error(f"{path}.{key}", "Expected an account code.")
    return dict(value)


def chart_to_json(chart: ChartOfAccounts) -> dict[str, Any]:
    return {
        "accounts": [
            {"code": a.code, "name": a.name, "type": str(a.type), "contra": a.contra} for a in chart.accounts
        ],
        "roles": {str(role): code for role, code in chart.roles.items()},
        "overrides": dict(chart.overrides),
    }


# ---- journal entries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Posting:
    account: str
    side: Side
    amount: Money  # positive and rounded: the side carries the sign
    memo: str | None = None

    def __post_init__(self) -> None:
        _account_code(self.account, "account")
        if not isinstance(self.amount, Money) or not self.amount.is_rounded or self.amount.amount <= 0:
            raise DomainError("invalid_amount", "A posting's amount is positive and rounded.", "amount")
        object.__setattr__(self, "side", Side(self.side))
        if self.memo is not None:
            _text(self.memo, "memo")

    @property
    def signed(self) -> Money:
        """Debit-positive."""
        return self.amount if self.side is Side.DEBIT else -self.amount


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    tenant_id: str
    id: str
    posted_at: datetime
    source_type: str
    source_id: str
    description: str
    currency: str
    postings: tuple[Posting, ...]
    reverses: str | None = None  # the id of the entry this one reverses
    # the accounting date in the books' calendar; None until posted (the service takes the tenant's local
    # day of posted_at). Revenue recognized for a past day is booked on that day while posted later.
    booked_on: date | None = None
    effective_on: date | None = None  # the day it belonged to, when a closed period moved it on
    note: str | None = None  # why it was booked where it was

    def __post_init__(self) -> None:
        for name in ("tenant_id", "id", "source_id"):
            _text(getattr(self, name), name, limit=200)
        _text(self.description, "description")
        if not isinstance(self.source_type, str) or not SOURCE_TYPE.fullmatch(self.source_type):
            raise DomainError(
                "invalid_source_type", "A source type is snake_case, like 'invoice'.", "source_type"
            )
        object.__setattr__(self, "source_type", str(self.source_type))
        object.__setattr__(self, "posted_at", _utc(self.posted_at))
        object.__setattr__(self, "currency", currency_code(self.currency, "currency"))
        postings = tuple(self.postings)
        for i, posting in enumerate(postings):
            if posting.amount.currency != self.currency:
                raise DomainError(
                    "currency_mismatch", f"This entry is in {self.currency}.", f"postings.{i}.amount"
                )
        object.__setattr__(self, "postings", postings)
        if not postings:
            raise DomainError("empty_entry", "An entry moves some money: it has postings.", "postings")
        if self.debits() != self.credits():
            raise DomainError(
                "unbalanced_entry", f"Debits {self.debits()} != credits {self.credits()}.", "postings"
            )

    def debits(self) -> Money:
        return sum((p.amount for p in self.postings if p.side is Side.DEBIT), Money.zero(self.currency))

    def credits(self) -> Money:
        return sum((p.amount for p in self.postings if p.side is Side.CREDIT), Money.zero(self.currency))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "posted_at": self.posted_at.isoformat(),
            "source_type": self.source_type,
            "source_id": self.source_id,
            "description": self.description,
            "currency": self.currency,
            "reverses": self.reverses,
            "postings": [
                {
                    "account": p.account,
                    "side": str(p.side),
                    "amount": {"amount": p.amount.amount_text(), "currency": p.amount.currency},
                    "memo": p.memo,
                }
                for p in self.postings
            ],
        }


def _text(value: Any, name: str, *, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise DomainError("invalid_value", f"{name} is text of 1 to {limit} characters.", name)
    return value


def _account_code(value: Any, name: str) -> str:
    if not isinstance(value, str) or not ACCOUNT_CODE.fullmatch(value):
        raise DomainError("invalid_account", f"{value!r} is not an account code.", name)
    return value


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise DomainError("invalid_timestamp", "posted_at is an aware instant.", "posted_at")
    return value.astimezone(UTC)


def _money(value: Any, currency: str, name: str) -> Money:
    if not isinstance(value, Money):
        raise DomainError("invalid_amount", f"{name} is Money.", name)
    if value.currency != currency:
        raise DomainError(
            "currency_mismatch", f"{name} is in {value.currency}, the entry in {currency}.", name
        )
    if not value.is_rounded:
        raise DomainError("not_rounded", f"{value} is not rounded to the currency's minor unit.", name)
    return value


def journal_entry(
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    source_type: str,
    source_id: str,
    description: str,
    currency: str,
    amounts: Sequence[tuple[str, Money]],
) -> JournalEntry:
    """The entry for signed amounts per account (positive debits, negative credits): amounts on one
    account are netted, zero nets dropped, debits listed first, each side in first-seen order."""
    code = currency_code(currency, "currency")
    nets: dict[str, Money] = {}
    for i, (account, amount) in enumerate(amounts):
        _account_code(account, f"amounts.{i}")
        nets[account] = nets.get(account, Money.zero(code)) + _money(amount, code, f"amounts.{i}")
    total = sum(nets.values(), Money.zero(code))
    if total.amount != 0:
        raise DomainError("unbalanced_entry", f"Debits exceed credits by {total}.", "amounts")
    debits = [Posting(account=a, side=Side.DEBIT, amount=m) for a, m in nets.items() if m.amount > 0]
    credits = [Posting(account=a, side=Side.CREDIT, amount=-m) for a, m in nets.items() if m.amount < 0]
    if not debits:
        raise DomainError("empty_entry", "Nothing moves: every account nets to zero.", "amounts")
    return JournalEntry(
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=source_type,
        source_id=source_id,
        description=description,
        currency=code,
        postings=(*debits, *credits),
    )


def reversing(
    entry: JournalEntry, *, id: str, posted_at: datetime, description: str, source_type: str | None = None
) -> JournalEntry:
    """The correction of a posted entry: every side swapped, pointing at it; by default same source."""
    if _utc(posted_at) < entry.posted_at:
        raise DomainError(
            "reversal_before_entry", "A reversal cannot be posted before its entry.", "posted_at"
        )
    # Listed like every entry: debits first, each side in the original's order.
    swapped = [p for p in entry.postings if p.side is Side.CREDIT] + [
        p for p in entry.postings if p.side is Side.DEBIT
    ]
    swapped = [replace(p, side=Side.CREDIT if p.side is Side.DEBIT else Side.DEBIT) for p in swapped]
    return replace(
        entry,
        id=id,
        posted_at=posted_at,
        description=description,
        postings=tuple(swapped),
        source_type=source_type or entry.source_type,
        reverses=entry.id,
    )


def balances(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], Money]:
    """Debit-positive balance per (account code, currency) of every account the entries touch; an
    account that nets to zero is listed with zero."""
    result: dict[tuple[str, str], Money] = {}
    for entry in entries:
        for posting in entry.postings:
            key = (posting.account, entry.currency)
            result[key] = result.get(key, Money.zero(entry.currency)) + posting.signed
    return result


# ---- the entries services post -------------------------------------------------------------------------


def _non_negative(value: Any, currency: str, name: str) -> Money:
    money = _money(value, currency, name)
    if money.amount < 0:
        raise DomainError("invalid_amount", f"{name} cannot be negative.", name)
    return money


def _keyed(
    chart: ChartOfAccounts, role: Role, values: Mapping[str, Any], currency: str, name: str, sign: int
) -> list[tuple[str, Money]]:
    return [
        (chart.account(role, key).code, sign * _money(m, currency, f"{name}.{key}"))
        for key, m in values.items()
    ]


def _total(amounts: Iterable[tuple[str, Money]], currency: str) -> Money:
    return sum((m for _, m in amounts), Money.zero(currency))


def invoice_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    invoice_id: str,
    number: str,
    currency: str,
    revenue: Mapping[str, Money],
    discounts: Money,
    taxes: Mapping[str, Money],
    credit_applied: Money,
    amount_due: Money,
    deferred: Money | None = None,
    unbilled: Money | None = None,
) -> JournalEntry:
    """Dr receivable (amount due), Dr customer credit (credit applied), Dr discounts; Cr revenue per
    product, Cr tax per jurisdiction. Negative revenue (proration credits) and taxes net to debits; an
    invoice whose total is negative has nothing due and a negative credit_applied: credit granted.
    With revenue recognition, `revenue` and `discounts` are what is recognized on the invoice's day; the
    net of the rest is credited to deferred revenue (`deferred`) or, recognized before the invoice, to
    unbilled receivables (`unbilled`)."""
    cur = currency_code(currency, "currency")
    due = _non_negative(amount_due, cur, "amount_due")
    applied = _money(credit_applied, cur, "credit_applied")
    if applied.amount < 0 and due.amount != 0:
        raise DomainError(
            "invalid_amount", "Credit is granted only by an invoice with nothing due.", "credit_applied"
        )
    debits = [
        (chart.account(Role.ACCOUNTS_RECEIVABLE).code, due),
        (chart.account(Role.CUSTOMER_CREDIT).code, applied),
        (chart.account(Role.DISCOUNTS).code, _non_negative(discounts, cur, "discounts")),
    ]
    credits = [
        *_keyed(chart, Role.REVENUE, revenue, cur, "revenue", -1),
        *_keyed(chart, Role.TAX_PAYABLE, taxes, cur, "taxes", -1),
        (chart.account(Role.DEFERRED_REVENUE).code, -_money(deferred or Money.zero(cur), cur, "deferred")),
        (chart.account(Role.UNBILLED_RECEIVABLE).code, -_money(unbilled or Money.zero(cur), cur, "unbilled")),
    ]
    charged = -_total(credits, cur) - debits[2][1]
    if due + applied != charged:
        raise DomainError(
            "unbalanced_entry",
            f"amount_due + credit_applied ({due + applied}) must equal revenue - "
            f"discounts + taxes ({charged}).",
            "amount_due",
        )
    return journal_entry(
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=SourceType.INVOICE,
        source_id=invoice_id,
        description=f"Invoice {number}",
        currency=cur,
        amounts=[*debits, *credits],
    )


def credit_note_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    credit_note_id: str,
    number: str,
    currency: str,
    revenue: Mapping[str, Money],
    discounts: Money,
    taxes: Mapping[str, Money],
    to_receivable: Money,
    to_credit_balance: Money,
    deferred: Money | None = None,
) -> JournalEntry:
    """The invoice's direction reversed: Dr revenue, Cr discounts, Dr tax; Cr receivable for what it takes
    off the invoice's open balance and Cr customer credit for what it adds to the credit balance. With
    revenue recognition, revenue and discounts are what it reverses on its day; `deferred` (Dr) is the net
    it takes off revenue still to be recognized."""
    cur = currency_code(currency, "currency")
    charges = [
        *_keyed(chart, Role.REVENUE, revenue, cur, "revenue", 1),
        (chart.account(Role.DISCOUNTS).code, -_non_negative(discounts, cur, "discounts")),
        *_keyed(chart, Role.TAX_PAYABLE, taxes, cur, "taxes", 1),
        (chart.account(Role.DEFERRED_REVENUE).code, _money(deferred or Money.zero(cur), cur, "deferred")),
    ]
    receivable = _non_negative(to_receivable, cur, "to_receivable")
    balance = _non_negative(to_credit_balance, cur, "to_credit_balance")
    if receivable + balance != _total(charges, cur):
        raise DomainError(
            "unbalanced_entry",
            f"to_receivable + to_credit_balance ({receivable + balance}) must equal "
            f"revenue - discounts + taxes ({_total(charges, cur)}).",
            "to_receivable",
        )
    settled = [
        (chart.account(Role.ACCOUNTS_RECEIVABLE).code, -receivable),
        (chart.account(Role.CUSTOMER_CREDIT).code, -balance),
    ]
    return journal_entry(
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=SourceType.CREDIT_NOTE,
        source_id=credit_note_id,
        description=f"Credit note {number}",
        currency=cur,
        amounts=[*charges, *settled],
    )


def credit_grant_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    grant_id: str,
    currency: str,
    amount: Money,
    reason: str,
) -> JournalEntry:
    """Dr credit grants (an expense), Cr customer credit."""
    return _two_sided(
        chart,
        Role.CREDIT_GRANTS,
        Role.CUSTOMER_CREDIT,
        amount,
        currency,
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=SourceType.CREDIT_GRANT,
        source_id=grant_id,
        description=f"Credit grant: {_text(reason, 'reason', limit=200)}",
    )


def uncollectible_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    invoice_id: str,
    number: str,
    currency: str,
    amount: Money,
    deferred: Money | None = None,
) -> JournalEntry:
    """Dr bad debt, Cr receivable: the open balance written off. `deferred` is revenue not yet recognized
    that will now never be earned: it is released from deferred revenue (Dr) and is no loss."""
    if deferred is not None and deferred.amount:
        released = _non_negative(deferred, currency, "deferred")
        if released > amount:
            raise DomainError("invalid_amount", "Only what is written off can be released.", "deferred")
        return journal_entry(
            tenant_id=tenant_id, id=id, posted_at=posted_at, source_type=SourceType.INVOICE_UNCOLLECTIBLE,
            source_id=invoice_id, description=f"Invoice {number} uncollectible", currency=currency,
            amounts=[(chart.account(Role.DEFERRED_REVENUE).code, released),
                     (chart.account(Role.BAD_DEBT).code, amount - released),
                     (chart.account(Role.ACCOUNTS_RECEIVABLE).code, -amount)])  # fmt: skip
    return _two_sided(
        chart,
        Role.BAD_DEBT,
        Role.ACCOUNTS_RECEIVABLE,
        amount,
        currency,
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=SourceType.INVOICE_UNCOLLECTIBLE,
        source_id=invoice_id,
        description=f"Invoice {number} uncollectible",
    )


def _two_sided(
    chart: ChartOfAccounts, debit: Role, credit: Role, amount: Money, currency: str, **entry: Any
) -> JournalEntry:
    cur = currency_code(currency, "currency")
    if _non_negative(amount, cur, "amount").amount == 0:
        raise DomainError("invalid_amount", "The amount is positive.", "amount")
    return journal_entry(
        **entry,
        currency=cur,
        amounts=[(chart.account(debit).code, amount), (chart.account(credit).code, -amount)],
    )


def void_entry(entry: JournalEntry, *, id: str, posted_at: datetime, number: str) -> JournalEntry:
    """The reversal of an invoice's entry: the receivable, revenue, tax and any credit applied go back."""
    if entry.source_type != SourceType.INVOICE:
        raise DomainError("not_an_invoice_entry", f"{entry.id} is a {entry.source_type} entry.", "entry")
    return reversing(
        entry,
        id=id,
        posted_at=posted_at,
        description=f"Void of invoice {number}",
        source_type=SourceType.INVOICE_VOID,
    )


# Breakage (paid wallet credits that expired unused) is revenue under the override key below, so a tenant
# that books it as other income maps "revenue:wallet_breakage" to that account.
WALLET_BREAKAGE = "wallet_breakage"


def wallet_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    transaction_id: str,
    description: str,
    currency: str,
    top_up: Money | None = None,
    cash: Role = Role.CASH,
    paid: Money | None = None,
    free: Money | None = None,
    breakage: Money | None = None,
) -> JournalEntry:
    """A prepaid wallet's movement (docs/wallets.md): a top-up is a deposit, never revenue (Dr `cash`,
    Cr prepaid wallets); credits paying an invoice (Dr prepaid wallets for the `paid` credits, Dr credit
    grants for the `free` ones, Cr receivable); paid credits expiring unused (Dr prepaid wallets, Cr
    breakage revenue). Free credits are booked only when they pay something: granting them moves no money."""
    zero = Money.zero(currency)
    top_up, paid, free, breakage = (x or zero for x in (top_up, paid, free, breakage))
    return journal_entry(
        tenant_id=tenant_id, id=id, posted_at=posted_at, source_type=SourceType.WALLET, source_id=transaction_id,
        description=description, currency=currency,
        amounts=[(chart.account(cash).code, top_up), (chart.account(Role.PREPAID_WALLET).code, -top_up),
                 (chart.account(Role.PREPAID_WALLET).code, paid), (chart.account(Role.CREDIT_GRANTS).code, free),
                 (chart.account(Role.ACCOUNTS_RECEIVABLE).code, -(paid + free)),
                 (chart.account(Role.PREPAID_WALLET).code, breakage),
                 (chart.account(Role.REVENUE, WALLET_BREAKAGE).code, -breakage)],
    )  # fmt: skip


def role_entry(
    chart: ChartOfAccounts,
    *,
    tenant_id: str,
    id: str,
    posted_at: datetime,
    source_type: SourceType,
    source_id: str,
    description: str,
    currency: str,
    amounts: Sequence[tuple[Role, Money]],
) -> JournalEntry:
    """An entry stated in roles (debit-positive): what payments, refunds, chargebacks and payouts post,
    e.g. a payment [(CASH, 100), (ACCOUNTS_RECEIVABLE, -80), (CUSTOMER_CREDIT, -20)]."""
    return journal_entry(
        tenant_id=tenant_id,
        id=id,
        posted_at=posted_at,
        source_type=source_type,
        source_id=source_id,
        description=description,
        currency=currency,
        amounts=[(chart.account(role).code, amount) for role, amount in amounts],
    )
