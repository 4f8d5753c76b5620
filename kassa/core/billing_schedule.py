"""A subscription's timeline and billing schedule, computed purely from its start, its changes and the
catalog versions.

`timeline()` cuts the subscription's life into segments of constant terms (plan, phase, price version,
quantity, add-ons, paused or not). `billing_schedule()` walks those segments period by period and says
what is due when: in-advance lines at each period start, in-arrears lines at each period end, setup fees
when a phase begins, and at a change in the middle of a period the proration (`core.proration`).

Rules this module decides (docs/subscriptions.md explains them with examples):
- Phases follow the calendar: a trial lasts its duration, a discount or fixed-term phase N billing periods
  (a partial first period counts as one). Pausing does not extend them.
- A plan change starts the new plan at its first paid phase; during a trial the trial runs to its end.
- New catalog prices reach a subscription at a renewal — a period boundary of its last phase, or the end
  of a fixed term — or from the version's `existing_subscriptions_from` date; trial and discount phases
  keep the prices they were sold at.
- A change without proration is billed from the next period; one that changes the billing period takes
  effect then too. A change of billing period on an anniversary anchor restarts the periods on its day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from kassa.core.catalog import Catalog, CatalogVersion, Phase, PhaseType, Plan, TermEnd, Timing
from kassa.core.errors import DomainError
from kassa.core.money import RoundingMode
from kassa.core.periods import Grid, add_months, local_day
from kassa.core.proration import Component, Line, charge, credit, prorate
from kassa.core.subscriptions import AnchorType, BillingAnchor, ChangeKind, Status, Subscription, Terms


@dataclass(frozen=True, slots=True, kw_only=True)
class Segment:
    start: date
    end: date  # exclusive; the timeline's horizon for the last segment of a live subscription
    status: Status  # TRIALING, ACTIVE or PAUSED
    terms: Terms
    version: int
    plan: Plan
    phase: Phase
    trial_end: date | None
    phase_end: date | None  # when this phase (or fixed term) ends, if known
    grid: Grid
    components: tuple[Component, ...]  # recurring prices billed in this segment
    setup: tuple[Component, ...]  # one-time fees due on `start`
    prorate: bool  # the change on `start` bills the rest of its period now


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeline:
    start: date
    segments: tuple[Segment, ...]
    end: date | None  # canceled or ended on this day (exclusive), if known before the horizon
    end_status: Status | None
    end_prorate: bool  # a cancellation credits the unused part of in-advance lines

    def on(self, day: date) -> Segment | None:
        return next((s for s in self.segments if s.start <= day < s.end), None)

    def status_on(self, day: date) -> Status:
        if self.end is not None and self.end <= self.start:  # canceled before it began
            return self.end_status or Status.CANCELED
        if day < self.start:
            return Status.PENDING
        if self.end is not None and day >= self.end:
            return self.end_status or Status.CANCELED
        segment = self.on(day)
        return segment.status if segment else Status.ACTIVE

    def period_end(self, day: date) -> date:
        """The end of the billing period (or trial) that contains `day`: where "end of period" changes land."""
        segment = self.on(day) or (self.segments[0] if day < self.start else self.segments[-1])
        if day < self.start:
            return self.start
        if segment.status is Status.TRIALING and segment.trial_end is not None:
            return segment.trial_end
        return segment.grid.next_boundary(day)

    def transitions(self) -> list[date]:
        """Days on which the status or terms change: when a due job brings the stored subscription along."""
        days = sorted({s.start for s in self.segments} | ({self.end} if self.end else set()))
        return days


class ChargeKind(StrEnum):
    RECURRING = "recurring"
    SETUP = "setup"
    CREDIT = "credit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    due: date  # the local day it becomes billable
    kind: ChargeKind
    line: Line

    @property
    def prorated(self) -> bool:
        return (self.line.start, self.line.end) != (self.line.period_start, self.line.period_end)


# ---- the timeline ----------------------------------------------------------------------------------


def _version_day(version: CatalogVersion, time_zone: str) -> date:
    return local_day(version.effective_at, time_zone)


def sale_version(
    versions: Sequence[CatalogVersion], plan: str, currency: str, day: date, time_zone: str
) -> CatalogVersion:
    """The version a plan is sold at on `day`: the newest in effect that day with the plan in `currency`;
    for a back-dated sale before the plan existed, the first version that has it."""
    selling = [
        v for v in versions if plan in v.catalog.plans and currency in v.catalog.plans[plan].currencies
    ]
    if not selling:
        if any(plan in v.catalog.plans for v in versions):
            raise DomainError(
                "price_missing",
                f"Plan {plan!r} has no {currency} price; a subscription is in its customer's currency.",
                "plan",
            )
        raise DomainError("plan_not_found", f"The catalog has no plan {plan!r}.", "plan")
    current = [v for v in selling if _version_day(v, time_zone) <= day]
    return current[-1] if current else selling[0]


def trial_end(plan: Plan, start: date, trial_days: int | None) -> date | None:
    """When a trial from `start` ends: the override (0: no trial), else the plan's trial phase, if any."""
    if trial_days is not None:
        return start + _days(trial_days) if trial_days else None
    first = plan.phases[0]
    if first.type is PhaseType.TRIAL and first.duration is not None:
        return first.duration.after(start)
    return None


def _grid(plan: Plan, anchor: BillingAnchor, paid_start: date) -> Grid:
    if anchor.type is AnchorType.ANNIVERSARY or anchor.day is None or plan.billing_period.months is None:
        return Grid.anchored(plan.billing_period, paid_start)
    return Grid.anchored(plan.billing_period, add_months(paid_start, 0, anchor.day), anchor.day)


def _first_paid(plan: Plan) -> int:
    return next(i for i, p in enumerate(plan.phases) if p.billable)


def _components(
    catalog: Catalog, plan: Plan, phase: Phase, terms: Terms, currency: str
) -> tuple[Component, ...]:
    price = phase.prices[currency]
    parts = [
        Component(key="plan.flat", description=plan.name, unit_price=price.flat, quantity=1, timing=phase.timing),
        Component(key="plan.per_unit", description=f"{plan.name}, per unit", unit_price=price.per_unit,
                  quantity=terms.quantity, timing=phase.timing),
    ]  # fmt: skip
    for code, count in sorted(terms.addons.items()):
        addon = catalog.addons[code]
        addon_price = addon.prices[currency]
        parts.append(Component(key=f"addon.{code}.flat", description=addon.name, unit_price=addon_price.flat,
                               quantity=1, timing=addon.timing))  # fmt: skip
        parts.append(Component(key=f"addon.{code}.per_unit", description=f"{addon.name}, per unit",
                               unit_price=addon_price.per_unit, quantity=count, timing=addon.timing))  # fmt: skip
    return tuple(c for c in parts if c.unit_price and c.quantity)


def timeline(subscription: Subscription, versions: Sequence[CatalogVersion], until: date) -> Timeline:
    """The subscription's segments from its start up to `until` (exclusive)."""
    return _Walk(subscription, versions, until).run()


class _Walk:
    """Walks the subscription's life event by event; each event may close a segment and open the next."""

    def __init__(self, subscription: Subscription, versions: Sequence[CatalogVersion], until: date) -> None:
        self.sub = subscription
        self.versions = sorted(versions, key=lambda v: v.number)
        self.until = until
        self.changes = sorted(
            (c for c in subscription.live_changes if c.kind is not ChangeKind.START),
            key=lambda c: c.effective,
        )
        self.segments: list[Segment] = []
        self.setup: list[Component] = []
        self.prorate = True
        self.end: date | None = None
        self.end_status: Status | None = None
        self.end_prorate = True
        self.applied: set[int] = set()
        self.switch_at: date | None = None

    def run(self) -> Timeline:
        sub = self.sub
        self.day = sub.start
        self.terms = next((c.terms for c in sub.changes if c.kind is ChangeKind.START and c.terms), sub.terms)
        self._sell(self.terms.plan, sub.start)
        self.trial_end = trial_end(self.plan, sub.start, sub.trial_days)
        self.paused = False
        self.phase_index = _first_paid(self.plan)
        self.grid = _grid(self.plan, sub.anchor, self.trial_end or sub.start)
        self.phase_end: date | None = None
        if self.trial_end is None:
            self._enter_phase(sub.start)
        self._add_setup_for_addons({}, self.terms.addons)
        self._apply_changes_through(self.day)
        while self.end is None:
            next_day = self._next_event()
            if next_day is None or next_day >= self.until:
                self._close(self.until)
                break
            self._close(next_day)
            self.day = next_day
            self.prorate = True
            self._apply_events(next_day)
        segments = tuple(s for s in self.segments if s.start < s.end)
        return Timeline(
            start=sub.start,
            segments=segments,
            end=self.end,
            end_status=self.end_status,
            end_prorate=self.end_prorate,
        )

    # -- state changes

    def _sell(self, plan: str, day: date) -> None:
        self.version = sale_version(self.versions, plan, self.sub.currency, day, self.sub.time_zone)
        self.plan = self.version.catalog.plans[plan]

    @property
    def phase(self) -> Phase:
        return self.plan.phases[self.phase_index]

    def _enter_phase(self, day: date, *, renewal: bool = False) -> None:
        """The current phase (or a fixed term's next term) begins on `day`: its end, its setup fee, and
        for the last phase the newest prices."""
        phase = self.phase
        self.phase_end = self.grid.after(day, phase.cycles) if phase.cycles else None
        if phase.prices[self.sub.currency].setup and not renewal:
            self.setup.append(Component(key="plan.setup", description=f"{self.plan.name}, setup",
                                        unit_price=phase.prices[self.sub.currency].setup, quantity=1,
                                        timing=Timing.IN_ADVANCE))  # fmt: skip
        if self.phase_index == len(self.plan.phases) - 1:
            self._renew(day)

    def _renew(self, day: date) -> None:
        """At a renewal the newest version that sells this plan in this currency takes over."""
        newer = [v for v in self._newer() if _version_day(v, self.sub.time_zone) <= day]
        if newer:
            self._switch(newer[-1], day)

    def _newer(self) -> list[CatalogVersion]:
        code, currency = self.plan.code, self.sub.currency
        return [
            v for v in self.versions
            if v.number > self.version.number and code in v.catalog.plans and currency in v.catalog.plans[code].currencies
        ]  # fmt: skip

    def _switch(self, version: CatalogVersion, day: date) -> None:
        old_period, old_phase, old_end = self.plan.billing_period, self.phase, self.phase_end
        self.version = version
        self.plan = version.catalog.plans[self.plan.code]
        self.phase_index = len(self.plan.phases) - 1
        if self.plan.billing_period != old_period:
            self.grid = _grid(self.plan, self.sub.anchor, day)
        if self.phase.cycles is None:
            self.phase_end = None
        elif old_phase.type is not PhaseType.FIXED_TERM or old_end is None or old_end <= day:
            self.phase_end = self.grid.after(day, self.phase.cycles)

    def _switch_day(self) -> date | None:
        """When new prices next reach the subscription, if it is in its last phase."""
        if self.trial_end is not None or self.phase_index != len(self.plan.phases) - 1:
            return None
        best: date | None = None
        for version in self._newer():
            vday = _version_day(version, self.sub.time_zone)
            candidate: date | None
            existing = version.catalog.existing_subscriptions_from
            if existing is not None:
                candidate = max(existing, vday, self.day + _days(1))
            elif self.phase.type is PhaseType.FIXED_TERM:
                candidate = self.phase_end if self.phase_end and self.phase_end >= vday else None
            else:
                candidate = self.grid.boundary_from(max(vday, self.day + _days(1)))
            if candidate is not None and (best is None or candidate < best):
                best = candidate
        return best

    def _add_setup_for_addons(self, before: Mapping[str, int], after: Mapping[str, int]) -> None:
        for code in sorted(set(after) - set(before)):
            addon = self.version.catalog.addons.get(code)
            if addon and addon.prices[self.sub.currency].setup:
                self.setup.append(Component(key=f"addon.{code}.setup", description=f"{addon.name}, setup",
                                            unit_price=addon.prices[self.sub.currency].setup, quantity=1,
                                            timing=Timing.IN_ADVANCE))  # fmt: skip

    def _change_day(self, change_effective: date, terms: Terms | None, prorate_flag: bool) -> date:
        """A change without proration that alters the billing period waits for the period's end."""
        if terms is None or prorate_flag or terms.plan == self.plan.code:
            return change_effective
        target = sale_version(
            self.versions, terms.plan, self.sub.currency, change_effective, self.sub.time_zone
        )
        if target.catalog.plans[terms.plan].billing_period == self.plan.billing_period:
            return change_effective
        return self.grid.boundary_from(change_effective)

    def _pending(self) -> list[tuple[date, int]]:
        return [
            (self._change_day(c.effective, c.terms, c.prorate), i)
            for i, c in enumerate(self.changes) if i not in self.applied
        ]  # fmt: skip

    def _next_event(self) -> date | None:
        candidates = [d for d, _ in self._pending()]
        if self.trial_end is not None:
            candidates.append(self.trial_end)
        elif self.phase_end is not None:
            candidates.append(self.phase_end)
        self.switch_at = self._switch_day()  # remembered: once the walk stands on it, "next" is later
        if self.switch_at is not None:
            candidates.append(self.switch_at)
        later = [d for d in candidates if d > self.day]
        return min(later) if later else None

    def _apply_events(self, day: date) -> None:
        if self.trial_end == day:
            self.trial_end = None
            self.grid = (
                _grid(self.plan, self.sub.anchor, day)
                if self.sub.anchor.type is AnchorType.ANNIVERSARY
                else self.grid
            )
            self._enter_phase(day)
        elif self.phase_end == day:
            if self.phase.type is PhaseType.FIXED_TERM:
                if self.phase.at_end is TermEnd.END:
                    self._finish(day, Status.ENDED, prorate_flag=True)
                    return
                self._enter_phase(day, renewal=True)  # the next term, at the newest prices
            else:
                self.phase_index += 1
                self._enter_phase(day)
        if self.switch_at == day:
            newer = [v for v in self._newer() if _version_day(v, self.sub.time_zone) <= day]
            if newer:
                self._switch(newer[-1], day)
        self._apply_changes_through(day)

    def _apply_changes_through(self, day: date) -> None:
        due = sorted((d, i) for d, i in self._pending() if d <= day)
        flags = []
        for _, i in due:
            if self.end is not None:
                break
            self.applied.add(i)
            change = self.changes[i]
            flags.append(change.prorate)
            if change.kind is ChangeKind.CANCEL:
                self._finish(day, Status.CANCELED, prorate_flag=change.prorate)
            elif change.kind is ChangeKind.PAUSE:
                self.paused = True
            elif change.kind is ChangeKind.RESUME:
                self.paused = False
            elif change.terms is not None:
                self._change_terms(change.terms, day)
        if flags:
            self.prorate = any(flags)

    def _change_terms(self, terms: Terms, day: date) -> None:
        before = self.terms.addons
        if terms.plan != self.plan.code:
            old_period = self.plan.billing_period
            self._sell(terms.plan, day)
            self.phase_index = _first_paid(self.plan)
            if self.plan.billing_period != old_period:
                self.grid = _grid(self.plan, self.sub.anchor, self.trial_end or day)
            self.phase_end = None
            if self.trial_end is None:
                self._enter_phase(day)
        self.terms = terms
        self._add_setup_for_addons(before, terms.addons)

    def _finish(self, day: date, status: Status, *, prorate_flag: bool) -> None:
        self.end, self.end_status, self.end_prorate = day, status, prorate_flag

    def _close(self, end: date) -> None:
        """The segment from `self.day` to `end` with the current state."""
        if self.end is not None and self.end <= self.day:
            return
        stop = min(end, self.end) if self.end is not None else end
        status = (
            Status.TRIALING if self.trial_end is not None else Status.PAUSED if self.paused else Status.ACTIVE
        )
        trial_phase = Phase(type=PhaseType.TRIAL)
        components = (
            _components(self.version.catalog, self.plan, self.phase, self.terms, self.sub.currency)
            if status is Status.ACTIVE
            else ()
        )
        self.segments.append(
            Segment(
                start=self.day, end=stop, status=status, terms=self.terms, version=self.version.number,
                plan=self.plan, phase=trial_phase if self.trial_end is not None else self.phase,
                trial_end=self.trial_end, phase_end=self.phase_end, grid=self.grid, components=components,
                setup=tuple(self.setup) if status is Status.ACTIVE else (), prorate=self.prorate,
            )
        )  # fmt: skip
        if status is Status.ACTIVE:
            self.setup = []  # setup fees wait for billing to begin: after a trial, or a pause


def _days(n: int) -> timedelta:
    return timedelta(days=n)


# ---- the billing schedule --------------------------------------------------------------------------


@dataclass(slots=True)
class _Piece:
    component: Component
    start: date
    end: date
    period: tuple[date, date]


class _Biller:
    def __init__(self, currency: str, rounding: RoundingMode) -> None:
        self.currency, self.rounding = currency, rounding
        self.out: list[Charge] = []
        self.billed: dict[str, Line] = {}  # in-advance lines covering the current period
        self.arrears: list[_Piece] = []  # in-arrears parts of the current period, billed at its end

    def emit(self, due: date, kind: ChargeKind, line: Line) -> None:
        self.out.append(Charge(due=due, kind=kind, line=line))

    def bill_period(self, components: Sequence[Component], period: tuple[date, date]) -> None:
        self.billed = {}
        for component in components:
            if component.timing is Timing.IN_ADVANCE:
                line = charge(component, period[0], period[1], period, self.currency, self.rounding)
                self.billed[component.key] = line
                self.emit(period[0], ChargeKind.RECURRING, line)

    def use(self, components: Sequence[Component], start: date, end: date, period: tuple[date, date]) -> None:
        """In-arrears components used over [start, end): adjacent parts on the same price merge, so a change
        that changes nothing does not split a line (and its rounding)."""
        for component in components:
            if component.timing is not Timing.IN_ARREARS:
                continue
            last = next((p for p in reversed(self.arrears) if p.component.key == component.key), None)
            if last and last.end == start and last.period == period and last.component.same_price(component):
                last.end = end
            else:
                self.arrears.append(_Piece(component, start, end, period))

    def flush(self, due: date) -> None:
        for piece in self.arrears:
            line = charge(piece.component, piece.start, piece.end, piece.period, self.currency, self.rounding)
            self.emit(due, ChargeKind.RECURRING, line)
        self.arrears = []

    def credit_from(self, day: date) -> None:
        for key, line in list(self.billed.items()):
            if line.start <= day < line.end:
                self.emit(day, ChargeKind.CREDIT, credit(line, day, self.rounding))
            del self.billed[key]


def billing_schedule(tl: Timeline, currency: str, rounding: RoundingMode, *, until: date) -> list[Charge]:
    """Every charge due before `until`, in order: what the subscription should have been billed. The
    timeline must reach `until`. In-advance lines are due at their period's start, in-arrears lines at its
    end (or at the subscription's end), proration at the change."""
    biller = _Biller(currency, rounding)
    billing: tuple[
        Component, ...
    ] = ()  # what the current period is billed on (a change without proration keeps it)
    previous: Segment | None = None
    for segment in tl.segments:
        grid = segment.grid
        period = grid.enclosing(segment.start)
        if previous is not None and previous.grid != grid:  # the periods restart: close the old one here
            biller.flush(segment.start)
            biller.credit_from(segment.start) if segment.prorate else biller.billed.clear()
            billing = ()
        mid = period[0] != segment.start
        if mid:
            carry = previous is not None and previous.status is Status.ACTIVE and not segment.prorate
            if not carry:
                advance = [c for c in segment.components if c.timing is Timing.IN_ADVANCE]
                result = prorate(list(biller.billed.values()), advance, on=segment.start, period=period,
                                 currency=currency, rounding=rounding)  # fmt: skip
                for line in result.credits:
                    biller.billed.pop(line.key, None)
                    biller.emit(segment.start, ChargeKind.CREDIT, line)
                for line in result.charges:
                    biller.billed[line.key] = line
                    biller.emit(segment.start, ChargeKind.RECURRING, line)
                kept = {c.key for c in advance}
                for key in [k for k in biller.billed if k not in kept]:
                    del biller.billed[key]  # a component dropped without a credit (nothing left to credit)
                billing = segment.components
        for component in segment.setup:
            biller.emit(segment.start, ChargeKind.SETUP, charge(component, segment.start, segment.start + _days(1),
                                                                 (segment.start, segment.start + _days(1)), currency, rounding))  # fmt: skip
        start, end = period
        while start < segment.end and start < until:
            if start >= segment.start and not (mid and start == period[0]):
                billing = segment.components
                biller.bill_period(billing, (start, end))
            biller.use(billing, max(start, segment.start), min(end, segment.end), (start, end))
            if end <= segment.end:
                biller.flush(end)
            start, end = end, grid.next_boundary(end)
        previous = segment
    if tl.end is not None:
        biller.flush(tl.end)
        if tl.end_prorate:
            biller.credit_from(tl.end)
    order = {ChargeKind.CREDIT: 0, ChargeKind.RECURRING: 1, ChargeKind.SETUP: 2}
    return sorted((c for c in biller.out if c.due < until), key=lambda c: (c.due, order[c.kind], c.line.key))


def compare(before: Sequence[Charge], after: Sequence[Charge]) -> tuple[list[Charge], list[Charge]]:
    """What `after` adds and what it removes relative to `before` (multisets): a change's effect."""
    remaining = list(before)
    added = []
    for item in after:
        if item in remaining:
            remaining.remove(item)
        else:
            added.append(item)
    return added, remaining


def next_bill_date(tl: Timeline, on_or_after: date) -> date | None:
    """The first day from `on_or_after` on which the subscription may have something to bill: a period
    boundary (in-advance fees begin, in-arrears fees and usage close), a change, or its end."""
    days = [d for d in tl.transitions() if d >= on_or_after]
    if tl.end is None or on_or_after < tl.end:
        segment = tl.on(on_or_after)
        if segment is not None and segment.status is Status.ACTIVE:  # a trial or a pause bills at its end
            start, end = segment.grid.enclosing(on_or_after)
            days.append(on_or_after if start == on_or_after else end)
    return min(days) if days else None
