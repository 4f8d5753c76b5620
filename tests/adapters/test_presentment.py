"""Invoice presentment: the localized HTML page, the WeasyPrint PDF (read back with pypdf), the EPC QR
payload byte for byte, tenant templates, and the fetcher that keeps templates off the network and disk.

The sample invoice is written out by hand (not composed) so every amount on the page is known here:

    line                      account  subscription  amount    discount  net      VAT 19 %
    1 Pro plan (recurring)    payer    sub_pro        999.00     99.90   899.10   170.83
    2 API calls 12,500 × 0.0125 payer  sub_pro        156.25     15.63   140.62    26.72
    3 Basic plan 3 seats × 49 child    sub_basic      147.00      0.00   147.00    27.93
    4 Onboarding (one-off)    child    -              250.00      0.00   250.00    47.50
    subtotal 1,552.25 - discount 115.53 + tax 272.98 = total 1,709.70; credit applied 475.14; due 1,234.56

The reverse-charge variant (buyer in Austria with an ATU VAT number) has no tax: total 1,436.72, credit
applied 202.16, due 1,234.56 again.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from kassa.adapters.presentment.base import Documents
from kassa.adapters.presentment.html import (
    LABELS,
    credit_breakdown,
    group_lines,
    invoice_context,
    render_credit_note,
    render_invoice,
)
from kassa.adapters.presentment.pdf import PACKAGE_DIR, RefusedURL, WeasyDocuments, check_url
from kassa.adapters.presentment.qr import MAX_PAYLOAD_BYTES, epc_payload, epc_qr, epc_qr_svg
from kassa.core.credit_notes import CreditNote, CreditNoteLine, CreditReason
from kassa.core.errors import DomainError
from kassa.core.invoicing import Invoice, InvoiceLine, InvoiceStatus, Item, LineKind
from kassa.core.money import Money
from kassa.core.tax import BreakdownRow, TaxAmount, TaxCategory, TaxRate

REVERSE_CHARGE = (
    "Reverse charge: VAT to be accounted for by the recipient (Art. 196 Council Directive 2006/112/EC)"
)
NBSP = "\xa0"
VAT19 = TaxRate(id="DE:VAT:standard:2020-07-01", jurisdiction="DE", name="VAT", percent=Decimal(19),
                category=TaxCategory.STANDARD, valid_from=date(2021, 1, 1), valid_to=None)  # fmt: skip
IBAN = "DE89370400440532013000"


def eur(text: str) -> Money:
    return Money(Decimal(text), "EUR")


def _line(position: int, *, account: str, sub: str | None, kind: LineKind, description: str, quantity: str,
          unit: str, amount: str, discount: str, net: str, tax: str | None,
          period: tuple[date, date] | None = None) -> InvoiceLine:  # fmt: skip
    item = Item(
        key=f"k{position}", kind=kind, account_id=account, subscription_id=sub, product="p", description=description,
        period_start=period[0] if period else None, period_end=period[1] if period else None,
        quantity=Decimal(quantity), unit_price=Decimal(unit), amount=eur(amount),
    )  # fmt: skip
    taxes = (TaxAmount(rate=VAT19, taxable=eur(net), amount=eur(tax)),) if tax else ()
    return InvoiceLine(position=position, item=item, discount=eur(discount), net=eur(net), taxes=taxes,
                       tax_code="S" if tax else "AE", tax_note=None if tax else REVERSE_CHARGE)  # fmt: skip


MARCH = (date(2025, 3, 1), date(2025, 4, 1))


def lines(*, taxed: bool) -> tuple[InvoiceLine, ...]:
    def t(x: str) -> str | None:
        return x if taxed else None

    return (
        _line(1, account="acct_payer", sub="sub_pro", kind=LineKind.RECURRING, description="Pro plan",
              quantity="1", unit="999.00", amount="999.00", discount="99.90", net="899.10", tax=t("170.83"),
              period=MARCH),
        _line(2, account="acct_payer", sub="sub_pro", kind=LineKind.USAGE, description="API calls",
              quantity="12500", unit="0.0125", amount="156.25", discount="15.63", net="140.62", tax=t("26.72"),
              period=MARCH),
        _line(3, account="acct_child", sub="sub_basic", kind=LineKind.RECURRING, description="Basic plan (seats)",
              quantity="3", unit="49.00", amount="147.00", discount="0.00", net="147.00", tax=t("27.93"),
              period=MARCH),
        _line(4, account="acct_child", sub=None, kind=LineKind.ONE_OFF, description="Onboarding workshop",
              quantity="1", unit="250.00", amount="250.00", discount="0.00", net="250.00", tax=t("47.50")),
    )  # fmt: skip


SELLER: dict[str, Any] = {
    "name": "Kassa Demo GmbH", "legal_name": "Kassa Demo GmbH",
    "address": {"line1": "Torstraße 1", "line2": None, "city": "Berlin", "postal_code": "10119", "state": None,
                "country": "DE"},
    "tax_ids": [{"type": "eu_vat", "value": "DE136695976", "country": "DE"}],
    "bank": {"iban": IBAN, "bic": "COBADEFFXXX", "account_holder": "Kassa Demo GmbH", "bank_name": "Commerzbank"},
    "email": "billing@kassa.test",
}  # fmt: skip
BUYER: dict[str, Any] = {
    "id": "acct_payer", "external_id": "C-1001", "name": "Musterfirma AG", "legal_name": None,
    "address": {"line1": "Hauptstraße 5", "line2": "3. OG", "city": "München", "postal_code": "80331",
                "state": None, "country": "DE"},
    "tax_ids": [], "emails": ["ap@musterfirma.test"], "locale": "de_DE",
}  # fmt: skip


def sample_invoice(*, reverse_charge: bool = False) -> Invoice:
    """The invoice of the module docstring, finalized as INV-2025-0042 on 1 April 2025."""
    buyer = dict(BUYER)
    if reverse_charge:
        buyer |= {"name": "Beispiel GmbH", "address": {"line1": "Ring 2", "line2": None, "city": "Wien",
                  "postal_code": "1010", "state": None, "country": "AT"},
                  "tax_ids": [{"type": "eu_vat", "value": "ATU57194903", "country": "AT"}]}  # fmt: skip
    total = "1436.72" if reverse_charge else "1709.70"
    return Invoice(
        tenant_id="t1", id="inv_1", customer_id="acct_payer", number="INV-2025-0042", status=InvoiceStatus.OPEN,
        currency="EUR", bill_date=date(2025, 4, 1), lines=lines(taxed=not reverse_charge),
        breakdown=(
            BreakdownRow(code="AE", rate=None, taxable=eur("1436.72"), amount=eur("0.00"), note=REVERSE_CHARGE)
            if reverse_charge else
            BreakdownRow(code="S", rate=VAT19, taxable=eur("1436.72"), amount=eur("272.98"), note=None),
        ),
        subtotal=eur("1552.25"), discount=eur("115.53"), tax=eur("0.00" if reverse_charge else "272.98"),
        total=eur(total), credit_applied=eur("202.16" if reverse_charge else "475.14"), credit_granted=eur("0"),
        amount_due=eur("1234.56"), amount_paid=eur("0"), notes=(REVERSE_CHARGE,) if reverse_charge else (),
        parties={"seller": SELLER, "buyer": buyer,
                 "accounts": {"acct_payer": "Musterfirma AG", "acct_child": "Musterfirma Filiale Hamburg"},
                 "subscriptions": {"sub_pro": "Pro (monthly)"}},
        created_at=datetime(2025, 4, 1, 0, 5, tzinfo=UTC), finalized_at=datetime(2025, 4, 1, 6, 0, tzinfo=UTC),
        due_date=date(2025, 4, 15),
    )  # fmt: skip


def in_currency(value: Any, code: str) -> Any:
    """The same invoice (or any part of it) with every amount in another currency."""
    if isinstance(value, Money):
        return Money(value.amount, code)
    if isinstance(value, tuple):
        return tuple(in_currency(v, code) for v in value)
    if is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: in_currency(getattr(value, f.name), code) for f in fields(value)}
        if "currency" in changes:
            changes["currency"] = code
        return replace(value, **changes)
    return value


@pytest.fixture(scope="module")
def documents() -> Documents:
    return WeasyDocuments()


# ---- HTML ----------------------------------------------------------------------------------------------


def test_sample_amounts_balance() -> None:
    """The hand-written sample is consistent: lines sum to the totals, so the page shows a real invoice."""
    inv = sample_invoice()
    zero = Money.zero("EUR")
    assert sum((x.item.amount for x in inv.lines), zero) == inv.subtotal
    assert sum((x.discount for x in inv.lines), zero) == inv.discount
    assert sum((x.tax for x in inv.lines), zero) == inv.tax
    assert inv.subtotal - inv.discount + inv.tax == inv.total
    assert inv.total - inv.credit_applied == inv.amount_due == eur("1234.56")
    rc = sample_invoice(reverse_charge=True)
    assert rc.total - rc.credit_applied == rc.amount_due and rc.tax == Money.zero("EUR")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de_DE", ["1.234,56\xa0€", "1.709,70\xa0€", "1.552,25\xa0€", "115,53\xa0€", "272,98\xa0€", "475,14\xa0€",
                   "01.04.2025", "15.04.2025", "1.–31. März 2025", "12.500", "0,0125\xa0€", "999,00\xa0€",
                   "19\xa0%", "Deutschland"]),
        ("en_US", ["€1,234.56", "€1,709.70", "€1,552.25", "€115.53", "€272.98", "€475.14", "Apr 1, 2025",
                   "Apr 15, 2025", "Mar 1\u2009–\u200931, 2025", "12,500", "€0.0125", "€999.00", "19%", "Germany"]),
    ],
)  # fmt: skip
def test_amounts_dates_and_numbers_follow_the_locale(locale: str, expected: list[str]) -> None:
    """Each amount, date, quantity, unit price and rate appears in the reader's locale: 1,234.56 EUR is
    "1.234,56 €" in German and "€1,234.56" in US English; the half-open period [1 Mar, 1 Apr) prints as
    1-31 March; 12,500 API calls at 0.0125 keep their four decimals."""
    page = render_invoice(sample_invoice(), locale=locale)
    missing = [text for text in expected if text not in page]
    assert not missing, missing


def test_the_page_names_seller_buyer_number_and_bank() -> None:
    """Seller block (name, address, VAT id), buyer block, invoice number, customer number, grouped IBAN."""
    page = render_invoice(sample_invoice(), locale="de_DE")
    for text in ["Kassa Demo GmbH", "Torstraße 1", "10119 Berlin", "VAT ID: DE136695976", "Musterfirma AG",
                 "Hauptstraße 5", "3. OG", "80331 München", "INV-2025-0042", "C-1001", "DE89 3704 0044 0532 0130 00",
                 "COBADEFFXXX", "Commerzbank"]:  # fmt: skip
        assert text in page, text


def test_lines_are_grouped_by_account_then_subscription() -> None:
    """The payer's lines first under its name, then the child account's under its own heading; within the
    child, its subscription before its one-off charges ("Other charges")."""
    inv = sample_invoice()
    groups = group_lines(inv, inv.parties)
    assert [(g.name, [(s.name, [x.position for x in s.lines]) for s in g.subscriptions]) for g in groups] == [
        ("Musterfirma AG", [("Pro (monthly)", [1, 2])]),
        ("Musterfirma Filiale Hamburg", [("Subscription sub_basic", [3]), ("Other charges", [4])]),
    ]
    page = render_invoice(inv, locale="en_US")
    order = [page.index(s) for s in ['<tr class="account"><th colspan="6">Musterfirma AG', "Pro plan", "API calls",
                                     '<tr class="account"><th colspan="6">Musterfirma Filiale Hamburg',
                                     "Subscription sub_basic", "Basic plan", "Other charges", "Onboarding"]]  # fmt: skip
    assert order == sorted(order)
    # one account with one subscription: no headings at all
    single = replace(inv, lines=inv.lines[:2])
    assert 'class="account"' not in render_invoice(single, locale="en_US")
    assert 'class="subscription"' not in render_invoice(single, locale="en_US")


def test_lines_of_a_child_come_after_the_payer_even_when_billed_first() -> None:
    """Grouping is by account, the payer first, whatever order the lines were composed in."""
    inv = sample_invoice()
    flipped = replace(inv, lines=(inv.lines[3], inv.lines[2], inv.lines[0], inv.lines[1]))
    assert [g.id for g in group_lines(flipped, flipped.parties)] == ["acct_payer", "acct_child"]


def test_reverse_charge_note_is_prominent_and_breakdown_has_no_rate() -> None:
    """The reverse-charge mention is in the notes box; the breakdown row is AE without rate, tax 0."""
    page = render_invoice(sample_invoice(reverse_charge=True), locale="de_DE")
    notes = page.index('<section class="notes">')
    assert page.index(REVERSE_CHARGE) > notes and page.index(REVERSE_CHARGE) < page.index(
        '<table class="lines">'
    )
    assert "<td>AE</td>" in page and "0,00\xa0€" in page and "1.436,72\xa0€" in page
    assert "ATU57194903" in page and "Österreich" in page


def test_draft_says_draft_and_carries_no_payment_code() -> None:
    """A draft has no number: the page says DRAFT, shows bank details as not payable, and no QR code
    (a transfer without the reference would not match)."""
    draft = replace(
        sample_invoice(), number=None, status=InvoiceStatus.DRAFT, finalized_at=None, due_date=None
    )
    page = render_invoice(draft, locale="en_US")
    assert 'Invoice <span class="number">DRAFT</span>' in page
    assert LABELS["not_payable"] in page
    assert "data:image/svg+xml" not in page


@pytest.mark.parametrize(
    ("change", "has_qr"),
    [
        ({}, True),
        ({"currency": "USD"}, False),
        ({"status": InvoiceStatus.PAID, "amount_paid": eur("1234.56")}, False),
        ({"status": InvoiceStatus.VOID}, False),
    ],
)
def test_qr_only_for_an_open_eur_invoice_with_something_to_pay(change: dict[str, Any], has_qr: bool) -> None:
    """The EPC code appears on an open EUR invoice with an amount due; not in USD, not once paid or void."""
    inv = sample_invoice()
    inv = in_currency(inv, "USD") if change.get("currency") == "USD" else replace(inv, **change)
    assert ("data:image/svg+xml;base64," in render_invoice(inv, locale="en_US")) is has_qr


def test_qr_needs_a_seller_iban() -> None:
    """No bank in the seller snapshot: no payment block, no code."""
    inv = sample_invoice()
    inv = replace(inv, parties={**inv.parties, "seller": {**SELLER, "bank": None}})
    page = render_invoice(inv, locale="en_US")
    assert "data:image/svg+xml" not in page and 'class="payment"' not in page


def test_issue_date_is_the_finalization_day_in_the_buyers_time_zone() -> None:
    """Finalized at 23:30 UTC on 31 March, a buyer in Berlin (snapshot time_zone) was issued it on 1 April."""
    inv = replace(sample_invoice(), finalized_at=datetime(2025, 3, 31, 23, 30, tzinfo=UTC))
    assert invoice_context(inv, locale="de_DE")["issue_date"] == date(2025, 3, 31)
    berlin = replace(inv, parties={**inv.parties, "buyer": {**BUYER, "time_zone": "Europe/Berlin"}})
    assert invoice_context(berlin, locale="de_DE")["issue_date"] == date(2025, 4, 1)


def test_customer_text_is_escaped() -> None:
    """Autoescape: a buyer named like markup is printed as text, not inserted as HTML."""
    inv = sample_invoice()
    inv = replace(inv, parties={**inv.parties, "buyer": {**BUYER, "name": "<script>x()</script>"},
                                "accounts": {}})  # fmt: skip
    page = render_invoice(inv, locale="en_US")
    assert "<script>" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page


def test_every_label_a_template_names_is_in_the_one_dict() -> None:
    """Templates take their words from LABELS only, so a translation replaces one dict; a label missing
    from it would fail only when its branch renders (StrictUndefined)."""
    named: set[str] = set()
    for template in (PACKAGE_DIR / "templates").glob("*.j2"):
        named |= set(re.findall(r"labels\.([a-z_]+)", template.read_text()))
    assert named and named <= LABELS.keys(), named - LABELS.keys()


def test_unknown_locale_is_a_domain_error() -> None:
    """A locale Babel does not know is refused with the stable code."""
    with pytest.raises(DomainError) as caught:
        render_invoice(sample_invoice(), locale="xx_YY")
    assert (caught.value.code, caught.value.field) == ("unknown_locale", "locale")


# ---- credit notes --------------------------------------------------------------------------------------


def sample_credit_note(*, reverse_charge: bool = False) -> CreditNote:
    """Credits one of the three seats of line 3 (49.00 + 9.31 VAT) and all of line 4 (250.00 + 47.50):
    net 299.00, tax 56.81, total 355.81, all set against INV-2025-0042."""

    def taxes(net: str, tax: str) -> tuple[TaxAmount, ...]:
        return () if reverse_charge else (TaxAmount(rate=VAT19, taxable=eur(net), amount=eur(tax)),)

    total = "299.00" if reverse_charge else "355.81"
    return CreditNote(
        tenant_id="t1", id="cn_1", number="CN-2025-0007", invoice_id="inv_1", invoice_number="INV-2025-0042",
        customer_id="acct_payer", currency="EUR", reason=CreditReason.ORDER_CHANGE, memo="One seat fewer.",
        lines=(
            CreditNoteLine(position=3, key="k3", description="Basic plan (seats)", product="p",
                           quantity=Decimal(1), net=eur("49.00"), discount=eur("0"), taxes=taxes("49.00", "9.31")),
            CreditNoteLine(position=4, key="k4", description="Onboarding workshop", product="p", quantity=None,
                           net=eur("250.00"), discount=eur("0"), taxes=taxes("250.00", "47.50")),
        ),
        to_invoice=eur(total), to_credit_balance=eur("0"), created_at=datetime(2025, 4, 3, 10, 0, tzinfo=UTC),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("de_DE", ["Credit note <span class=\"number\">CN-2025-0007</span>", "INV-2025-0042", "03.04.2025",
                   "01.04.2025", "Order change", "49,00\xa0€", "9,31\xa0€", "58,31\xa0€", "297,50\xa0€",
                   "299,00\xa0€", "56,81\xa0€", "355,81\xa0€", "VAT 19\xa0%", "One seat fewer."]),
        ("en_US", ["€355.81", "€299.00", "€56.81", "Apr 3, 2025", "Apr 1, 2025"]),
    ],
)  # fmt: skip
def test_credit_note_page(locale: str, expected: list[str]) -> None:
    """The credit note names the invoice it corrects and its date, the reason, each credited line (net,
    tax, total), the breakdown (19 % on 299.00 = 56.81) and the totals, localized."""
    page = render_credit_note(sample_credit_note(), sample_invoice(), locale=locale)
    missing = [text for text in expected if text not in page]
    assert not missing, missing
    assert "data:image/svg+xml" not in page and 'class="payment"' not in page  # nothing to pay


def test_reverse_charge_credit_note_keeps_the_mention() -> None:
    """A credit note of a reverse-charge invoice carries the same mention, and its breakdown is one AE row
    without tax."""
    note = sample_credit_note(reverse_charge=True)
    invoice = sample_invoice(reverse_charge=True)
    assert [(r.code, r.rate, r.taxable, r.amount) for r in credit_breakdown(note, {3: "AE", 4: "AE"})] == [
        ("AE", None, eur("299.00"), eur("0.00"))
    ]
    page = render_credit_note(note, invoice, locale="de_DE")
    assert REVERSE_CHARGE in page and "<td>AE</td>" in page


def test_credit_note_pdf(documents: Documents) -> None:
    """The credit note prints: its number, the invoice's number and the total credited are in the text."""
    text = _text(documents.credit_note_pdf(sample_credit_note(), sample_invoice(), locale="de_DE"))
    text = " ".join(text.replace(NBSP, " ").split())
    for expected in ["CN-2025-0007", "INV-2025-0042", "355,81 €", "Musterfirma AG"]:
        assert expected in text, expected


# ---- tenant templates ----------------------------------------------------------------------------------


def test_tenant_template_overrides_the_default() -> None:
    """A tenant's own source is rendered with the same context and filters."""
    source = "<p>{{ title }} for {{ buyer.name }}: {{ invoice.amount_due|money }}</p>"
    assert render_invoice(sample_invoice(), locale="de_DE", template=source) == (
        "<p>INV-2025-0042 for Musterfirma AG: 1.234,56\xa0€</p>"
    )


def test_tenant_template_may_extend_the_default_and_replace_a_block() -> None:
    """{% extends %} the packaged template and override one block; the rest stays."""
    source = '{% extends "invoice.html.j2" %}{% block memo %}<p class="thanks">Danke!</p>{% endblock %}'
    page = render_invoice(sample_invoice(), locale="de_DE", template=source)
    assert '<p class="thanks">Danke!</p>' in page and "1.234,56\xa0€" in page


@pytest.mark.parametrize(
    "source",
    [
        "{{ invoice.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ nothing_here }}",
        "{% for x in %}",
        '{% include "../../../../../../etc/passwd" %}',
    ],
)
def test_a_bad_or_hostile_tenant_template_is_refused(source: str) -> None:
    """The sandbox refuses Python internals; undefined names, syntax errors and includes outside the
    template folder are a DomainError `invalid_invoice_template`, not a crash or a leak."""
    with pytest.raises(DomainError) as caught:
        render_invoice(sample_invoice(), locale="en_US", template=source)
    assert (caught.value.code, caught.value.field) == ("invalid_invoice_template", "template")


# ---- PDF -----------------------------------------------------------------------------------------------


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_carries_number_buyer_total_and_note(documents: Documents) -> None:
    """The PDF is a PDF, and its text has the number, the buyer, the total, the amount due, the notes.
    Written to /tmp/kassa-sample-invoice.pdf (page 1 also as .png when pdftoppm exists) to look at."""
    pdf = documents.invoice_pdf(sample_invoice(reverse_charge=True), locale="de_DE")
    assert pdf.startswith(b"%PDF-")
    text = " ".join(_text(pdf).split())
    for expected in [
        "INV-2025-0042",
        "Beispiel GmbH",
        "1.436,72 €",
        "1.234,56 €",
        "Reverse charge: VAT to be",
    ]:
        assert expected in text.replace(NBSP, " "), expected
    normal = documents.invoice_pdf(sample_invoice(), locale="de_DE")
    Path("/tmp/kassa-sample-invoice.pdf").write_bytes(normal)
    assert "1.709,70 €" in _text(normal).replace(NBSP, " ")
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                        "/tmp/kassa-sample-invoice.pdf", "/tmp/kassa-sample-invoice"], check=True)  # fmt: skip


def test_pdf_of_a_tenant_template(documents: Documents) -> None:
    """invoice_pdf prints the tenant's template too."""
    pdf = documents.invoice_pdf(sample_invoice(), locale="en_US", template="<h1>Bill {{ title }}</h1>")
    assert "Bill INV-2025-0042" in _text(pdf)


@pytest.fixture
def http_server() -> Iterator[list[str]]:
    """A local HTTP server that records every path asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"h1 { color: red }")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    asked.insert(0, f"http://127.0.0.1:{server.server_address[1]}")
    yield asked
    server.shutdown()
    server.server_close()


def test_tenant_template_fetches_nothing(documents: Documents, http_server: list[str],
                                         caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """A template naming file:///etc/passwd and http URLs (image, stylesheet, @import, font, attachment)
    still prints, but the local server was never asked, nothing was attached, and WeasyPrint logged each
    refusal of our fetcher."""
    base = http_server[0]
    source = f"""<html><head>
      <link rel="stylesheet" href="{base}/style.css"><link rel="stylesheet" href="file:///etc/passwd">
      <link rel="attachment" href="file:///etc/passwd"><link rel="attachment" href="{base}/attach.txt">
      <style>@import url("{base}/import.css"); @font-face {{ font-family: x; src: url("{base}/font.woff"); }}</style>
      </head><body><h1>Bill {{{{ title }}}}</h1>
      <img src="{base}/pixel.png"><img src="file:///etc/passwd">
      <object data="file:///etc/passwd"></object><iframe src="file:///etc/hostname"></iframe>
      <a href="{base}/link">link</a></body></html>"""
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = documents.invoice_pdf(sample_invoice(), locale="en_US", template=source)
    assert http_server[1:] == []
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments == {}
    text = _text(pdf)
    assert "Bill INV-2025-0042" in text and "root:" not in text
    assert "RefusedURL: An invoice loads files from its own package only: file:///etc/passwd" in caplog.text
    assert f"RefusedURL: An invoice loads no http URL: {base}/pixel.png" in caplog.text


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x.png", "https://example.com/a.css", "ftp://example.com/x", "file:///etc/passwd",
     f"file://{PACKAGE_DIR}/../../../../etc/passwd", "file://otherhost/etc/passwd", "gopher://x", "x.png",
     f"file://{PACKAGE_DIR.parent}/mail/base.py"],
)  # fmt: skip
def test_fetcher_refuses_anything_but_data_and_the_package(url: str) -> None:
    """Only data: URLs and files inside the presentment package pass; "..", other hosts, other schemes,
    relative URLs and sibling packages are refused."""
    with pytest.raises(RefusedURL):
        check_url(url)


def test_fetcher_allows_data_and_package_files() -> None:
    """The two things an invoice may load: inline data, and its own template folder."""
    check_url("data:image/svg+xml;base64,PHN2Zy8+")
    check_url(f"file://{PACKAGE_DIR}/templates/invoice.html.j2")


# ---- EPC QR --------------------------------------------------------------------------------------------


def test_epc_payload_is_exact() -> None:
    """EPC069-12 v2, UTF-8: BCD, 002, 1, SCT, BIC, name, IBAN (compacted), EUR amount, purpose (empty),
    structured reference (empty), text = invoice number; nothing after the last field."""
    payload = epc_payload(name="Kassa Demo GmbH", iban="DE89 3704 0044 0532 0130 00", bic="COBADEFFXXX",
                          amount=eur("1234.56"), remittance="INV-2025-0042")  # fmt: skip
    assert (
        payload
        == "BCD\n002\n1\nSCT\nCOBADEFFXXX\nKassa Demo GmbH\nDE89370400440532013000\nEUR1234.56\n\n\nINV-2025-0042"
    )


def test_epc_payload_with_creditor_reference_and_no_bic() -> None:
    """No BIC (optional inside the EEA in v2) leaves line 5 empty; a structured RF reference goes in line
    10 and the empty text after it is dropped; a purpose code fills line 9."""
    payload = epc_payload(name="Kassa Demo GmbH", iban=IBAN, amount=eur("0.01"),
                          creditor_reference="RF18539007547034", purpose="GDDS")  # fmt: skip
    assert (
        payload
        == "BCD\n002\n1\nSCT\n\nKassa Demo GmbH\nDE89370400440532013000\nEUR0.01\nGDDS\nRF18539007547034"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "N" * 71}, "name"),
        ({"name": " "}, "name"),
        ({"name": "Evil\nDE00"}, "name"),
        ({"remittance": "R" * 141}, "remittance"),
        ({"amount": eur("0.00")}, "amount"),
        ({"amount": eur("1000000000.00")}, "amount"),
        ({"amount": eur("-5.00")}, "amount"),
        ({"amount": eur("1.005")}, "amount"),
        ({"amount": Money(Decimal("10"), "USD")}, "amount"),
        ({"iban": "DE89370400440532013001"}, "iban"),
        ({"bic": "COBADE"}, "bic"),
        ({"purpose": "toolong"}, "purpose"),
        ({"creditor_reference": "RF18539007547034"}, "remittance"),  # and the text: not both
        ({"creditor_reference": "R" * 36, "remittance": None}, "creditor_reference"),
        ({"name": "ä" * 70, "remittance": "€" * 80}, None),  # 140 + 240 bytes: over 331
    ],
)
def test_epc_payload_limits(kwargs: dict[str, Any], field: str | None) -> None:
    """Name <= 70, text <= 140, reference <= 35, EUR 0.01..999,999,999.99 in cents, one line per field, a
    valid IBAN and BIC, and the whole payload <= 331 bytes: anything else is refused, naming the field."""
    args: dict[str, Any] = {
        "name": "Kassa",
        "iban": IBAN,
        "amount": eur("1.00"),
        "remittance": "INV-1",
    } | kwargs
    with pytest.raises(DomainError) as caught:
        epc_payload(**args)
    assert (caught.value.code, caught.value.field) == ("invalid_payment_code", field)


def test_epc_payload_limits_are_inclusive() -> None:
    """The largest values allowed pass: 70-character name, 140-character text, EUR 999,999,999.99."""
    payload = epc_payload(name="N" * 70, iban=IBAN, amount=eur("999999999.99"), remittance="R" * 140)
    assert payload.split("\n")[5] == "N" * 70 and payload.split("\n")[7] == "EUR999999999.99"
    assert payload.split("\n")[10] == "R" * 140 and len(payload.encode()) <= MAX_PAYLOAD_BYTES


_line_text = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
                     min_size=1, max_size=70).map(str.strip).filter(bool)  # fmt: skip


@given(name=_line_text, text=_line_text, cents=st.integers(min_value=1, max_value=99_999_999_999))
def test_epc_payload_fields_round_trip(name: str, text: str, cents: int) -> None:
    """Whatever single-line name and text: either refused for size, or the payload splits back into
    exactly the fields given, in the spec's order, within 331 bytes."""
    amount = Money.from_minor_units(cents, "EUR")
    try:
        payload = epc_payload(name=name, iban=IBAN, amount=amount, remittance=text)
    except DomainError as error:
        assert error.field is None and len(f"{name}{text}".encode()) > 200
        return
    assert payload.split("\n") == ["BCD", "002", "1", "SCT", "", name, IBAN, f"EUR{amount.amount_text()}", "", "",
                                   text]  # fmt: skip
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES


def test_epc_qr_is_a_full_qr_at_level_m_within_version_13() -> None:
    """Error level M, a regular QR (never Micro QR), and the largest payload fits version 13; the SVG has a
    viewBox and no fixed size, so CSS sizes it."""
    small = epc_qr(epc_payload(name="K", iban=IBAN, amount=eur("1.00")))
    assert (small.error, small.is_micro) == ("M", False)
    big = epc_qr(epc_payload(name="N" * 70, iban=IBAN, bic="COBADEFFXXX", amount=eur("999999999.99"),
                             remittance="R" * 140, purpose="GDDS"))  # fmt: skip
    assert big.error == "M" and isinstance(big.version, int) and big.version <= 13
    svg = epc_qr_svg(epc_payload(name="K", iban=IBAN, amount=eur("1.00")))
    assert svg.startswith("<svg") and "viewBox" in svg and "width=" not in svg.split(">")[0]
