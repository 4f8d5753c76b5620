"""A small business for the console's billing, reconciliation and runs tests, made through the services: a
monthly plan at 49.00 EUR with metered API calls, two customers on the system clock subscribed from
2026-01-01 (so their first bill date has come at the tests' 09:00 UTC and a bill run has work), one-off
invoices finalized by hand, and bank statements written as CAMT.053 the way banks write them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from kassa.core.audit import Actor
from kassa.core.invoicing import Invoice
from kassa.services import billable_metrics, catalog, customers, invoicing, subscriptions
from kassa.services.context import ServiceContext

TENANT_IBAN = "DE02120300000000202051"
IBAN_ACME = "NL91ABNA0417164300"
IBAN_GLOBEX = "FR1420041010050500013M02606"
IBAN_STRANGER = "GB29NWBK60161331926819"

CATALOG: dict[str, Any] = {
    "products": [{"code": "app", "name": "App", "plans": [
        {"code": "team-monthly", "name": "Team", "billing_period": "month",
         "phases": [{"type": "evergreen", "prices": {"EUR": {"flat": "49.00"}}}],
         "charges": [{"metric": "api_calls", "model": "per_unit", "description": "API calls",
                      "prices": {"EUR": {"unit": "0.01"}}}]},
    ]}],
}  # fmt: skip


@dataclass
class Business:
    acme: str  # customer ids
    globex: str
    subscriptions: dict[str, str]  # customer id -> subscription id


def business(ctx: ServiceContext, actor: Actor) -> Business:
    billable_metrics.create_metric(
        ctx, actor, {"code": "api_calls", "name": "API calls", "aggregation": "count"}
    )
    catalog.apply_catalog(ctx, actor, CATALOG, effective_at=datetime(2025, 1, 1, tzinfo=UTC))
    ids = []
    for external, name in (("acme", "Acme GmbH"), ("globex", "Globex Corporation")):
        ids.append(customers.create_customer(ctx, actor, {
            "external_id": external, "name": name, "currency": "EUR", "time_zone": "UTC", "payment_terms_days": 14,
        }).id)  # fmt: skip
    subs = {
        cid: subscriptions.create_subscription(
            ctx, actor, {"customer_id": cid, "plan": "team-monthly", "start_date": "2026-01-01"}
        ).id
        for cid in ids
    }
    return Business(acme=ids[0], globex=ids[1], subscriptions=subs)


def invoice(
    ctx: ServiceContext, actor: Actor, customer_id: str, amount: str, what: str = "Consulting"
) -> Invoice:
    """A one-off invoice of `amount` (no tax), finalized: open and numbered."""
    draft = invoicing.create_invoice(ctx, actor, {"customer_id": customer_id, "lines": [
        {"description": what, "quantity": "1", "unit_price": amount}]})  # fmt: skip
    return invoicing.finalize_invoice(ctx, actor, draft.id)


Row = tuple[date, str, str | None, str | None, str | None]  # booked on, signed amount, reference, name, IBAN


def camt053(rows: Sequence[Row], *, statement_id: str = "STMT-1") -> bytes:
    """A camt.053.001.02 statement of the tenant's account in EUR, one booked entry per row."""
    closing = Decimal("1000.00") + sum((Decimal(r[1]) for r in rows), Decimal(0))
    first, last = min(r[0] for r in rows), max(r[0] for r in rows)

    def balance(code: str, amount: Decimal, day: date) -> str:
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"EUR\">{abs(amount)}</Amt>"
                f"<CdtDbtInd>{'CRDT' if amount >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>")  # fmt: skip

    entries = []
    for booked_on, amount, reference, name, iban in rows:
        credit = not amount.startswith("-")
        party = "Dbtr" if credit else "Cdtr"
        parties = (f"<{party}><Nm>{escape(name)}</Nm></{party}>" if name else "") + (
            f"<{party}Acct><Id><IBAN>{iban}</IBAN></Id></{party}Acct>" if iban else ""
        )
        remittance = f"<RmtInf><Ustrd>{escape(reference)}</Ustrd></RmtInf>" if reference else ""
        entries.append(
            f"<Ntry><Amt Ccy=\"EUR\">{amount.lstrip('-')}</Amt><CdtDbtInd>{'CRDT' if credit else 'DBIT'}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{booked_on}</Dt></BookgDt><ValDt><Dt>{booked_on}</Dt></ValDt>"
            f"<NtryDtls><TxDtls><RltdPties>{parties}</RltdPties>{remittance}</TxDtls></NtryDtls></Ntry>"
        )  # fmt: skip
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{last}T18:00:00+01:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>{statement_id}</Id><CreDtTm>{last}T18:00:00+01:00</CreDtTm>"
        f"<Acct><Id><IBAN>{TENANT_IBAN}</IBAN></Id><Ccy>EUR</Ccy></Acct>"
        f"{balance('OPBD', Decimal('1000.00'), first)}{balance('CLBD', closing, last)}"
        f"{''.join(entries)}</Stmt></BkToCstmrStmt></Document>"
    ).encode()
