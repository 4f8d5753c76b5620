"""The presentment port: an invoice as the customer sees it, as HTML (portal, email body) or PDF.

`locale` decides how numbers, amounts and dates are written (a POSIX id such as "de_DE"); `template`
is a tenant's own Jinja2 source replacing the default layout. A tenant template is untrusted: it is
rendered in a sandbox and the PDF step fetches nothing from the network or the server's files.
"""

from __future__ import annotations

from typing import Protocol

from kassa.core.credit_notes import CreditNote
from kassa.core.invoicing import Invoice


class Documents(Protocol):
    def invoice_html(self, invoice: Invoice, *, locale: str, template: str | None = None) -> str:
        """The invoice as one self-contained HTML page (styles inline, the payment code as a data URI)."""
        ...

    def invoice_pdf(self, invoice: Invoice, *, locale: str, template: str | None = None) -> bytes:
        """The same page printed to an A4 PDF."""
        ...

    def credit_note_html(
        self, note: CreditNote, invoice: Invoice, *, locale: str, template: str | None = None
    ) -> str:
        """A credit note against `invoice` (whose parties and number it shows), as one HTML page."""
        ...

    def credit_note_pdf(
        self, note: CreditNote, invoice: Invoice, *, locale: str, template: str | None = None
    ) -> bytes: ...

    def invoice_einvoice(self, invoice: Invoice, *, syntax: str, locale: str) -> bytes:
        """The finalized invoice as EN 16931 structured data: "ubl" (Peppol BIS Billing 3.0), "cii"
        (Factur-X XML), or "facturx" (the PDF/A-3 with the CII embedded)."""
        ...
