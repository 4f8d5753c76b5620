"""An invoice as one self-contained HTML page, localized with Babel.

Numbers, amounts, dates and country names follow the reader's locale; the words are English and live
in `LABELS`, one dict, so a translation can replace it later. Templates run in Jinja2's sandbox because
a tenant may send its own: its source must not reach Python internals (`__class__`, `__globals__`...).
A tenant template may `{% extends "invoice.html.j2" %}` and override blocks (see docs/invoices.md).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_interval
from babel.numbers import format_currency, format_decimal, format_percent
from jinja2 import PackageLoader, StrictUndefined, Template, TemplateError, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from kassa.adapters.presentment.qr import MAX_NAME, epc_payload, epc_qr_svg, svg_data_uri
from kassa.core.credit_notes import CreditNote, CreditNoteLine
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, InvoiceLine, InvoiceStatus
from kassa.core.money import MAX_PLACES, Money, currency, format_money
from kassa.core.tax import BreakdownRow, TaxRate

INVOICE_TEMPLATE = "invoice.html.j2"
CREDIT_NOTE_TEMPLATE = "credit_note.html.j2"

# fmt: off
LABELS: dict[str, str] = {
    "invoice": "Invoice", "draft": "DRAFT", "status_paid": "PAID", "status_void": "VOID",
    "number": "Invoice number", "issue_date": "Issue date", "due_date": "Due date",
    "bill_date": "Billing date", "seller": "From", "buyer": "Bill to", "customer_number": "Customer number",
    "tax_id": "Tax ID", "tax_id_eu_vat": "VAT ID", "tax_id_gb_vat": "VAT reg. no.", "email": "Email",
    "description": "Description", "period": "Service period", "quantity": "Quantity",
    "unit_price": "Unit price", "discount": "Discount", "net": "Net", "tax_rate": "Tax",
    "other_charges": "Other charges", "subscription": "Subscription", "subtotal": "Subtotal", "tax": "Tax",
    "total": "Total", "credit_applied": "Credit applied", "credit_granted": "Credited to your balance",
    "amount_credited": "Credit notes", "amount_paid": "Paid", "amount_due": "Amount due",
    "prices_include_tax": "Prices include tax.", "breakdown": "Tax breakdown", "tax_category": "Category",
    "rate": "Rate", "taxable": "Taxable amount", "tax_amount": "Tax", "payment": "Payment",
    "pay_by": "Please pay by", "amount_to_pay": "Amount", "account_holder": "Account holder", "bank": "Bank",
    "iban": "IBAN", "bic": "BIC", "reference": "Reference",
    "scan_to_pay": "Scan with your banking app to pay by SEPA transfer.",
    "not_payable": "This is a draft, not a request for payment.", "credit_note": "Credit note",
    "corrects": "Corrects invoice", "reason": "Reason", "reason_duplicate": "Duplicate charge",
    "reason_fraudulent": "Fraudulent charge", "reason_order_change": "Order change",
    "reason_product_unsatisfactory": "Product unsatisfactory", "reason_goodwill": "Goodwill",
    "reason_billing_correction": "Billing correction", "reason_other": "Other",
    "invoice_line": "Invoice line", "total_credited": "Total credited",
    "to_invoice": "Set against the invoice", "to_credit_balance": "Added to your credit balance",
    "page": "Page", "of": "of",
}
# fmt: on

_NO_QR_STATUSES = frozenset({InvoiceStatus.DRAFT, InvoiceStatus.PAID, InvoiceStatus.VOID})


@dataclass(frozen=True, slots=True)
class SubscriptionGroup:
    id: str | None  # None: lines that belong to no subscription (one-off charges)
    name: str
    lines: tuple[InvoiceLine, ...]


@dataclass(frozen=True, slots=True)
class AccountGroup:
    id: str
    name: str
    subscriptions: tuple[SubscriptionGroup, ...]


@dataclass(frozen=True, slots=True)
class Payment:
    account_holder: str
    bank_name: str | None
    iban: str
    bic: str | None
    reference: str | None  # the invoice number; None on a draft, which has none yet
    due_date: date | None
    amount: Money
    qr: str | None  # the EPC QR code as an SVG data URI


def render_invoice(invoice: Invoice, *, locale: str, template: str | None = None) -> str:
    """The invoice page in `locale`; `template` is a tenant's Jinja2 source replacing the default, and a
    fault in it is a DomainError `invalid_invoice_template` (field `template`)."""
    return _render(INVOICE_TEMPLATE, template, invoice_context(invoice, locale=locale))


def render_credit_note(
    note: CreditNote, invoice: Invoice, *, locale: str, template: str | None = None
) -> str:
    """The credit note page; `invoice` is the one it corrects (its parties, number and issue date)."""
    return _render(CREDIT_NOTE_TEMPLATE, template, credit_note_context(note, invoice, locale=locale))


def _render(name: str, source: str | None, context: dict[str, Any]) -> str:
    if source is None:
        return _environment().get_template(name).render(context)
    try:
        return _tenant_template(source).render(context)
    except TemplateError as error:
        raise DomainError("invalid_invoice_template", f"The template failed: {error}", "template") from None


def invoice_context(invoice: Invoice, *, locale: str) -> dict[str, Any]:
    """What a template sees; the names are documented in docs/invoices.md (tenant templates rely on them)."""
    context = _parties_context(invoice, locale)
    groups = group_lines(invoice, invoice.parties or {})
    return context | {
        "heading": LABELS["invoice"],
        "groups": groups,
        "several_accounts": len(groups) > 1,
        "title": invoice.number or LABELS["draft"],
        "issue_date": _issue_date(invoice, context["time_zone"]),
        "payment": _payment(invoice, context["seller"]),
    }


def credit_note_context(note: CreditNote, invoice: Invoice, *, locale: str) -> dict[str, Any]:
    context = _parties_context(invoice, locale)
    codes = {line.position: line.tax_code for line in invoice.lines}
    return context | {
        "note": note,
        "heading": LABELS["credit_note"],
        "title": note.number,
        "issue_date": note.created_at.astimezone(context["time_zone"]).date(),
        "invoice_issue_date": _issue_date(invoice, context["time_zone"]),
        "reason": LABELS.get(f"reason_{note.reason.value}", note.reason.value),
        "codes": codes,
        "breakdown": credit_breakdown(note, codes),
    }


def credit_breakdown(note: CreditNote, codes: Mapping[int, str]) -> tuple[BreakdownRow, ...]:
    """The credit note's tax per (category code, rate), like the invoice's breakdown: what each rate's tax
    is reduced by. Lines without tax form one row per code (AE, E, Z...)."""
    rows: dict[tuple[str, str | None], BreakdownRow] = {}
    for line in note.lines:
        code = codes.get(line.position, "")
        parts: list[tuple[TaxRate | None, Money, Money]] = [(t.rate, t.taxable, t.amount) for t in line.taxes]
        parts = parts or [(None, line.net, Money.zero(note.currency))]
        for rate, taxable, amount in parts:
            key = (code, rate.id if rate else None)
            if key in rows:
                row = rows[key]
                rows[key] = BreakdownRow(code=code, rate=rate, taxable=row.taxable + taxable,
                                         amount=row.amount + amount, note=None)  # fmt: skip
            else:
                rows[key] = BreakdownRow(code=code, rate=rate, taxable=taxable, amount=amount, note=None)
    return tuple(rows.values())


def _parties_context(invoice: Invoice, locale: str) -> dict[str, Any]:
    parsed = _locale(locale)
    parties = invoice.parties or {}
    seller = _party(parties.get("seller"), parsed)
    buyer = _party(parties.get("buyer"), parsed)
    return {
        "invoice": invoice,
        "labels": LABELS,
        "locale": str(parsed),
        "time_zone": _zone(buyer.get("time_zone") or seller.get("time_zone")),
        "seller": seller,
        "buyer": buyer,
    }


def _issue_date(invoice: Invoice, zone: ZoneInfo) -> date | None:
    return invoice.finalized_at.astimezone(zone).date() if invoice.finalized_at else None


def group_lines(invoice: Invoice, parties: Mapping[str, Any]) -> tuple[AccountGroup, ...]:
    """Lines by account (the payer's own first), then by subscription in order of appearance; lines of no
    subscription come last in their account."""
    names: Mapping[str, Any] = parties.get("accounts") or {}
    sub_names: Mapping[str, Any] = parties.get("subscriptions") or {}
    buyer = parties.get("buyer") or {}
    by_account: dict[str, dict[str | None, list[InvoiceLine]]] = {invoice.customer_id: {}}
    for line in invoice.lines:
        by_account.setdefault(line.item.account_id, {}).setdefault(line.item.subscription_id, []).append(line)
    out = []
    for account_id, subs in by_account.items():
        if not subs:
            continue
        ordered = sorted(subs.items(), key=lambda kv: kv[0] is None)  # stable: appearance order kept
        name = names.get(account_id) or (buyer.get("name") if account_id == invoice.customer_id else None)
        out.append(AccountGroup(
            id=account_id, name=str(name or account_id),
            subscriptions=tuple(
                SubscriptionGroup(id=sid, lines=tuple(lines), name=str(
                    LABELS["other_charges"] if sid is None else sub_names.get(sid) or f"{LABELS['subscription']} {sid}"
                )) for sid, lines in ordered
            ),
        ))  # fmt: skip
    return tuple(out)


def _payment(invoice: Invoice, seller: Mapping[str, Any]) -> Payment | None:
    bank = seller.get("bank")
    if not bank or not bank.get("iban"):
        return None
    if invoice.status is InvoiceStatus.VOID or invoice.amount_remaining.amount <= 0:
        return None
    holder = str(bank.get("account_holder") or seller.get("legal_name") or seller.get("name") or "")
    iban = str(bank["iban"]).replace(" ", "").upper()
    bic = str(bank["bic"]).replace(" ", "").upper() if bank.get("bic") else None
    qr = None
    if invoice.currency == "EUR" and invoice.number and invoice.status not in _NO_QR_STATUSES:
        try:
            payload = epc_payload(name=holder[:MAX_NAME], iban=iban, bic=bic, amount=invoice.amount_remaining,
                                  remittance=invoice.number)  # fmt: skip
        except DomainError:
            payload = None  # bad bank data must not stop the invoice; the details below still print
        qr = svg_data_uri(epc_qr_svg(payload)) if payload else None
    return Payment(account_holder=holder, bank_name=bank.get("bank_name"), iban=iban, bic=bic,
                   reference=invoice.number, due_date=invoice.due_date, amount=invoice.amount_remaining, qr=qr)  # fmt: skip


def _party(raw: Mapping[str, Any] | None, locale: Locale) -> dict[str, Any]:
    """The snapshot with every key a template may name present (StrictUndefined would fail on a gap),
    the address as printable lines and the tax ids with their labels."""
    raw = raw or {}
    address = raw.get("address")
    emails = list(raw.get("emails") or ([raw["email"]] if raw.get("email") else []))
    return {
        **raw,
        "name": raw.get("name") or "",
        "legal_name": raw.get("legal_name"),
        "address": address or None,
        "address_lines": _address_lines(address, locale) if address else [],
        "tax_ids": [_tax_id(t) for t in raw.get("tax_ids") or []],
        "emails": emails,
        "email": emails[0] if emails else None,
        "bank": raw.get("bank"),
        "external_id": raw.get("external_id"),
        "time_zone": raw.get("time_zone"),
    }


def _tax_id(raw: Mapping[str, Any]) -> dict[str, Any]:
    label = LABELS.get(f"tax_id_{raw.get('type')}", LABELS["tax_id"])
    return {
        "label": label,
        "value": raw.get("value", ""),
        "type": raw.get("type"),
        "country": raw.get("country"),
    }


def _address_lines(address: Mapping[str, Any], locale: Locale) -> list[str]:
    place = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
    country = address.get("country")
    country_name = locale.territories.get(country, country) if country else None
    return [
        str(p)
        for p in (address.get("line1"), address.get("line2"), place, address.get("state"), country_name)
        if p
    ]


def _locale(text: str) -> Locale:
    try:
        return Locale.parse(text.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError, AttributeError):
        raise DomainError("unknown_locale", f"Unknown locale {text!r}.", "locale") from None


def _zone(name: object) -> ZoneInfo:
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


# ---- filters: the locale comes from the render context, so one environment serves every reader ----------


@pass_context
def _money(ctx: Context, value: Money) -> str:
    return format_money(value, ctx["locale"])


@pass_context
def _price(ctx: Context, value: Decimal | None, code: str) -> str:
    """A unit price with as many decimals as it has (0.0125 € per call), at least the currency's."""
    if value is None:
        return ""
    exponent = value.normalize().as_tuple().exponent
    places = min(MAX_PLACES, max(currency(code).exponent, -exponent if isinstance(exponent, int) else 0))
    babel_locale = Locale.parse(ctx["locale"])
    pattern = copy.copy(babel_locale.currency_formats["standard"])
    pattern.frac_prec = (places, places)
    return format_currency(value, code, format=pattern, locale=babel_locale, currency_digits=False)


@pass_context
def _number(ctx: Context, value: Decimal | int) -> str:
    return format_decimal(value, locale=ctx["locale"], decimal_quantization=False)


@pass_context
def _percent(ctx: Context, value: Decimal) -> str:
    """A rate held as percent (19, 9.975) written the locale's way ("19 %", "9.975%")."""
    return format_percent(Decimal(value).scaleb(-2), locale=ctx["locale"], decimal_quantization=False)


@pass_context
def _date(ctx: Context, value: date | datetime | None, style: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(ctx["time_zone"]).date()
    return format_date(value, style, locale=ctx["locale"])


@pass_context
def _period(ctx: Context, start: date | None, end: date | None) -> str:
    """A half-open period [start, end) printed with its last day, the way a reader counts it."""
    if start is None:
        return ""
    if end is None or end <= start + timedelta(days=1):
        return format_date(start, "medium", locale=ctx["locale"])
    return format_interval(start, end - timedelta(days=1), "yMMMd", locale=ctx["locale"])


def _iban(value: str) -> str:
    compact = value.replace(" ", "")
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _css_string(value: str) -> Markup:
    """A CSS string literal (the page footer's labels). Everything but letters, digits and " .,:-" is a CSS
    escape, so the text can close neither the string nor the <style> element; marked safe because HTML
    escaping would write `&#34;` where CSS needs a quote."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,:-" else f"\\{ord(ch):06x}" for ch in str(value))
    return Markup(f'"{escaped}"')


def _tax_rates(line: InvoiceLine | CreditNoteLine) -> Sequence[Decimal]:
    return [t.rate.percent for t in line.taxes]


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=PackageLoader("kassa.adapters.presentment", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=_money, price=_price, number=_number, percent=_percent, date=_date, period=_period, iban=_iban,
        css_string=_css_string, tax_rates=_tax_rates,
    )  # fmt: skip
    return env


@lru_cache(maxsize=32)
def _tenant_template(source: str) -> Template:
    return _environment().from_string(source)
