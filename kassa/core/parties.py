"""Parties to an invoice (the seller in tenant settings, the customer): addresses, emails, places, times."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from kassa.core.errors import DomainError

# ISO 3166-1 alpha-2, the officially assigned codes (249) plus XK (Kosovo, user-assigned but used by
# banks, tax authorities and every payment network).
COUNTRIES = frozenset(
    (
        "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ "
        "BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM "
        "DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS "
        "GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
        "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ "
        "MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM "
        "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV "
        "SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
        "VN VU WF WS XK YE YT ZA ZM ZW "
    ).split()
)

_EMAIL = re.compile(
    r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_LOCALE = re.compile(r"^[a-z]{2,3}(?:_[A-Z][a-z]{3})?(?:_(?:[A-Z]{2}|[0-9]{3}))?$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Address:
    line1: str
    line2: str | None = None
    city: str
    postal_code: str | None = None
    state: str | None = None
    country: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def country(code: str, field: str) -> str:
    if not isinstance(code, str) or code not in COUNTRIES:
        raise DomainError("invalid_country", f"{code!r} is not an ISO 3166-1 alpha-2 country code.", field)
    return code


# fullmatch, not match: `$` also matches before a trailing newline, which would let "a@b.co\n" through.
def email(text: str, field: str) -> str:
    if not isinstance(text, str) or len(text) > 254 or not _EMAIL.fullmatch(text):
        raise DomainError("invalid_email", f"{text!r} is not an email address.", field)
    return text


def locale(text: str, field: str) -> str:
    """A POSIX-style locale id (de_DE, en, zh_Hant_TW); whether display data exists is checked at the edge."""
    if not isinstance(text, str) or not _LOCALE.fullmatch(text):
        raise DomainError("invalid_locale", f"{text!r} is not a locale identifier like 'de_DE'.", field)
    return text


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def time_zone(name: str, field: str) -> str:
    if not isinstance(name, str) or name not in _zones():
        raise DomainError(
            "invalid_time_zone", f"{name!r} is not an IANA time zone like 'Europe/Berlin'.", field
        )
    return name


def address(data: dict[str, Any], field: str) -> Address:
    if not isinstance(data, dict):
        raise DomainError("invalid_address", "An address is an object with line1, city and country.", field)

    def text(key: str, required: bool) -> str | None:
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise DomainError("required", f"{key} is required.", f"{field}.{key}")
            return None
        if not isinstance(value, str) or len(value) > 200:
            raise DomainError(
                "invalid_text", f"{key} must be text of at most 200 characters.", f"{field}.{key}"
            )
        return value.strip()

    unknown = set(data) - {"line1", "line2", "city", "postal_code", "state", "country"}
    if unknown:
        raise DomainError(
            "unknown_field", f"Unknown address field {sorted(unknown)[0]!r}.", f"{field}.{sorted(unknown)[0]}"
        )
    code = text("country", True)
    assert code is not None
    return Address(
        line1=text("line1", True) or "",
        line2=text("line2", False),
        city=text("city", True) or "",
        postal_code=text("postal_code", False),
        state=text("state", False),
        country=country(code, f"{field}.country"),
    )
