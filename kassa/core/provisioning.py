"""Provisioning: what a plan has done, outside kassa, when a subscription to it starts, changes or ends.
Each step is a webhook to the tenant's systems, an email, or a manual task for a staff user with a due
time; the service tracks each to done or failed, with retries.

Catalog shape (on a plan):
  provisioning:
    - {code: create-workspace, on: [started], webhook: {url: "https://ops.example.com/provision"}}
    - {code: send-welcome-pack, on: [started], email: {to: customer, subject: "...", body: "..."}}
    - {code: kickoff-call, on: [started, changed], task: {owner: ops@example.com, due_in_hours: 48}}
    - max_attempts?: 1..20 (default 5): attempts of a webhook or an email before the step fails
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from kassa.core.errors import DomainError

CODE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,255}")
MAX_STEPS = 50
MAX_ATTEMPTS = 20
DEFAULT_ATTEMPTS = 5
MAX_DUE_HOURS = 24 * 365


class Trigger(StrEnum):
    STARTED = "started"
    CHANGED = "changed"
    ENDED = "ended"


class Action(StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    TASK = "task"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    code: str
    on: frozenset[Trigger]
    action: Action
    url: str | None = None  # webhook
    to: str | None = None  # email: "customer" (the billing email) or an address
    subject: str | None = None  # email
    body: str | None = None  # email; a task's description
    owner: str | None = None  # task: the staff user's email
    due_in_hours: int | None = None  # task
    max_attempts: int = DEFAULT_ATTEMPTS

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"code": self.code, "on": sorted(t.value for t in self.on)}
        if self.action is Action.WEBHOOK:
            doc["webhook"] = {"url": self.url}
        elif self.action is Action.EMAIL:
            doc["email"] = {"to": self.to, "subject": self.subject, "body": self.body}
        else:
            doc["task"] = {"owner": self.owner, "due_in_hours": self.due_in_hours,
                           **({"description": self.body} if self.body else {})}  # fmt: skip
        if self.max_attempts != DEFAULT_ATTEMPTS:
            doc["max_attempts"] = self.max_attempts
        return doc


def _fail(path: str, message: str) -> DomainError:
    return DomainError("invalid_provisioning", message, path)


def _object(value: Any, path: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, "Expected an object.")
    for key in value:
        if key not in required | optional:
            raise _fail(f"{path}.{key}", f"Unknown field {key!r}.")
    for key in sorted(required):
        if key not in value:
            raise _fail(f"{path}.{key}", f"{key} is required.")
    return value


def _text(value: Any, path: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _fail(path, f"Expected text of 1 to {limit} characters.")
    return value.strip()


def _step(value: Any, path: str) -> Step:
    actions = {a.value for a in Action}
    body = _object(value, path, {"code", "on"}, actions | {"max_attempts"})
    code = body["code"]
    if not isinstance(code, str) or not CODE.fullmatch(code):
        raise _fail(f"{path}.code", "A step code is 1 to 64 lowercase letters, digits, '.', '_' or '-'.")
    on = body["on"]
    if not isinstance(on, list) or not on or any(t not in {x.value for x in Trigger} for t in on):
        raise _fail(f"{path}.on", "on lists when the step runs: started, changed, ended.")
    chosen = [a for a in actions if a in body]
    if len(chosen) != 1:
        raise _fail(path, "A step is exactly one of webhook, email or task.")
    action = Action(chosen[0])
    attempts = body.get("max_attempts", DEFAULT_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS:
        raise _fail(f"{path}.max_attempts", f"A whole number from 1 to {MAX_ATTEMPTS}.")
    where = f"{path}.{action.value}"
    common: dict[str, Any] = {"code": code, "on": frozenset(Trigger(t) for t in on), "action": action,
                              "max_attempts": attempts}  # fmt: skip
    if action is Action.WEBHOOK:
        spec = _object(body["webhook"], where, {"url"}, set())
        url = _text(spec["url"], f"{where}.url", 2000)
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise _fail(f"{where}.url", "An http(s) URL of the tenant's system.")
        return Step(url=url, **common)
    if action is Action.EMAIL:
        spec = _object(body["email"], where, {"to", "subject", "body"}, set())
        to = _text(spec["to"], f"{where}.to", 320)
        if to != "customer" and not EMAIL.fullmatch(to):
            raise _fail(f"{where}.to", "customer (the billing email) or an email address.")
        return Step(to=to, subject=_text(spec["subject"], f"{where}.subject", 300),
                    body=_text(spec["body"], f"{where}.body", 20_000), **common)  # fmt: skip
    spec = _object(body["task"], where, {"owner", "due_in_hours"}, {"description"})
    owner = _text(spec["owner"], f"{where}.owner", 320)
    if not EMAIL.fullmatch(owner):
        raise _fail(f"{where}.owner", "The email of the staff user who owns the task.")
    due = spec["due_in_hours"]
    if isinstance(due, bool) or not isinstance(due, int) or not 1 <= due <= MAX_DUE_HOURS:
        raise _fail(f"{where}.due_in_hours", f"A whole number of hours from 1 to {MAX_DUE_HOURS}.")
    description = spec.get("description")
    return Step(owner=owner, due_in_hours=due,
                body=None if description is None else _text(description, f"{where}.description", 5000),
                **common)  # fmt: skip


def parse_steps(value: Any, path: str) -> tuple[Step, ...]:
    """A plan's `provisioning`: its steps in order, codes unique."""
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        raise _fail(path, f"Expected a list of up to {MAX_STEPS} steps.")
    steps: list[Step] = []
    for i, item in enumerate(value):
        step = _step(item, f"{path}.{i}")
        if any(s.code == step.code for s in steps):
            raise _fail(f"{path}.{i}.code", f"The step code {step.code!r} is already used in this plan.")
        steps.append(step)
    return tuple(steps)
