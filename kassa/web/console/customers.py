"""The customers list (search, filters, pages) and the customer 360: everything kassa knows about one customer
on one page, with the actions an agent needs. Changing, pausing and cancelling a subscription, and adding a
note, need CUSTOMER_CARE; granting credit, issuing a credit note and retrying a payment need BILLING. A plan
change is previewed first (the prorated credit and charge), then confirmed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kassa.core.access import Permission
from kassa.core.credit_notes import CreditReason
from kassa.core.customers import Customer, CustomerFilter
from kassa.core.errors import DomainError, NotFound
from kassa.core.events import Event
from kassa.core.invoicing import Invoice
from kassa.core.money import Money
from kassa.core.pages import Page
from kassa.core.payments import PaymentStatus
from kassa.core.subscriptions import Status, Subscription, SubscriptionFilter
from kassa.services import (
    cost_to_serve,
    credits,
    customer_360,
    customer_notes,
    customers,
    disputes,
    entitlements,
    invoicing,
    messages,
    payments,
    rating,
    subscriptions,
    support,
    wallets,
)
from kassa.web.console.auth import Staff, allowed, context, viewer
from kassa.web.templating import render

router = APIRouter()
Viewer = Annotated[Staff, Depends(viewer)]
Agent = Annotated[Staff, Depends(allowed(Permission.CUSTOMER_CARE))]
Biller = Annotated[Staff, Depends(allowed(Permission.BILLING))]

PAGE_SIZE = 25
SECTION_SIZE = 10
TIMELINE_SIZE = 15
NOTES_SIZE = 50
# What an action did, shown on the 360 it redirects to. Only these codes are shown: a message is never taken
# from the URL, so a link cannot make the console say something it did not.
DONE = {
    "plan_changed": "Plan changed.",
    "paused": "Subscription paused.",
    "resumed": "Subscription resumed.",
    "canceled": "Cancellation recorded.",
    "credit_granted": "Credit granted.",
    "credit_note": "Credit note issued.",
    "retried": "Payment retried: see the payments below for the result.",
    "note_added": "Note added.",
}
REASONS = [r.value for r in CreditReason if r not in (CreditReason.BILLING_CORRECTION,
                                                     CreditReason.EARLY_PAYMENT_DISCOUNT)]  # fmt: skip
CENT = Decimal("0.01")  # a forecast quantity is shown to two decimals (the forecast itself is exact)
LIVE = (Status.PENDING, Status.TRIALING, Status.ACTIVE, Status.PAUSED, Status.PAST_DUE)


def _clean(value: str | None) -> str | None:
    """A field from a form or a query string: blank means not given."""
    value = (value or "").strip()
    return value or None


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _done(request: Request, customer_id: str, code: str) -> Response:
    """After an action: the 360 again, with what was done (htmx follows the header with a full page load)."""
    url = f"/console/customers/{quote(customer_id, safe='')}?done={code}"
    if _htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def _in_place(request: Request, form: str, error: DomainError, **values: Any) -> Response:
    """The action's form again with the error next to it (htmx); a plain form post gets the error page."""
    if not _htmx(request):
        raise error
    message = error.message + (f" ({error.field})" if error.field else "")
    return render(
        request, "console/customer_action.html", status_code=422, form=form, error=message, **values
    )


# ---- the list ------------------------------------------------------------------------------------------


def _link(request: Request, cursor: str | None) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor" and v]
    if cursor:
        params.append(("cursor", cursor))
    query = "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in params)
    return request.url.path + (f"?{query}" if query else "")


@router.get("/customers")
def customers_page(
    request: Request,
    staff: Viewer,
    q: str = "",
    currency: str = "",
    state: str = "active",
    cursor: str = "",
) -> Response:
    wanted = _clean(currency)
    if wanted is not None and (len(wanted) != 3 or not wanted.isalpha()):
        raise DomainError("invalid_currency", "A currency is a three-letter code such as EUR.", "currency")
    archived = {"active": False, "archived": True, "all": None}.get(state)
    if state not in ("active", "archived", "all"):
        raise DomainError("invalid_state", "Show active, archived or all customers.", "state")
    where = CustomerFilter(currency=wanted.upper() if wanted else None, archived=archived)
    found = customer_360.search_customers(context(request), staff.actor, where, query=_clean(q),
                                          limit=PAGE_SIZE, cursor=_clean(cursor))  # fmt: skip
    return render(
        request, "console/customers.html", page=found, q=q.strip(), currency=(wanted or "").upper(),
        state=state, next_link=_link(request, found.next_cursor) if found.has_more and found.next_cursor else None,
        first_link=_link(request, None) if _clean(cursor) else None,
    )  # fmt: skip


# ---- the 360 -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageRow:
    metric: str
    group: str
    used: Decimal
    forecast_quantity: Decimal
    amount: Money
    forecast: Money
    allowance: Decimal | None


def _wallet_money(value: dict[str, str]) -> Money:
    return Money.parse(value["amount"], value["currency"])


def _wallets(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The wallets' JSON views with their amounts as Money, for the money filter."""
    return [
        {"id": w["id"], "currency": w["currency"],
         "total": _wallet_money(w["balance"]["total"]), "paid": _wallet_money(w["balance"]["paid"]),
         "free": _wallet_money(w["balance"]["free"]),
         "lots": [{"kind": x["kind"], "remaining": _wallet_money(x["remaining"]), "expires_at": x["expires_at"]}
                  for x in w["lots"]]}
        for w in found
    ]  # fmt: skip


def _usage(
    usage: list[rating.CurrentUsage], allowances: dict[str, Decimal]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per subscription: its open period's usage rows, and the chart's data (quantities as text: JSON has no
    decimals, the chart only draws them)."""
    rows, charts = [], []
    for u in usage:
        lines = [UsageRow(metric=c.line.metric, group=c.line.group, used=c.line.rated.quantity,
                          forecast_quantity=c.forecast_quantity.quantize(CENT), amount=c.line.amount, forecast=c.forecast,
                          allowance=allowances.get(c.line.metric)) for c in u.lines]  # fmt: skip
        rows.append({"usage": u, "lines": lines})
        if lines:
            charts.append({
                "id": f"usage-{u.subscription.id}",
                "labels": [line.metric + (f" · {line.group}" if line.group else "") for line in lines],
                "used": [str(line.used) for line in lines],
                "forecast": [str(line.forecast_quantity) for line in lines],
                "allowance": [str(line.allowance) if line.allowance is not None else None for line in lines],
            })  # fmt: skip
    return rows, charts


def _safely(read: Callable[[], Any], empty: Any) -> tuple[Any, str | None]:
    """A section whose read fails (no catalog yet, say) shows why instead of taking the page down."""
    try:
        return read(), None
    except DomainError as error:
        return empty, error.message


def _customer_sub(request: Request, staff: Staff, customer_id: str, subscription_id: str) -> Subscription:
    sub = subscriptions.get_subscription(context(request), staff.actor, subscription_id)
    if sub.customer_id != customer_id:
        raise NotFound("subscription", subscription_id)
    return sub


def _customer_invoice(request: Request, staff: Staff, customer_id: str, invoice_id: str) -> Invoice:
    invoice = invoicing.get_invoice(context(request), staff.actor, invoice_id)
    if invoice.customer_id != customer_id:
        raise NotFound("invoice", invoice_id)
    return invoice


@router.get("/customers/{customer_id}")
def customer_page(request: Request, staff: Viewer, customer_id: str) -> Response:
    ctx, actor = context(request), staff.actor
    customer: Customer = customers.get_customer(ctx, actor, customer_id)
    subs = subscriptions.list_subscriptions(ctx, actor, SubscriptionFilter(customer_id=customer.id), limit=50)
    options = {
        s.id: customer_360.subscription_options(ctx, actor, s.id) for s in subs.items if s.status in LIVE
    }
    invoices = invoicing.list_invoices(ctx, actor, limit=SECTION_SIZE, cursor=None, customer_id=customer.id)
    paid = payments.list_payments(
        ctx, actor, customer_id=customer.id, status=None, limit=SECTION_SIZE, cursor=None
    )
    failed = {p.invoice_id for p in paid.items if p.status is PaymentStatus.FAILED and p.invoice_id}
    balance, movements = credits.credit_balance(ctx, actor, customer.id, limit=5, cursor=None)
    features, features_error = _safely(
        lambda: entitlements.list_entitlements(ctx, actor, customer.id).features, {}
    )
    allowances = {
        e.allowance.metric: e.allowance.quantity for e in features.values() if e.allowance is not None
    }
    usage, usage_error = _safely(lambda: rating.current_usage(ctx, actor, customer.id), [])
    usage_rows, charts = _usage(usage, allowances)
    costs = cost_to_serve.list_costs(ctx, actor, customer.id, limit=SECTION_SIZE, cursor=None)
    notes = customer_notes.list_notes(ctx, actor, customer.id, limit=NOTES_SIZE)
    done = DONE.get(request.query_params.get("done", ""))
    return render(
        request, "console/customer_360.html", customer=customer, subs=subs.items, options=options,
        invoices=invoices, payments=paid, failed=failed, balance=balance, movements=movements.items,
        wallets=_wallets(wallets.customer_wallets(ctx, actor, customer.id)),
        features=sorted(features.values(), key=lambda e: e.feature), features_error=features_error,
        usage=usage_rows, usage_error=usage_error, charts=charts,
        tickets=support.list_tickets(ctx, actor, limit=SECTION_SIZE, cursor=None, customer_id=customer.id),
        disputes=disputes.list_disputes(ctx, actor, limit=SECTION_SIZE, cursor=None, customer_id=customer.id),
        messages=messages.list_messages(ctx, actor, limit=SECTION_SIZE, cursor=None, customer_id=customer.id),
        costs=costs, cost_totals=customer_360.cost_to_serve(ctx, actor, customer.id), reasons=REASONS,
        notes=notes, note_authors=customer_notes.author_names(ctx, actor, notes), done=done,
    )  # fmt: skip


@router.get("/customers/{customer_id}/timeline")
def customer_timeline(request: Request, staff: Viewer, customer_id: str, cursor: str = "") -> Response:
    """The customer's events, newest first, a page at a time (loaded into the 360 by htmx)."""
    found: Page[Event] = customers.timeline(
        context(request), staff.actor, customer_id, limit=TIMELINE_SIZE, cursor=_clean(cursor)
    )
    return render(request, "console/customer_timeline.html", customer_id=customer_id, page=found)


@router.post("/customers/{customer_id}/notes")
def add_note(request: Request, staff: Agent, customer_id: str, body: Annotated[str, Form()] = "") -> Response:
    """A note on the customer, kept for staff only; a refused note comes back in its form (htmx)."""
    try:
        customer_notes.add_note(context(request), staff.actor, customer_id, body)
    except NotFound:
        raise  # no such customer: the error page, not the form
    except DomainError as error:
        if not _htmx(request):
            raise
        return render(request, "console/customer_note_form.html", status_code=422, customer_id=customer_id,
                      error=error.message, body=body)  # fmt: skip
    return _done(request, customer_id, "note_added")


# ---- subscription actions (CUSTOMER_CARE) --------------------------------------------------------------


def _change_fields(plan: str, timing: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"plan": _clean(plan)}
    if fields["plan"] is None:
        raise DomainError("required", "Choose the new plan.", "plan")
    if _clean(timing) is not None:  # blank: the plan's change policy decides
        fields["when"] = timing.strip()
    return fields


@router.post("/customers/{customer_id}/subscriptions/{subscription_id}/preview")
def preview_plan_change(
    request: Request,
    staff: Agent,
    customer_id: str,
    subscription_id: str,
    plan: Annotated[str, Form()] = "",
    timing: Annotated[str, Form(alias="when")] = "",
) -> Response:
    """What the change would credit and charge; nothing is written. The answer holds the confirm button."""
    sub = _customer_sub(request, staff, customer_id, subscription_id)
    values: dict[str, Any] = {"customer_id": customer_id, "sub": sub, "plan": plan, "when": timing}
    try:
        fields = _change_fields(plan, timing)
        preview = subscriptions.preview_change(context(request), staff.actor, sub.id, fields, at=None)
    except DomainError as error:
        return _in_place(request, "preview", error, **values)
    net = Money(preview.net, preview.currency)
    return render(request, "console/customer_preview.html", preview=preview, net=net, **values)


@router.post("/customers/{customer_id}/subscriptions/{subscription_id}/change")
def change_plan(
    request: Request,
    staff: Agent,
    customer_id: str,
    subscription_id: str,
    plan: Annotated[str, Form()] = "",
    timing: Annotated[str, Form(alias="when")] = "",
) -> Response:
    sub = _customer_sub(request, staff, customer_id, subscription_id)
    try:
        subscriptions.change_subscription(context(request), staff.actor, sub.id, _change_fields(plan, timing))
    except DomainError as error:
        return _in_place(request, "preview", error, customer_id=customer_id, sub=sub, plan=plan, when=timing)
    return _done(request, customer_id, "plan_changed")


@router.post("/customers/{customer_id}/subscriptions/{subscription_id}/pause")
def pause(
    request: Request,
    staff: Agent,
    customer_id: str,
    subscription_id: str,
    effective_date: Annotated[str, Form()] = "",
) -> Response:
    sub = _customer_sub(request, staff, customer_id, subscription_id)
    try:
        subscriptions.pause_subscription(
            context(request), staff.actor, sub.id, {"effective_date": _clean(effective_date)}
        )
    except DomainError as error:
        return _in_place(request, "pause", error, customer_id=customer_id, sub=sub)
    return _done(request, customer_id, "paused")


@router.post("/customers/{customer_id}/subscriptions/{subscription_id}/resume")
def resume(request: Request, staff: Agent, customer_id: str, subscription_id: str) -> Response:
    sub = _customer_sub(request, staff, customer_id, subscription_id)
    try:
        subscriptions.resume_subscription(context(request), staff.actor, sub.id, {})
    except DomainError as error:
        return _in_place(request, "resume", error, customer_id=customer_id, sub=sub)
    return _done(request, customer_id, "resumed")


@router.post("/customers/{customer_id}/subscriptions/{subscription_id}/cancel")
def cancel(
    request: Request,
    staff: Agent,
    customer_id: str,
    subscription_id: str,
    timing: Annotated[str, Form(alias="when")] = "",
) -> Response:
    sub = _customer_sub(request, staff, customer_id, subscription_id)
    ctx = context(request)
    try:
        if timing not in ("now", "end_of_period"):
            raise DomainError("invalid_when", "Cancel now or at the end of the period.", "when")
        subscriptions.cancel_subscription(ctx, staff.actor, sub.id, {"when": timing})
    except DomainError as error:
        option = customer_360.subscription_options(ctx, staff.actor, sub.id)
        return _in_place(request, "cancel", error, customer_id=customer_id, sub=sub, option=option)
    return _done(request, customer_id, "canceled")


# ---- money actions (BILLING) ---------------------------------------------------------------------------


@router.post("/customers/{customer_id}/credit")
def grant_credit(
    request: Request,
    staff: Biller,
    customer_id: str,
    amount: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    ctx = context(request)
    customer = customers.get_customer(ctx, staff.actor, customer_id)
    try:
        credits.grant_credit(
            ctx, staff.actor, customer.id, {"amount": amount.strip(), "description": description}
        )
    except DomainError as error:
        return _in_place(request, "credit", error, customer=customer, amount=amount, description=description)
    return _done(request, customer_id, "credit_granted")


@router.post("/customers/{customer_id}/invoices/{invoice_id}/credit_note")
def credit_note(
    request: Request,
    staff: Biller,
    customer_id: str,
    invoice_id: str,
    reason: Annotated[str, Form()] = "",
    position: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    memo: Annotated[str, Form()] = "",
) -> Response:
    """The whole invoice, or one line (its whole net, or `amount` of it)."""
    invoice = _customer_invoice(request, staff, customer_id, invoice_id)
    values = {"customer_id": customer_id, "invoice": invoice, "reasons": REASONS, "reason": reason,
              "position": position, "amount": amount, "memo": memo}  # fmt: skip
    try:
        body: dict[str, Any] = {"reason": _clean(reason) or "other", "memo": _clean(memo)}
        if _clean(position) is not None:
            if not position.strip().isdigit():
                raise DomainError("invalid_line", "Choose a line of the invoice.", "position")
            line: dict[str, Any] = {"position": int(position)}
            if _clean(amount) is not None:
                line["net"] = amount.strip()
            body["lines"] = [line]
        elif _clean(amount) is not None:
            raise DomainError(
                "invalid_line", "An amount credits part of one line: choose the line.", "position"
            )
        invoicing.credit_invoice(context(request), staff.actor, invoice.id, body)
    except DomainError as error:
        return _in_place(request, "credit_note", error, **values)
    return _done(request, customer_id, "credit_note")


@router.post("/customers/{customer_id}/invoices/{invoice_id}/retry")
def retry_payment(request: Request, staff: Biller, customer_id: str, invoice_id: str) -> Response:
    """Charge the open invoice again now on the customer's default payment method."""
    invoice = _customer_invoice(request, staff, customer_id, invoice_id)
    try:
        payments.pay_invoice(context(request), staff.actor, invoice.id)
    except DomainError as error:
        return _in_place(request, "retry", error, customer_id=customer_id, invoice=invoice)
    return _done(request, customer_id, "retried")
