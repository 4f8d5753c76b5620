"""The presentment port on WeasyPrint: the HTML of `html.py`, printed to PDF without fetching anything.

A tenant's template could name `file:///etc/...` or an internal http address in an <img>, a stylesheet
or a font: printed into the PDF, that would read the server's files or probe its network (SSRF). The
fetcher therefore serves only `data:` URLs and files inside this package (its templates folder), and
WeasyPrint drops whatever it refuses (with a warning in the log), so the document still prints.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import weasyprint
from weasyprint.urls import URLFetcher

from kassa.adapters.einvoice.cii import invoice_cii
from kassa.adapters.einvoice.facturx import facturx_pdf
from kassa.adapters.einvoice.ubl import invoice_ubl
from kassa.adapters.presentment.html import render_credit_note, render_invoice
from kassa.core.credit_notes import CreditNote
from kassa.core.invoicing import Invoice

PACKAGE_DIR = Path(__file__).resolve().parent


class RefusedURL(ValueError):
    """A resource outside what an invoice may use; WeasyPrint logs it and leaves the resource out."""


class PackageOnlyFetcher(URLFetcher):  # type: ignore[misc]
    """Serves `data:` URLs and `file:` URLs that resolve inside `root`; refuses every other URL."""

    def __init__(self, root: Path = PACKAGE_DIR) -> None:
        super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, timeout=1)
        self._root = root.resolve()

    def fetch(self, url: str, headers: Any = None) -> Any:
        check_url(url, self._root)
        return super().fetch(url, headers)


def check_url(url: str, root: Path = PACKAGE_DIR) -> None:
    """Nothing when an invoice may load `url`; RefusedURL otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "data":
        return
    if scheme != "file":
        raise RefusedURL(f"An invoice loads no {scheme or 'relative'} URL: {url[:80]}")
    if parts.netloc not in ("", "localhost"):
        raise RefusedURL(f"An invoice loads no file from another host: {url[:80]}")
    # resolve() follows symlinks and "..", so neither can lead out of the folder.
    path = Path(unquote(parts.path)).resolve()
    if not path.is_relative_to(root.resolve()):
        raise RefusedURL(f"An invoice loads files from its own package only: {url[:80]}")


class WeasyDocuments:
    """`Documents` implemented with WeasyPrint."""

    def __init__(self, *, fetcher_root: Path = PACKAGE_DIR) -> None:
        self._root = fetcher_root

    def invoice_html(self, invoice: Invoice, *, locale: str, template: str | None = None) -> str:
        return render_invoice(invoice, locale=locale, template=template)

    def invoice_pdf(self, invoice: Invoice, *, locale: str, template: str | None = None) -> bytes:
        page = self.invoice_html(invoice, locale=locale, template=template)
        return html_to_pdf(page, fetcher=PackageOnlyFetcher(self._root))

    def invoice_einvoice(self, invoice: Invoice, *, syntax: str, locale: str) -> bytes:
        day = _issue_day(invoice)
        if syntax == "ubl":
            return invoice_ubl(invoice, issue_date=day)
        xml = invoice_cii(invoice, issue_date=day)
        if syntax == "cii":
            return xml
        if syntax != "facturx":
            raise ValueError(f"unknown e-invoice syntax {syntax!r}")
        # Factur-X is a PDF/A-3 with the XML attached: print the page as PDF/A-3b first
        page = self.invoice_html(invoice, locale=locale)
        return facturx_pdf(html_to_pdf(page, fetcher=PackageOnlyFetcher(self._root), variant="pdf/a-3b"), xml)

    def credit_note_html(
        self, note: CreditNote, invoice: Invoice, *, locale: str, template: str | None = None
    ) -> str:
        return render_credit_note(note, invoice, locale=locale, template=template)

    def credit_note_pdf(
        self, note: CreditNote, invoice: Invoice, *, locale: str, template: str | None = None
    ) -> bytes:
        page = self.credit_note_html(note, invoice, locale=locale, template=template)
        return html_to_pdf(page, fetcher=PackageOnlyFetcher(self._root))


def html_to_pdf(page: str, *, fetcher: PackageOnlyFetcher | None = None, variant: str | None = None) -> bytes:
    # base_url=None: a relative URL resolves to nothing, instead of to the working directory.
    document = weasyprint.HTML(string=page, base_url=None, url_fetcher=fetcher or PackageOnlyFetcher())
    pdf: bytes = document.write_pdf(pdf_variant=variant) if variant else document.write_pdf()
    return pdf


def _issue_day(invoice: Invoice) -> date | None:
    """The finalization day where the buyer is (the e-invoice's issue date, as the PDF prints it)."""
    if invoice.finalized_at is None:
        return None
    zone = invoice.parties.get("buyer", {}).get("time_zone") or "UTC"
    return invoice.finalized_at.astimezone(ZoneInfo(zone)).date()
