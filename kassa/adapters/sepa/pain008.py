"""SEPA files with sepaxml: pain.008 collection files out; pain.002 and camt.054 returns in (defusedxml).

sepaxml writes the file and checks it against the ISO 20022 schema it ships. It stamps the header with
the wall clock and random ids, so the header and the payment information ids are rewritten from the
caller's `message_id` and `created_at`: the same debits give the same bytes, and a file re-exported
after a crash is recognisably the same file at the bank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException  # type: ignore[import-untyped]
from defusedxml.ElementTree import fromstring  # type: ignore[import-untyped]
from lxml import etree
from sepaxml import SepaDD  # type: ignore[import-untyped]
from sepaxml.validation import ValidationError as SchemaViolation  # type: ignore[import-untyped]
from sepaxml.validation import try_valid_xml

from kassa.adapters.sepa.base import (
    SEPA_CURRENCY,
    Creditor,
    DirectDebit,
    ReturnKind,
    SepaReturn,
    identifier,
)
from kassa.core.errors import DomainError
from kassa.core.money import Money

SCHEMAS = ("pain.008.001.02", "pain.008.001.08", "pain.008.001.09", "pain.008.001.10")
INSTRUMENTS = ("CORE", "B2B")

# message_id-N names each payment information block; both are Max35Text.
MAX_MESSAGE_ID = 30


class SepaXmlFiles:
    """`SepaFiles` on sepaxml (export) and defusedxml (returns)."""

    def __init__(self, *, schema: str = "pain.008.001.02", instrument: str = "CORE") -> None:
        if schema not in SCHEMAS:
            raise ValueError(f"unsupported pain.008 schema {schema!r}; one of {', '.join(SCHEMAS)}")
        if instrument not in INSTRUMENTS:
            raise ValueError(f"unsupported SEPA direct debit scheme {instrument!r}; one of {INSTRUMENTS}")
        self.schema = schema
        self.instrument = instrument

    def export_debits(
        self, creditor: Creditor, debits: Sequence[DirectDebit], *, message_id: str, created_at: datetime
    ) -> bytes:
        if created_at.tzinfo is None or created_at.utcoffset() is None:
            raise DomainError("invalid_instant", "created_at must be an aware instant.", "created_at")
        created_at = created_at.astimezone(UTC)
        identifier(message_id, "message_id")
        if len(message_id) > MAX_MESSAGE_ID:
            raise DomainError(
                "invalid_sepa_identifier",
                f"A message id is at most {MAX_MESSAGE_ID} characters (its batches are named after it).",
                "message_id",
            )
        creditor = creditor.checked("creditor")
        if creditor.bic is None and self.schema == "pain.008.001.02":
            raise DomainError(
                "sepa_bic_required",
                "pain.008.001.02 needs the creditor's BIC; give one or export pain.008.001.08.",
                "creditor.bic",
            )
        if not debits:
            raise DomainError("no_debits", "A collection file holds at least one direct debit.", "debits")
        checked = [d.checked(f"debits.{i}", created_on=created_at.date()) for i, d in enumerate(debits)]
        seen: dict[str, int] = {}
        for i, debit in enumerate(checked):
            if debit.end_to_end_id in seen:
                raise DomainError(
                    "duplicate_end_to_end_id",
                    f"{debit.end_to_end_id!r} is also debit {seen[debit.end_to_end_id]}: returns could not "
                    "tell them apart.",
                    f"debits.{i}.end_to_end_id",
                )
            seen[debit.end_to_end_id] = i

        config: dict[str, Any] = {
            "name": creditor.name,
            "IBAN": creditor.iban,
            "batch": True,
            "creditor_id": creditor.creditor_id,
            "currency": SEPA_CURRENCY,
            "instrument": self.instrument,
        }
        if creditor.bic is not None:
            config["BIC"] = creditor.bic
        sepa = SepaDD(config, schema=self.schema, clean=True)
        if not config["name"].strip():
            raise DomainError("invalid_text", "The name has no letters SEPA can carry.", "creditor.name")
        for i, debit in enumerate(checked):
            payment = _payment(debit)
            sepa.add_payment(payment)
            # sepaxml transliterated the texts to ASCII in place: an empty result would fail the schema
            # with no hint of which debit it was.
            for key, name in (("name", "debtor_name"), ("description", "remittance")):
                if not payment[key].strip():
                    raise DomainError(
                        "invalid_text", f"The {name} has no letters SEPA can carry.", f"debits.{i}.{name}"
                    )
        content = _stamp(sepa.export(validate=False), message_id, created_at)
        try:
            try_valid_xml(content, self.schema)
        except SchemaViolation as error:
            raise DomainError("sepa_schema_violation", f"{error} {error.__cause__}", None) from None
        return content

    def read_returns(self, content: bytes) -> list[SepaReturn]:
        if not isinstance(content, bytes):
            raise _invalid("A SEPA file is read as bytes.", None)
        try:
            root = fromstring(content, forbid_dtd=True)
        except ParseError as error:
            line, column = getattr(error, "position", (0, 0))
            raise _invalid(f"Not well-formed XML: {error}.", f"line {line}, column {column}") from None
        except DefusedXmlException:
            raise _invalid("DTDs and entity declarations are not allowed in a SEPA file.", None) from None
        except (ValueError, LookupError) as error:  # an unknown encoding in the declaration, and the like
            raise _invalid(f"Not readable XML: {error}.", None) from None
        document = _At(root, _local(root.tag))
        if document.path != "Document":
            raise _invalid("The root element of an ISO 20022 file is Document.", document.path)
        report = document.first("CstmrPmtStsRpt")
        if report is not None:
            return _payment_status_report(report)
        notification = document.first("BkToCstmrDbtCdtNtfctn")
        if notification is not None:
            return _debit_credit_notification(notification)
        raise _invalid("Neither a pain.002 status report nor a camt.054 notification.", document.path)


def _payment(debit: DirectDebit) -> dict[str, Any]:
    payment: dict[str, Any] = {
        "name": debit.debtor_name,
        "IBAN": debit.debtor_iban,
        "amount": debit.amount.to_minor_units(),
        "type": debit.sequence,
        "collection_date": debit.collection_date,
        "mandate_id": debit.mandate_id,
        "mandate_date": debit.mandate_signed_on,
        "description": debit.remittance,
        "endtoend_id": debit.end_to_end_id,
    }
    if debit.debtor_bic is not None:
        payment["BIC"] = debit.debtor_bic
    return payment


def _stamp(content: bytes, message_id: str, created_at: datetime) -> bytes:
    """sepaxml's own output with the caller's message id, creation instant and payment information ids."""
    root = etree.fromstring(content)  # our own bytes, not a file from outside
    ns = {"d": root.nsmap[None]}
    initiation = root.find("d:CstmrDrctDbtInitn", ns)
    initiation.find("d:GrpHdr/d:MsgId", ns).text = message_id
    initiation.find("d:GrpHdr/d:CreDtTm", ns).text = created_at.isoformat(timespec="seconds")
    for n, block_id in enumerate(initiation.findall("d:PmtInf/d:PmtInfId", ns), start=1):
        block_id.text = f"{message_id}-{n}"
    etree.indent(root, space="  ")
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out + b"\n"


# Reading the bank's files. Elements are found by local name, so any version of pain.002 and camt.054
# (their namespaces differ) reads the same; every error names the element path it is about.

_REJECTED = "RJCT"
_NOT_BOOKED = frozenset({"PDNG", "INFO", "FUTR"})  # camt.054 entries not (yet) on the account
_AMOUNT = re.compile(r"[0-9]{1,18}(?:\.[0-9]{1,5})?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CODE = re.compile(r"[A-Z0-9]{1,4}")


def _invalid(message: str, where: str | None) -> DomainError:
    return DomainError("invalid_sepa_file", message, where)


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


@dataclass(frozen=True, slots=True)
class _At:
    """An element and its path from the root (`Document/.../Ntry[2]/NtryDtls/TxDtls[1]`)."""

    element: Any
    path: str

    def all(self, name: str) -> list[_At]:
        found = [child for child in self.element if _local(child.tag) == name]
        if len(found) == 1:
            return [_At(found[0], f"{self.path}/{name}")]
        return [_At(child, f"{self.path}/{name}[{i}]") for i, child in enumerate(found, start=1)]

    def first(self, *names: str) -> _At | None:
        at = self
        for name in names:
            found = at.all(name)
            if not found:
                return None
            at = found[0]
        return at

    def need(self, *names: str) -> _At:
        at = self
        for name in names:
            found = at.all(name)
            if not found:
                raise _invalid(f"{name} is missing.", at.path)
            at = found[0]
        return at

    def text(self) -> str:
        value = (self.element.text or "").strip()
        if not value:
            raise _invalid(f"{self.path.rpartition('/')[2]} is empty.", self.path)
        return value


def _payment_status_report(report: _At) -> list[SepaReturn]:
    """pain.002: transactions whose status is RJCT, their own or inherited from their batch or group."""
    reported_on = _instant_day(report.need("GrpHdr", "CreDtTm"))
    group = report.first("OrgnlGrpInfAndSts")
    group_status = _optional_text(group, "GrpSts")
    batches = report.all("OrgnlPmtInfAndSts")
    if group_status == _REJECTED and not batches:
        raise DomainError(
            "sepa_file_rejected",
            f"The bank rejected the whole file ({_reason_or_none(group)}) without naming its debits: "
            "none of them was collected; correct and export them again.",
            group.path if group is not None else None,
        )
    out: list[SepaReturn] = []
    for batch in batches:
        batch_status = _optional_text(batch, "PmtInfSts") or group_status
        transactions = batch.all("TxInfAndSts")
        if batch_status == _REJECTED and not transactions:
            raise DomainError(
                "sepa_file_rejected",
                f"The bank rejected a whole batch ({_reason_or_none(batch) or _reason_or_none(group)}) "
                "without naming its debits: none of them was collected; correct and export them again.",
                batch.path,
            )
        for tx in transactions:
            if (_optional_text(tx, "TxSts") or batch_status) != _REJECTED:
                continue
            reason = _reason_or_none(tx) or _reason_or_none(batch) or _reason_or_none(group)
            if reason is None:
                raise _invalid("A rejected transaction has no StsRsnInf/Rsn reason code.", tx.path)
            out.append(
                SepaReturn(
                    end_to_end_id=tx.need("OrgnlEndToEndId").text(),
                    amount=_money(tx.need("OrgnlTxRef", "Amt", "InstdAmt")),
                    reason_code=reason,
                    returned_on=reported_on,
                    kind="reject",
                )
            )
    return out


def _debit_credit_notification(document: _At) -> list[SepaReturn]:
    """camt.054: transaction details with return information, in booked entries."""
    created_on = _instant_day(document.need("GrpHdr", "CreDtTm"))
    out: list[SepaReturn] = []
    for notification in document.all("Ntfctn"):
        for entry in notification.all("Ntry"):
            status = entry.first("Sts")
            if status is not None and _code_or_text(status) in _NOT_BOOKED:
                continue
            details = [tx for batch in entry.all("NtryDtls") for tx in batch.all("TxDtls")]
            returned_on = _entry_day(entry) or created_on
            for tx in details:
                info = tx.first("RtrInf")
                if info is None:
                    continue  # a collection that went through, or anything else booked with it
                reason = _reason(info.need("Rsn"))
                amount = _first_of(tx, ("AmtDtls", "InstdAmt", "Amt"), ("AmtDtls", "TxAmt", "Amt"), ("Amt",))
                if amount is None and len(details) == 1:
                    amount = entry.first("Amt")  # one transaction: the entry's amount is its amount
                if amount is None:
                    raise _invalid("A returned transaction has no amount (AmtDtls/InstdAmt/Amt).", tx.path)
                kind: ReturnKind = "refund" if reason == "MD06" else "return"
                out.append(
                    SepaReturn(
                        end_to_end_id=tx.need("Refs", "EndToEndId").text(),
                        amount=_money(amount),
                        reason_code=reason,
                        returned_on=returned_on,
                        kind=kind,
                    )
                )
    return out


def _first_of(at: _At, *paths: tuple[str, ...]) -> _At | None:
    for path in paths:
        found = at.first(*path)
        if found is not None:
            return found
    return None


def _optional_text(at: _At | None, name: str) -> str | None:
    found = None if at is None else at.first(name)
    return None if found is None else found.text().upper()


def _code_or_text(at: _At) -> str:
    """A code spelled <X>BOOK</X> (older versions) or <X><Cd>BOOK</Cd></X> (newer ones)."""
    code = at.first("Cd")
    return (code or at).text().upper()


def _reason_or_none(at: _At | None) -> str | None:
    info = None if at is None else at.first("StsRsnInf", "Rsn")
    return None if info is None else _reason(info)


def _reason(rsn: _At) -> str:
    code = rsn.first("Cd")
    if code is not None:
        value = code.text().upper()
        if not _CODE.fullmatch(value):
            raise _invalid(f"{value[:40]!r} is not an ISO 20022 reason code.", code.path)
        return value
    proprietary = rsn.first("Prtry")
    if proprietary is None:
        raise _invalid("A reason has neither Cd nor Prtry.", rsn.path)
    value = proprietary.text()
    if len(value) > 35:
        raise _invalid("A proprietary reason is at most 35 characters.", proprietary.path)
    return value


def _money(at: _At) -> Money:
    value = at.text()
    currency = (at.element.get("Ccy") or "").strip()
    if currency != SEPA_CURRENCY:
        raise _invalid(f"SEPA amounts are in EUR, not {currency[:10] or 'no currency'!r}.", at.path)
    if not _AMOUNT.fullmatch(value):
        raise _invalid(f"{value[:40]!r} is not an amount.", at.path)
    amount = Money.parse(value, SEPA_CURRENCY)
    if amount.amount <= 0 or not amount.is_rounded:
        raise _invalid(f"{value!r} is not an amount of a direct debit.", at.path)
    return amount


def _entry_day(entry: _At) -> date | None:
    for name in ("BookgDt", "ValDt"):
        when = entry.first(name)
        if when is None:
            continue
        day = when.first("Dt")
        if day is not None:
            return _day(day)
        return _instant_day(when.need("DtTm"))
    return None


def _day(at: _At) -> date:
    return _parsed(at, date.fromisoformat, _DATE.fullmatch)


def _instant_day(at: _At) -> date:
    # The date as the bank wrote it: its local day, which is the day its statement shows.
    return _parsed(at, lambda text: datetime.fromisoformat(text).date(), lambda text: _DATE.match(text))


def _parsed(at: _At, parse: Callable[[str], date], looks_right: Callable[[str], object]) -> date:
    value = at.text()
    try:
        if looks_right(value):
            return parse(value)
    except ValueError:
        pass
    raise _invalid(f"{value[:40]!r} is not an ISO date.", at.path)
