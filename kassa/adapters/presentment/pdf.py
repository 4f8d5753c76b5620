"""The presentment port on WeasyPrint: the HTML of `html.py`, printed to PDF without fetching anything.

A tenant's template could name `file:///etc/...` or an internal http address in an <img>, a stylesheet
or a font: printed into the PDF, that would read the server's files or probe its network (SSRF). The
fetcher therefore serves only `data:` URLs and files inside this package (its templates folder), and
WeasyPrint drops whatever it refuses (with a warning in the log), so the document still prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import weasyprint  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]

from kassa.adapters.presentment.html import render_invoice
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


def html_to_pdf(page: str, *, fetcher: PackageOnlyFetcher | None = None) -> bytes:
    # base_url=None: a relative URL resolves to nothing, instead of to the working directory.
    document = weasyprint.HTML(string=page, base_url=None, url_fetcher=fetcher or PackageOnlyFetcher())
    pdf: bytes = document.write_pdf()
    return pdf
