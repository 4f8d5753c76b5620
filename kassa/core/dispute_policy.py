"""A tenant's dispute policy (issue 9): which disputes on invoice lines are small enough to accept at once,
and for whom. A tenant setting, `dispute_policy`, parsed here (kept apart from core/disputes.py, which
needs invoices and credit notes, so the settings can import it):

    {"auto_accept_below": {"EUR": "10.00"},   # a dispute strictly below this amount, in its currency
     "auto_accept_share_percent": "20",       # and at most this share of the line's total
     "require_good_standing": true,           # and only for a customer in good standing (default true)
     "max_auto_accepted": 3}                  # of which: at most 3 auto-accepted disputes in 90 days

Every limit set must hold (under the amount *and* within the share, when both are set): 20 % of a
large line is still a large sum. Without any limit nothing is auto-accepted. Good standing: no overdue invoice (open, past its due date, still owing), no subscription
past due, and fewer than `max_auto_accepted` disputes auto-accepted in the last 90 days (anti-abuse).
Amounts are tax included, as the customer saw them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from kassa.core.errors import DomainError
from kassa.core.money import Money, currency_code

POLICY_ERROR = "invalid_dispute_policy"
ABUSE_WINDOW = timedelta(days=90)
DEFAULT_MAX_AUTO_ACCEPTED = 3


# ---- the policy ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DisputePolicy:
    auto_accept_below: tuple[Money, ...] = ()  # one limit per currency
    auto_accept_share_percent: Decimal | None = None
    require_good_standing: bool = True
    max_auto_accepted: int = DEFAULT_MAX_AUTO_ACCEPTED  # within ABUSE_WINDOW, for good standing

    def below(self, currency: str) -> Money | None:
        return next((m for m in self.auto_accept_below if m.currency == currency), None)

    def to_json(self) -> dict[str, Any]:
        share = self.auto_accept_share_percent
        return {
            "auto_accept_below": {m.currency: m.amount_text() for m in self.auto_accept_below},
            "auto_accept_share_percent": None if share is None else format(share, "f"),
            "require_good_standing": self.require_good_standing,
            "max_auto_accepted": self.max_auto_accepted,
        }


def _policy_error(field: str, message: str) -> DomainError:
    return DomainError(POLICY_ERROR, message, f"dispute_policy.{field}" if field else "dispute_policy")


def parse_dispute_policy(value: Any) -> DisputePolicy | None:
    """The policy from its JSON document (see the module's docstring); None: no policy, nothing is
    auto-accepted. Amounts and the share are strings (a float is refused)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _policy_error("", "dispute_policy is an object, or null for none.")
    known = {"auto_accept_below", "auto_accept_share_percent", "require_good_standing", "max_auto_accepted"}
    for key in value:
        if key not in known:
            raise _policy_error(str(key), f"Unknown field {key!r}.")
    below = value.get("auto_accept_below") or {}
    if not isinstance(below, Mapping):
        raise _policy_error(
            "auto_accept_below", 'auto_accept_below is amounts by currency: {"EUR": "10.00"}.'
        )
    limits = []
    for code, amount in sorted(below.items()):
        try:
            limit = Money.parse(amount, currency_code(code, "currency"), field="amount")
        except DomainError as error:
            raise _policy_error(f"auto_accept_below.{code}", error.message) from None
        if limit.amount <= 0 or not limit.is_rounded:
            raise _policy_error(
                f"auto_accept_below.{code}", f"A limit is more than zero, in whole {code} minor units."
            )
        limits.append(limit)
    share = value.get("auto_accept_share_percent")
    if share is not None:
        try:
            share = Decimal(share) if isinstance(share, str | int) and not isinstance(share, bool) else None
        except InvalidOperation:
            share = None
        if share is None or not share.is_finite() or not 0 < share <= 100:
            raise _policy_error(
                "auto_accept_share_percent", 'The share is a percentage above 0 up to 100, e.g. "20".'
            )
    standing = value.get("require_good_standing", True)
    if not isinstance(standing, bool):
        raise _policy_error("require_good_standing", "require_good_standing is true or false.")
    most = value.get("max_auto_accepted", DEFAULT_MAX_AUTO_ACCEPTED)
    if isinstance(most, bool) or not isinstance(most, int) or not 0 <= most <= 1000:
        raise _policy_error("max_auto_accepted", "max_auto_accepted is a whole number from 0 to 1000.")
    return DisputePolicy(auto_accept_below=tuple(limits), auto_accept_share_percent=share,
                         require_good_standing=standing, max_auto_accepted=most)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Standing:
    """What good standing is judged on, counted when the dispute is opened."""

    overdue_invoices: int
    past_due_subscriptions: int
    auto_accepted_recently: int  # auto-accepted disputes opened within ABUSE_WINDOW


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    auto: bool
    why: str  # for the agent who finds it in the queue, or the customer told it was accepted


def decide(policy: DisputePolicy | None, amount: Money, line_total: Money, standing: Standing) -> Decision:
    """Whether a dispute of `amount` (tax included) on a line whose invoiced total is `line_total` is
    accepted at once. Small first (under the amount limit and within the share of the line, those that are set), then the
    customer's standing when the policy asks for it.

    >>> p = DisputePolicy(auto_accept_below=(Money.parse("10.00", "EUR"),))
    >>> good = Standing(overdue_invoices=0, past_due_subscriptions=0, auto_accepted_recently=0)
    >>> decide(p, Money.parse("5.94", "EUR"), Money.parse("5.94", "EUR"), good).auto
    True
    >>> decide(p, Money.parse("142.80", "EUR"), Money.parse("142.80", "EUR"), good).why
    'Not small: 142.80 EUR is not below 10.00 EUR.'
    """
    if policy is None:
        return Decision(auto=False, why="No dispute policy: every dispute is handled by an agent.")
    limit, share = policy.below(amount.currency), policy.auto_accept_share_percent
    # every limit the policy sets must hold: a large line's 20 % is still a large sum, and the point of
    # accepting at once is that the disputed money is too little to be worth an agent's time
    held: list[str] = []
    missed: list[str] = []
    if limit is not None:
        (held if amount < limit else missed).append(
            f"below {limit}" if amount < limit else f"not below {limit}"
        )
    if share is not None:
        within = line_total.amount > 0 and amount.amount * 100 <= share * line_total.amount
        (held if within else missed).append(
            f"{'at most' if within else 'more than'} {format(share, 'f')} % of the line's {line_total}"
        )
    if limit is None and policy.auto_accept_below:
        # amounts are set for other currencies only: a share alone would accept any sum in this one
        return Decision(auto=False, why=f"The policy has no amount limit for {amount.currency}.")
    if not held and not missed:
        return Decision(auto=False, why=f"The policy has no limit for {amount.currency}.")
    if missed:
        return Decision(auto=False, why=f"Not small: {amount} is {' and '.join(missed)}.")
    small = f"{amount} is {' and '.join(held)}"
    if policy.require_good_standing:
        if standing.overdue_invoices:
            return Decision(
                auto=False, why=f"Not in good standing: {standing.overdue_invoices} overdue invoice(s)."
            )
        if standing.past_due_subscriptions:
            return Decision(auto=False, why="Not in good standing: a subscription is past due.")
        if standing.auto_accepted_recently >= policy.max_auto_accepted:
            return Decision(auto=False, why=f"Not in good standing: {standing.auto_accepted_recently} disputes "
                            f"auto-accepted in the last {ABUSE_WINDOW.days} days.")  # fmt: skip
    return Decision(auto=True, why=f"Accepted automatically: {small}.")
