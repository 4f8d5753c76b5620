"""The customer lifecycle in `kassa demo` (issue 9): leads from three sources, two converting into
customers (one with its first subscription), an offer decided for a customer with its reasons, support
tickets under an SLA policy with the attainment report, a prepaid wallet topped up and drawn, and disputes
on invoice lines, one resolved at once and one queued for an agent."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kassa.services import (
    disputes,
    invoicing,
    leads,
    offers,
    payments,
    sla_attainment,
    support,
    tenants,
    wallets,
)
from kassa.services.context import ServiceContext

Say = Callable[[str], None]

LEADS: list[dict[str, Any]] = [
    {"email": "hanna@fjordtech.example", "name": "Hanna Berg", "company": "Fjordtech AS", "country": "NO",
     "source": "webinar", "campaign": "spring-launch"},
    {"email": "marc@atelier-lumen.example", "name": "Marc Duval", "company": "Atelier Lumen", "country": "FR",
     "source": "partner", "campaign": "reseller-fr"},
    {"email": "ines@vinhos.example", "name": "Inês Costa", "company": "Vinhos do Porto Lda", "country": "PT",
     "source": "ads", "campaign": "black-friday"},
    {"email": "olaf@kaffee.example", "name": "Olaf Kühn", "company": "Kaffeerösterei Kühn", "country": "DE",
     "source": "webinar", "campaign": "spring-launch"},
]  # fmt: skip

OFFER: dict[str, Any] = {
    "name": "Webinar guests: 20 % off Team",
    "priority": 10,
    "benefit": {"type": "coupon", "coupon": "WELCOME10"},
    "conditions": {"all": [
        {"field": "lead.source", "op": "eq", "value": "webinar"},
        {"field": "subscription.plan", "op": "eq", "value": "starter-monthly"},
    ]},
}  # fmt: skip

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
SLA: dict[str, Any] = {
    "name": "Business hours support",
    "calendar": {"time_zone": "Europe/Berlin", "hours": {d: [{"start": "09:00", "end": "17:00"}] for d in WEEKDAYS},
                 "holidays": ["2026-12-24", "2026-12-25", "2026-12-26"]},
    "targets": {p: {"first_response_minutes": f, "resolution_minutes": r}
                for p, f, r in (("urgent", 60, 480), ("high", 120, 960), ("normal", 240, 2400), ("low", 480, 4800))},
    "cost_per_hour": {"amount": "45.00", "currency": "EUR"},
}  # fmt: skip


def acquisition(ctx: ServiceContext, actor: Any, say: Say) -> dict[str, str]:
    """Leads, conversions and the feedback report; returns the converted customers' ids by lead email."""
    made = [leads.create_lead(ctx, actor, body) for body in LEADS]
    say(f"leads: {len(made)} from " + ", ".join(sorted({lead.source for lead in made})))
    hanna, marc, ines, olaf = made
    first = leads.convert_lead(ctx, actor, hanna.id, {
        "customer": {"external_id": "fjordtech", "name": "Fjordtech AS", "emails": ["billing@fjordtech.example"],
                     "address": {"line1": "Strandgata 1", "city": "Bergen", "country": "NO"}},
        "subscription": {"plan": "starter-monthly", "quantity": 3},
    })  # fmt: skip
    second = leads.convert_lead(ctx, actor, marc.id, {
        "customer": {"external_id": "atelier-lumen", "name": "Atelier Lumen", "emails": ["compta@lumen.example"],
                     "address": {"line1": "12 rue Oberkampf", "city": "Paris", "country": "FR"}},
    })  # fmt: skip
    leads.update_lead(ctx, actor, ines.id, {"status": "lost", "lost_reason": "Chose a local provider"})
    leads.update_lead(ctx, actor, olaf.id, {"status": "qualified"})
    plan = first.subscription.terms.plan if first.subscription else "-"
    say(f"  {hanna.company} converted with {plan}; {marc.company} converted; {ines.company} lost; "
        f"{olaf.company} qualified")  # fmt: skip
    report = leads.feedback_report(ctx, actor, "source")
    say("  feedback by source: " + "; ".join(
        f"{row['group']} {row['converted']}/{row['leads']} converted" for row in report.rows))  # fmt: skip
    offers.put_offer(ctx, actor, "webinar-team", OFFER)
    decided = offers.offers_for(ctx, actor, first.customer.id).decisions
    for decision in decided:
        say(f"  offer {decision.code} for {first.customer.name}: "
            f"{'applies' if decision.applies else 'does not apply'} ({'; '.join(decision.reasons)})")  # fmt: skip
    return {"fjordtech": first.customer.id, "atelier-lumen": second.customer.id}


def tickets(ctx: ServiceContext, actor: Any, customer_ids: list[str], say: Say) -> None:
    """Three tickets under the SLA policy: one answered and solved, one answered, one waiting."""
    support.put_sla_policy(ctx, actor, "business-hours", SLA)
    subjects = (("Invoice PDF shows the old address", "normal", "email"),
                ("API returns 502 since the deploy", "urgent", "chat"),
                ("How do I add a second admin?", "low", "web"))  # fmt: skip
    made = [support.create_ticket(ctx, actor, {"customer_id": customer_ids[i % len(customer_ids)], "subject": s,
                                               "priority": p, "channel": c, "sla_policy": "business-hours"})
            for i, (s, p, c) in enumerate(subjects)]  # fmt: skip
    support.respond(ctx, actor, made[0].id, {"message": "Fixed the address; the next invoice has it."})
    support.update_ticket(ctx, actor, made[0].id, {"status": "solved"})
    support.respond(ctx, actor, made[1].id, {"message": "Rolled back; watching the error rate."})
    support.log_time(ctx, actor, made[1].id, {"minutes": 40, "description": "Incident call"})
    say(f"tickets: {len(made)} under SLA policy 'business-hours' (" +
        ", ".join(f"{t.priority.value} via {t.channel.value}" for t in made) + ")")  # fmt: skip
    report = sla_attainment.sla_attainment_report(ctx, actor, None, None)
    for row in report.rows:
        say(f"  SLA {row['priority']}: {row['tickets']} tickets, first response met {row['first_response_met']}, "
            f"running {row['first_response_running']}")  # fmt: skip


def wallet(ctx: ServiceContext, actor: Any, customer_id: str, say: Say) -> None:
    """A prepaid wallet: 100.00 bought by card (a deposit, not revenue), 20.00 granted as a welcome."""
    payments.add_payment_method(ctx, actor, customer_id, {"type": "card", "token": "tok_sandbox_success",
                                                          "brand": "visa", "last4": "4242", "exp_month": 12,
                                                          "exp_year": 2030})  # fmt: skip
    made = wallets.create_wallet(ctx, actor, {"customer_id": customer_id, "currency": "EUR",
                                              "auto_top_up": {"threshold": "20.00", "amount": "50.00"},
                                              "alert_thresholds": ["25.00"]})  # fmt: skip
    payment = wallets.top_up(ctx, actor, made["id"], {"amount": "100.00"})
    wallets.grant_credits(ctx, actor, made["id"], {"amount": "20.00", "description": "Welcome credits"})
    shown = wallets.get_wallet(ctx, actor, made["id"])["balance"]
    say(f"wallet {made['id']}: top-up 100.00 EUR by card ({payment.status.value}), 20.00 EUR granted; balance "
        f"{shown['total']['amount']} (paid {shown['paid']['amount']}, free {shown['free']['amount']}); "
        "auto top-up 50.00 below 20.00")  # fmt: skip


def line_disputes(ctx: ServiceContext, actor: Any, customer_id: str, say: Say) -> None:
    """Under the tenant's policy a 4.99 dispute is credited at once; a whole seat line goes to an agent."""
    tenants.update_settings(ctx, actor, {"dispute_policy": {"auto_accept_below": {"EUR": "10.00"},
                                                            "auto_accept_share_percent": "25"}})  # fmt: skip
    found = invoicing.list_invoices(ctx, actor, limit=100, cursor=None, customer_id=customer_id).items
    invoice = max(
        (i for i in found if i.status.value in ("open", "paid")), key=lambda i: (i.created_at, i.id)
    )
    first, last = invoice.lines[0], invoice.lines[-1]
    small = disputes.open_dispute(ctx, actor, invoice.id, {
        "line": first.position, "amount": {"amount": "4.99", "currency": invoice.currency},
        "reason": "incorrect_amount", "description": "Billed a seat for a leaver", "opened_by": "customer"})  # fmt: skip
    large = disputes.open_dispute(ctx, actor, invoice.id, {
        "line": last.position, "reason": "not_as_described", "opened_by": "agent"})  # fmt: skip
    say(f"disputes on {invoice.number}: line {first.position} 4.99 {invoice.currency} {small.status.value}"
        f"{' automatically' if small.auto_resolved else ''} (credited {small.credited}); line {last.position} "
        f"{large.amount} {large.status.value}, in the agents' queue")  # fmt: skip


def run(ctx: ServiceContext, actor: Any, sim_customer_id: str, say: Say) -> None:
    converted = acquisition(ctx, actor, say)
    wallet(ctx, actor, converted["atelier-lumen"], say)
    tickets(ctx, actor, list(converted.values()), say)
    line_disputes(ctx, actor, sim_customer_id, say)
