"""EPC069-12 "SEPA Credit Transfer" QR codes (known as GiroCode): a banking app scans one and pre-fills
the transfer, so the payer types neither the IBAN nor the reference that reconciliation matches on.

The payload is twelve lines in a fixed order (version 002, UTF-8). Empty trailing fields are left out:
the guideline says the last populated field ends the payload, with no line break after it.
"""

from __future__ import annotations

import base64
import io
import re
from decimal import Decimal

import segno
from stdnum import iban as stdnum_iban

from kassa.core.errors import DomainError
from kassa.core.money import Money

SERVICE_TAG = "BCD"
VERSION = "002"  # BIC optional inside the EEA
CHARACTER_SET = "1"  # UTF-8
IDENTIFICATION = "SCT"
# QR version 13 at error level M holds 331 bytes: the guideline's ceiling, so small phone cameras cope.
MAX_PAYLOAD_BYTES = 331
MAX_NAME = 70
MAX_REFERENCE = 35
MAX_REMITTANCE = 140
MAX_NOTE = 70
MIN_AMOUNT = Decimal("0.01")
MAX_AMOUNT = Decimal("999999999.99")

_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_PURPOSE = re.compile(r"[A-Z0-9]{4}")  # an ISO 20022 ExternalPurpose1Code
_CODE = "invalid_payment_code"


def epc_payload(
    *,
    name: str,
    iban: str,
    amount: Money,
    remittance: str | None = None,
    creditor_reference: str | None = None,
    bic: str | None = None,
    purpose: str | None = None,
    note: str | None = None,
) -> str:
    """The QR text for paying `amount` (EUR) to `name`'s `iban`, with either an unstructured `remittance`
    text (the invoice number) or a structured `creditor_reference` (ISO 11649 "RF…"), never both;
    DomainError `invalid_payment_code` naming the field otherwise."""
    if remittance and creditor_reference:
        raise DomainError(
            _CODE, "A transfer carries a structured reference or a text, not both.", "remittance"
        )
    fields = [
        SERVICE_TAG,
        VERSION,
        CHARACTER_SET,
        IDENTIFICATION,
        _bic(bic),
        _text(name, MAX_NAME, "name", required=True),
        _iban(iban),
        _amount(amount),
        _purpose(purpose),
        _text(creditor_reference, MAX_REFERENCE, "creditor_reference"),
        _text(remittance, MAX_REMITTANCE, "remittance"),
        _text(note, MAX_NOTE, "note"),
    ]
    while not fields[-1]:
        fields.pop()
    payload = "\n".join(fields)
    size = len(payload.encode("utf-8"))
    if size > MAX_PAYLOAD_BYTES:
        raise DomainError(
            _CODE, f"The payment code holds {MAX_PAYLOAD_BYTES} bytes; this one needs {size}.", None
        )
    return payload


def epc_qr(payload: str) -> segno.QRCode:
    """The QR symbol at the guideline's error level M. Not a Micro QR (segno would pick one for a tiny
    payload) and no boosted error level, so every banking app reads it the same way."""
    return segno.make(payload, error="m", boost_error=False, micro=False, mode="byte", encoding="utf-8")


def epc_qr_svg(payload: str) -> str:
    """The QR as SVG text with a viewBox and no fixed size: the page's CSS decides how large it prints."""
    out = io.BytesIO()
    epc_qr(payload).save(out, kind="svg", xmldecl=False, omitsize=True, border=4)
    return out.getvalue().decode("utf-8")


def svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _text(value: str | None, limit: int, field: str, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError(_CODE, f"The payment code needs a {field}.", field)
    # A line break would shift every later field into the wrong slot.
    if any(ch in text for ch in "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"):
        raise DomainError(_CODE, f"The {field} of a payment code is one line.", field)
    if len(text) > limit:
        raise DomainError(_CODE, f"The {field} of a payment code has at most {limit} characters.", field)
    return text


def _iban(value: str) -> str:
    compact = stdnum_iban.compact(value or "")
    if not stdnum_iban.is_valid(compact):
        raise DomainError(_CODE, f"{value!r} is not a valid IBAN.", "iban")
    return str(compact)


def _bic(value: str | None) -> str:
    compact = (value or "").replace(" ", "").upper()
    if compact and not _BIC.fullmatch(compact):
        raise DomainError(_CODE, f"{value!r} is not a BIC of 8 or 11 characters.", "bic")
    return compact


def _purpose(value: str | None) -> str:
    if value and not _PURPOSE.fullmatch(value):
        raise DomainError(_CODE, f"{value!r} is not a four-character purpose code.", "purpose")
    return value or ""


def _amount(amount: Money) -> str:
    if amount.currency != "EUR":
        raise DomainError(_CODE, f"A SEPA credit transfer is in EUR, not {amount.currency}.", "amount")
    if not amount.is_rounded:
        raise DomainError(_CODE, f"{amount} is not rounded to cents.", "amount")
    if not MIN_AMOUNT <= amount.amount <= MAX_AMOUNT:
        raise DomainError(_CODE, f"A payment code's amount is EUR {MIN_AMOUNT} to {MAX_AMOUNT}.", "amount")
    return "EUR" + amount.amount_text()
