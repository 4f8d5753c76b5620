"""Tax id, IBAN and BIC validation on python-stdnum (offline). Valid numbers are stdnum's own examples."""

from __future__ import annotations

import pytest

from kassa.adapters.tax_ids.base import TaxId, TaxIdValidator
from kassa.adapters.tax_ids.offline import StdnumTaxIdValidator
from kassa.core.errors import DomainError

CHECKSUM = "The number's checksum or check digit is invalid."
COMPONENT = "One of the parts of the number are invalid or unknown."
FIELD = "tax_ids.0.value"


@pytest.fixture
def validator() -> TaxIdValidator:
    return StdnumTaxIdValidator()


@pytest.mark.parametrize(
    ("type_", "raw", "value", "country"),
    [
        ("eu_vat", "DE136695976", "DE136695976", "DE"),
        ("eu_vat", "DE 136 695 976", "DE136695976", "DE"),
        ("eu_vat", "de136695976", "DE136695976", "DE"),
        ("eu_vat", "FR 61 954 506 077", "FR61954506077", "FR"),
        ("eu_vat", "BE697449992", "BE0697449992", "BE"),
        ("eu_vat", "ATU 57194903", "ATU57194903", "AT"),
        ("eu_vat", "EL 094259216 ", "EL094259216", "GR"),
        ("eu_vat", "GR094259216", "EL094259216", "GR"),
        ("eu_vat", "XI 980 7806 84", "XI980780684", "GB"),
        ("gb_vat", "GB 980 7806 84", "GB980780684", "GB"),
        ("gb_vat", "980780684", "GB980780684", "GB"),
        ("ch_vat", "CHE-107.787.577 IVA", "CHE107787577IVA", "CH"),
        ("ch_vat", "CHE-107.787.577 MWST", "CHE107787577MWST", "CH"),
        ("ch_vat", "CHE-107.787.577 TVA", "CHE107787577TVA", "CH"),
        ("no_vat", "NO 995 525 828 MVA", "995525828MVA", "NO"),
        ("au_abn", "83 914 571 673", "83914571673", "AU"),
        ("ca_bn", "12302 6635", "123026635", "CA"),
        ("ca_bn", "12302 6635 RC 0001", "123026635RC0001", "CA"),
        ("us_ein", "91-1144442", "911144442", "US"),
        ("in_gst", "27aapfu0939f1zv", "27AAPFU0939F1ZV", "IN"),
        ("br_cnpj", "16.727.230/0001-97", "16727230000197", "BR"),
        ("mx_rfc", "MAB-930714-8T4", "MAB9307148T4", "MX"),
        ("nz_gst", "NZ 49-098-576", "49098576", "NZ"),
        ("jp_cn", "5-8356-7825-6246", "5835678256246", "JP"),
        ("sg_uen", "197401143C", "197401143C", "SG"),
        ("es_cif", "B-99216582", "B99216582", "ES"),
        ("tr_tin", "4540536920", "4540536920", "TR"),
        ("cl_tin", "76086428-5", "760864285", "CL"),
        ("co_nit", "213.123.432-1", "2131234321", "CO"),
        ("ru_inn", "1234567894", "1234567894", "RU"),
    ],
)
def test_valid_tax_ids_are_normalized_with_their_country(
    validator: TaxIdValidator, type_: str, raw: str, value: str, country: str
) -> None:
    assert validator.validate_tax_id(type_, raw, field=FIELD) == TaxId(
        type=type_, value=value, country=country
    )


@pytest.mark.parametrize(
    ("type_", "raw", "reason"),
    [
        ("eu_vat", "DE123456789", CHECKSUM),
        ("eu_vat", "EL 123456781", CHECKSUM),
        ("eu_vat", "DE 136", "The number has an invalid length."),
        ("gb_vat", "802311781", CHECKSUM),
        ("ch_vat", "CHE-107.787.578 IVA", CHECKSUM),
        ("no_vat", "NO 995 525 829 MVA", CHECKSUM),
        ("au_abn", "99 999 999 999", CHECKSUM),
        ("ca_bn", "123456783", CHECKSUM),
        ("us_ein", "07-1144442", COMPONENT),  # EINs carry no check digit: prefix 07 is no IRS campus
        ("us_ein", "911-14-4442", "The number has an invalid format."),
        ("in_gst", "27AAPFU0939F1ZO", CHECKSUM),
        ("br_cnpj", "16.727.230.0001-98", CHECKSUM),
        ("mx_rfc", "MAB-931314-8T4", COMPONENT),  # month 13
        ("nz_gst", "136410133", CHECKSUM),
        ("jp_cn", "2-8356-7825-6246", CHECKSUM),
        ("sg_uen", "197401143D", CHECKSUM),
        ("es_cif", "J99216583", CHECKSUM),
        ("tr_tin", "4540536921", CHECKSUM),
        ("cl_tin", "12531909-3", CHECKSUM),
        ("co_nit", "2131234325", CHECKSUM),
        ("ru_inn", "1234567895", CHECKSUM),
    ],
)
def test_invalid_tax_ids_are_refused_with_stdnums_reason(
    validator: TaxIdValidator, type_: str, raw: str, reason: str
) -> None:
    with pytest.raises(DomainError) as caught:
        validator.validate_tax_id(type_, raw, field=FIELD)
    assert (caught.value.code, caught.value.field) == ("invalid_tax_id", FIELD)
    assert caught.value.message == f"Invalid {type_} {raw!r}: {reason}"


@pytest.mark.parametrize("raw", ["EU372000041", "US123456789", "", "980780684"])
def test_eu_vat_needs_a_member_state_prefix(validator: TaxIdValidator, raw: str) -> None:
    """OSS numbers (EU…) are valid for stdnum but name no member state."""
    with pytest.raises(DomainError) as caught:
        validator.validate_tax_id("eu_vat", raw, field="tax_id")
    assert (caught.value.code, caught.value.field) == ("invalid_tax_id", "tax_id")
    assert caught.value.message.startswith(
        f"Invalid eu_vat {raw!r}: The number does not start with an EU member state's VAT prefix (AT, BE, "
    )
    assert "EL, ES" in caught.value.message and "XI)" in caught.value.message


def test_unknown_type_is_refused_listing_the_supported_ones(validator: TaxIdValidator) -> None:
    with pytest.raises(DomainError) as caught:
        validator.validate_tax_id("de_vat", "DE136695976", field=FIELD)
    assert (caught.value.code, caught.value.field) == ("unknown_tax_id_type", FIELD)
    assert caught.value.message == (
        "Unknown tax id type 'de_vat'; supported: eu_vat, gb_vat, ch_vat, no_vat, au_abn, ca_bn, us_ein, "
        "in_gst, br_cnpj, mx_rfc, nz_gst, jp_cn, sg_uen, es_cif, tr_tin, cl_tin, co_nit, ru_inn."
    )


def test_supported_types_describe_each_type(validator: TaxIdValidator) -> None:
    types = validator.supported_types()
    assert len(types) == 18
    assert types["eu_vat"] == "European VAT number (with its country prefix)"
    assert types["ch_vat"] == "Swiss VAT number (CHE-123.456.789 MWST)"
    assert all(description for description in types.values())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
        ("gb82west12345698765432", "GB82WEST12345698765432"),
        ("GR16 0110 1050 0000 1054 7023 795", "GR1601101050000010547023795"),
        ("BE31435411161155", "BE31435411161155"),
    ],
)
def test_valid_iban_is_compact_and_uppercase(validator: TaxIdValidator, raw: str, expected: str) -> None:
    assert validator.validate_iban(raw, field="bank_account.iban") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("GB82 WEST 1234 5698 7654 31", CHECKSUM),
        ("", "The number has an invalid format."),
    ],
)
def test_invalid_iban_is_refused_with_the_reason(validator: TaxIdValidator, raw: str, reason: str) -> None:
    with pytest.raises(DomainError) as caught:
        validator.validate_iban(raw, field="bank_account.iban")
    assert (caught.value.code, caught.value.field) == ("invalid_iban", "bank_account.iban")
    assert caught.value.message == f"Invalid IBAN {raw!r}: {reason}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("AGRIFRPP882", "AGRIFRPP882"), ("ABNA BE 2A", "ABNABE2A"), ("deutdeff", "DEUTDEFF")],
)
def test_valid_bic_is_compact_and_uppercase(validator: TaxIdValidator, raw: str, expected: str) -> None:
    assert validator.validate_bic(raw, field="bank_account.bic") == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("AGRIFRPP8", "The number has an invalid length."), ("AGRIF2PP", "The number has an invalid format.")],
)
def test_invalid_bic_is_refused_with_the_reason(validator: TaxIdValidator, raw: str, reason: str) -> None:
    with pytest.raises(DomainError) as caught:
        validator.validate_bic(raw, field="bank_account.bic")
    assert (caught.value.code, caught.value.field) == ("invalid_bic", "bank_account.bic")
    assert caught.value.message == f"Invalid BIC {raw!r}: {reason}"
