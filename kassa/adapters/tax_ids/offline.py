"""Tax id, IBAN and BIC validation with python-stdnum: offline format and checksum checks only.

A number that passes is well formed, not necessarily issued or active (that needs an online
registry such as VIES, which this adapter never calls).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from stdnum import bic, iban
from stdnum.au import abn
from stdnum.br import cnpj
from stdnum.ca import bn
from stdnum.ch import vat as ch_vat
from stdnum.cl import rut
from stdnum.co import nit
from stdnum.es import cif
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError
from stdnum.gb import vat as gb_vat
from stdnum.in_ import gstin
from stdnum.jp import cn
from stdnum.mx import rfc
from stdnum.no import mva
from stdnum.nz import ird
from stdnum.ru import inn
from stdnum.sg import uen
from stdnum.tr import vkn
from stdnum.us import ein

from kassa.adapters.tax_ids.base import TaxId
from kassa.core.errors import DomainError


@dataclass(frozen=True, slots=True)
class _Kind:
    description: str
    validate: Callable[[str], str]  # stdnum's validate(): the compact form or a ValidationError
    country: str  # empty for eu_vat: the number's prefix tells
    prefix: str = ""  # put back in front of what stdnum returns (it strips "GB")


_KINDS: dict[str, _Kind] = {
    "eu_vat": _Kind("European VAT number (with its country prefix)", eu_vat.validate, ""),
    "gb_vat": _Kind("United Kingdom VAT number", gb_vat.validate, "GB", "GB"),
    "ch_vat": _Kind("Swiss VAT number (CHE-123.456.789 MWST)", ch_vat.validate, "CH"),
    "no_vat": _Kind("Norwegian VAT number (MVA)", mva.validate, "NO"),
    "au_abn": _Kind("Australian Business Number (ABN)", abn.validate, "AU"),
    "ca_bn": _Kind("Canadian Business Number (BN)", bn.validate, "CA"),
    "us_ein": _Kind("United States Employer Identification Number (EIN)", ein.validate, "US"),
    "in_gst": _Kind("Indian GST number (GSTIN)", gstin.validate, "IN"),
    "br_cnpj": _Kind("Brazilian CNPJ number", cnpj.validate, "BR"),
    "mx_rfc": _Kind("Mexican RFC number", rfc.validate, "MX"),
    "nz_gst": _Kind("New Zealand GST number (IRD)", ird.validate, "NZ"),
    "jp_cn": _Kind("Japanese Corporate Number (Hōjin Bangō)", cn.validate, "JP"),
    "sg_uen": _Kind("Singaporean Unique Entity Number (UEN)", uen.validate, "SG"),
    "es_cif": _Kind("Spanish company tax id (CIF)", cif.validate, "ES"),
    "tr_tin": _Kind("Turkish tax id (VKN)", vkn.validate, "TR"),
    "cl_tin": _Kind("Chilean tax id (RUT)", rut.validate, "CL"),
    "co_nit": _Kind("Colombian tax id (NIT)", nit.validate, "CO"),
    "ru_inn": _Kind("Russian tax id (INN)", inn.validate, "RU"),
}

# VAT prefixes of the EU member states: ISO 3166 codes except Greece (EL) and Northern Ireland (XI,
# EU VAT rules for goods). stdnum also accepts the OSS/IOSS prefixes EU and IM, which name no country.
_EU_COUNTRY_BY_PREFIX = {
    "EL" if cc == "gr" else cc.upper(): {"gr": "GR", "xi": "GB"}.get(cc, cc.upper())
    for cc in eu_vat.MEMBER_STATES
}


class StdnumTaxIdValidator:
    """`TaxIdValidator` on python-stdnum's checksums."""

    def supported_types(self) -> Mapping[str, str]:
        return MappingProxyType({name: kind.description for name, kind in _KINDS.items()})

    def validate_tax_id(self, type: str, value: str, *, field: str) -> TaxId:
        kind = _KINDS.get(type)
        if kind is None:
            raise DomainError(
                "unknown_tax_id_type",
                f"Unknown tax id type {type!r}; supported: {', '.join(_KINDS)}.",
                field,
            )
        number, country = value, kind.country
        if type == "eu_vat":
            number = "".join(value.split()).upper()
            if number.startswith("GR"):  # VAT numbers of Greece are prefixed EL, not its ISO code
                number = "EL" + number[2:]
            if number[:2] not in _EU_COUNTRY_BY_PREFIX:
                prefixes = ", ".join(sorted(_EU_COUNTRY_BY_PREFIX))
                reason = f"The number does not start with an EU member state's VAT prefix ({prefixes})."
                raise DomainError("invalid_tax_id", f"Invalid {type} {value!r}: {reason}", field)
            country = _EU_COUNTRY_BY_PREFIX[number[:2]]
        compact = _checked(kind.validate, number, "invalid_tax_id", f"{type} {value!r}", field)
        return TaxId(type=type, value=kind.prefix + compact, country=country)

    def validate_iban(self, value: str, *, field: str) -> str:
        return _checked(iban.validate, value, "invalid_iban", f"IBAN {value!r}", field)

    def validate_bic(self, value: str, *, field: str) -> str:
        return _checked(bic.validate, value, "invalid_bic", f"BIC {value!r}", field)


def _checked(validate: Callable[[str], str], value: str, code: str, what: str, field: str) -> str:
    try:
        return validate(value)
    except ValidationError as error:
        # stdnum's messages say why ("The number's checksum or check digit is invalid.")
        raise DomainError(code, f"Invalid {what}: {error}", field) from error
