"""SEPA direct debit files (issue 7): pain.008 export with sepaxml, pain.002 / camt.054 returns read back.

Numbers are real test numbers: the Bundesbank's test creditor id DE98ZZZ09999999999 and stdnum's IBANs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from kassa.adapters.sepa.base import (
    Creditor,
    DirectDebit,
    ReturnKind,
    SepaFiles,
    SepaReturn,
    SequenceType,
    decline_code_for,
)
from kassa.adapters.sepa.pain008 import SepaXmlFiles
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.payments import DeclineCode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sepa"
CREATED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MARCH_5 = date(2026, 3, 5)
MARCH_10 = date(2026, 3, 10)
CREDITOR = Creditor(
    name="Kassa Demo GmbH",
    iban="DE89 3704 0044 0532 0130 00",
    bic="COBADEFFXXX",
    creditor_id="DE98ZZZ09999999999",
)


def eur(text: str) -> Money:
    return Money.parse(text, "EUR")


def debit(**changes: Any) -> DirectDebit:
    base = DirectDebit(
        end_to_end_id="pay_01JNA0000000000000000000A1",
        amount=eur("50.00"),
        debtor_name="Anna de Vries",
        debtor_iban="NL91ABNA0417164300",
        debtor_bic="ABNANL2A",
        mandate_id="MNDT-0001",
        mandate_signed_on=date(2025, 11, 20),
        sequence="RCUR",
        remittance="INV-2026-00041",
        collection_date=MARCH_5,
    )
    return dataclasses.replace(base, **changes)


THREE = [
    debit(),
    debit(
        end_to_end_id="pay_01JNA0000000000000000000D4",
        amount=eur("33.45"),
        debtor_name="Müller & Söhne",
        debtor_iban="de44 5001 0517 5407 3249 31",
        debtor_bic=None,
        mandate_id="MNDT-0004",
        mandate_signed_on=date(2026, 2, 27),
        sequence="FRST",
        remittance="INV-2026-00044",
        collection_date=MARCH_10,
    ),
    debit(
        end_to_end_id="pay_01JNA0000000000000000000C3",
        amount=eur("40.00"),
        debtor_name="Jean Dupont",
        debtor_iban="FR1420041010050500013M02606",
        debtor_bic="PSSTFRPPXXX",
        mandate_id="MNDT-0003",
        mandate_signed_on=date(2024, 6, 1),
        remittance="INV-2026-00043",
    ),
]


@pytest.fixture(scope="module")
def files() -> SepaXmlFiles:
    return SepaXmlFiles()


def export(files: SepaXmlFiles, debits: list[DirectDebit], creditor: Creditor = CREDITOR) -> bytes:
    return files.export_debits(creditor, debits, message_id="sdd-2026-03", created_at=CREATED_AT)


class Doc:
    """The exported file parsed back, queried by ISO 20022 element names."""

    def __init__(self, content: bytes) -> None:
        self.root = etree.fromstring(content)
        self.ns = {"d": self.root.nsmap[None]}

    def all(self, path: str, at: Any = None) -> list[Any]:
        qualified = "/".join(f"d:{step}" for step in path.split("/"))
        return list((self.root if at is None else at).iterfind(qualified, self.ns))

    def texts(self, path: str, at: Any = None) -> list[str]:
        return [e.text for e in self.all(path, at)]


def test_sepaxmlfiles_is_a_sepafiles() -> None:
    port: SepaFiles = SepaXmlFiles()
    assert isinstance(port, SepaXmlFiles)


def test_export_groups_two_rcur_and_one_frst_into_two_blocks(files: SepaXmlFiles) -> None:
    doc = Doc(export(files, THREE))
    assert doc.root.nsmap[None] == "urn:iso:std:iso:20022:tech:xsd:pain.008.001.02"
    header = "CstmrDrctDbtInitn/GrpHdr"
    assert doc.texts(f"{header}/MsgId") == ["sdd-2026-03"]
    assert doc.texts(f"{header}/CreDtTm") == ["2026-03-02T09:30:00+00:00"]
    assert doc.texts(f"{header}/NbOfTxs") == ["3"]
    assert doc.texts(f"{header}/CtrlSum") == ["123.45"]
    assert doc.texts(f"{header}/InitgPty/Nm") == ["Kassa Demo GmbH"]

    blocks = doc.all("CstmrDrctDbtInitn/PmtInf")
    assert len(blocks) == 2
    rcur, frst = blocks  # in the order each (sequence, date) first appears
    assert doc.texts("PmtInfId", rcur) == ["sdd-2026-03-1"]
    assert doc.texts("PmtInfId", frst) == ["sdd-2026-03-2"]
    assert doc.texts("PmtTpInf/SeqTp", rcur) == ["RCUR"]
    assert doc.texts("PmtTpInf/SeqTp", frst) == ["FRST"]
    assert doc.texts("PmtTpInf/LclInstrm/Cd", rcur) == ["CORE"]
    assert doc.texts("ReqdColltnDt", rcur) == ["2026-03-05"]
    assert doc.texts("ReqdColltnDt", frst) == ["2026-03-10"]
    assert doc.texts("NbOfTxs", rcur) == ["2"]
    assert doc.texts("CtrlSum", rcur) == ["90.00"]
    assert doc.texts("NbOfTxs", frst) == ["1"]
    assert doc.texts("CtrlSum", frst) == ["33.45"]
    for block in blocks:
        assert doc.texts("CdtrAcct/Id/IBAN", block) == ["DE89370400440532013000"]
        assert doc.texts("CdtrAgt/FinInstnId/BIC", block) == ["COBADEFFXXX"]
        assert doc.texts("CdtrSchmeId/Id/PrvtId/Othr/Id", block) == ["DE98ZZZ09999999999"]

    tx = "DrctDbtTxInf"
    assert doc.texts(f"{tx}/PmtId/EndToEndId", rcur) == [
        "pay_01JNA0000000000000000000A1",
        "pay_01JNA0000000000000000000C3",
    ]
    assert doc.texts(f"{tx}/InstdAmt", rcur) == ["50.00", "40.00"]
    assert [e.get("Ccy") for e in doc.all(f"{tx}/InstdAmt", rcur)] == ["EUR", "EUR"]
    assert doc.texts(f"{tx}/DrctDbtTx/MndtRltdInf/MndtId", rcur) == ["MNDT-0001", "MNDT-0003"]
    assert doc.texts(f"{tx}/DrctDbtTx/MndtRltdInf/DtOfSgntr", rcur) == ["2025-11-20", "2024-06-01"]
    assert doc.texts(f"{tx}/DbtrAcct/Id/IBAN", rcur) == ["NL91ABNA0417164300", "FR1420041010050500013M02606"]
    assert doc.texts(f"{tx}/DbtrAgt/FinInstnId/BIC", rcur) == ["ABNANL2A", "PSSTFRPPXXX"]
    assert doc.texts(f"{tx}/RmtInf/Ustrd", rcur) == ["INV-2026-00041", "INV-2026-00043"]

    assert doc.texts(f"{tx}/PmtId/EndToEndId", frst) == ["pay_01JNA0000000000000000000D4"]
    assert doc.texts(f"{tx}/DbtrAcct/Id/IBAN", frst) == ["DE44500105175407324931"]  # compact, uppercase
    assert doc.texts(f"{tx}/DbtrAgt/FinInstnId/Othr/Id", frst) == ["NOTPROVIDED"]  # IBAN-only debtor
    assert doc.texts(f"{tx}/Dbtr/Nm", frst) == ["Muller & Sohne"]  # transliterated for the SEPA charset
    assert doc.texts(f"{tx}/DrctDbtTx/MndtRltdInf/DtOfSgntr", frst) == ["2026-02-27"]


def test_export_is_the_same_bytes_for_the_same_input(files: SepaXmlFiles) -> None:
    first = export(files, THREE)
    assert export(files, THREE) == first
    assert first.startswith(b"<?xml version='1.0' encoding='UTF-8'?>\n<Document")


def test_created_at_is_written_in_utc(files: SepaXmlFiles) -> None:
    berlin = CREATED_AT.astimezone(timezone(timedelta(hours=1)))
    content = files.export_debits(CREDITOR, THREE, message_id="sdd-2026-03", created_at=berlin)
    assert Doc(content).texts("CstmrDrctDbtInitn/GrpHdr/CreDtTm") == ["2026-03-02T09:30:00+00:00"]


def test_pain_008_001_08_exports_an_iban_only_creditor_with_bicfi() -> None:
    files = SepaXmlFiles(schema="pain.008.001.08", instrument="B2B")
    creditor = dataclasses.replace(CREDITOR, bic=None)
    doc = Doc(export(files, THREE, creditor))
    assert doc.root.nsmap[None] == "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"
    block = doc.all("CstmrDrctDbtInitn/PmtInf")[0]
    assert doc.texts("CdtrAgt/FinInstnId/Othr/Id", block) == ["NOTPROVIDED"]
    assert doc.texts("DrctDbtTxInf/DbtrAgt/FinInstnId/BICFI", block) == ["ABNANL2A", "PSSTFRPPXXX"]
    assert doc.texts("PmtTpInf/LclInstrm/Cd", block) == ["B2B"]


def test_unknown_schema_or_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="pain.001.001.03"):
        SepaXmlFiles(schema="pain.001.001.03")
    with pytest.raises(ValueError, match="COR1"):
        SepaXmlFiles(instrument="COR1")


@pytest.mark.parametrize(
    ("debits", "code", "field"),
    [
        ([debit(), debit(end_to_end_id="p2"), debit(end_to_end_id="p3", debtor_iban="NL91ABNA0417164301")],
         "invalid_iban", "debits.2.debtor_iban"),
        ([debit(), debit(end_to_end_id="p2", amount=Money.parse("10.00", "CHF"))], "sepa_currency", "debits.1.amount"),
        ([debit(debtor_bic="ABNANL")], "invalid_bic", "debits.0.debtor_bic"),
        ([debit(amount=eur("0.00"))], "invalid_amount", "debits.0.amount"),
        ([debit(amount=eur("10.005"))], "invalid_amount", "debits.0.amount"),
        ([debit(amount=eur("1000000000.00"))], "invalid_amount", "debits.0.amount"),
        ([debit(sequence="ONCE")], "invalid_sequence", "debits.0.sequence"),
        ([debit(mandate_signed_on=date(2026, 3, 6))], "mandate_not_signed", "debits.0.mandate_signed_on"),
        ([debit(collection_date=date(2026, 3, 2))], "invalid_collection_date", "debits.0.collection_date"),
        ([debit(end_to_end_id="")], "invalid_sepa_identifier", "debits.0.end_to_end_id"),
        ([debit(end_to_end_id="p" * 36)], "invalid_sepa_identifier", "debits.0.end_to_end_id"),
        ([debit(mandate_id=" MNDT-1")], "invalid_sepa_identifier", "debits.0.mandate_id"),
        ([debit(debtor_name="  ")], "invalid_text", "debits.0.debtor_name"),
        ([debit(debtor_name="\U0001f600")], "invalid_text", "debits.0.debtor_name"),
        ([debit(remittance="")], "invalid_text", "debits.0.remittance"),
        ([debit(), debit()], "duplicate_end_to_end_id", "debits.1.end_to_end_id"),
        ([], "no_debits", "debits"),
    ],
)  # fmt: skip
def test_export_refuses_bad_debits_naming_the_field(
    files: SepaXmlFiles, debits: list[DirectDebit], code: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        export(files, debits)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_non_eur_message_names_the_currency(files: SepaXmlFiles) -> None:
    with pytest.raises(DomainError, match="SEPA direct debits are in EUR, not CHF."):
        export(files, [debit(amount=Money.parse("10.00", "CHF"))])


@pytest.mark.parametrize(
    ("creditor", "code", "field"),
    [
        (dataclasses.replace(CREDITOR, iban="DE89370400440532013001"), "invalid_iban", "creditor.iban"),
        (dataclasses.replace(CREDITOR, bic="COBA"), "invalid_bic", "creditor.bic"),
        (dataclasses.replace(CREDITOR, creditor_id="DE99ZZZ09999999999"), "invalid_creditor_id",
         "creditor.creditor_id"),
        (dataclasses.replace(CREDITOR, creditor_id="DE98"), "invalid_creditor_id", "creditor.creditor_id"),
        (dataclasses.replace(CREDITOR, name=""), "invalid_text", "creditor.name"),
        (dataclasses.replace(CREDITOR, bic=None), "sepa_bic_required", "creditor.bic"),
    ],
)  # fmt: skip
def test_export_refuses_a_bad_creditor(
    files: SepaXmlFiles, creditor: Creditor, code: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        export(files, THREE, creditor)
    assert (caught.value.code, caught.value.field) == (code, field)


@pytest.mark.parametrize(
    ("message_id", "created_at", "code", "field"),
    [
        ("m" * 31, CREATED_AT, "invalid_sepa_identifier", "message_id"),
        ("", CREATED_AT, "invalid_sepa_identifier", "message_id"),
        ("sdd-1", datetime(2026, 3, 2, 9, 30), "invalid_instant", "created_at"),  # noqa: DTZ001
    ],
)
def test_export_refuses_a_bad_header(
    files: SepaXmlFiles, message_id: str, created_at: datetime, code: str, field: str
) -> None:
    with pytest.raises(DomainError) as caught:
        files.export_debits(CREDITOR, THREE, message_id=message_id, created_at=created_at)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_creditor_id_is_compacted() -> None:
    checked = dataclasses.replace(CREDITOR, creditor_id="de98 zzz 0999 9999 999").checked()
    assert (checked.creditor_id, checked.iban) == ("DE98ZZZ09999999999", "DE89370400440532013000")


debit_rows = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=99_999_999_999),
        st.sampled_from(["FRST", "RCUR", "OOFF", "FNAL"]),
        st.integers(min_value=1, max_value=3),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=debit_rows)
def test_control_sums_and_blocks_match_the_debits(
    files: SepaXmlFiles, rows: list[tuple[int, str, int]]
) -> None:
    debits = [
        debit(
            end_to_end_id=f"pay-{i}",
            amount=Money.from_minor_units(cents, "EUR"),
            sequence=sequence,
            collection_date=CREATED_AT.date() + timedelta(days=days),
        )
        for i, (cents, sequence, days) in enumerate(rows)
    ]
    doc = Doc(export(files, debits))
    total = sum(Decimal(cents) for cents, _, _ in rows) / 100
    assert doc.texts("CstmrDrctDbtInitn/GrpHdr/CtrlSum") == [f"{total:.2f}"]
    assert doc.texts("CstmrDrctDbtInitn/GrpHdr/NbOfTxs") == [str(len(rows))]
    blocks = doc.all("CstmrDrctDbtInitn/PmtInf")
    expected = list(
        dict.fromkeys((s, (CREATED_AT.date() + timedelta(days=d)).isoformat()) for _, s, d in rows)
    )
    assert [(doc.texts("PmtTpInf/SeqTp", b)[0], doc.texts("ReqdColltnDt", b)[0]) for b in blocks] == expected
    for block in blocks:
        amounts = [Decimal(a) for a in doc.texts("DrctDbtTxInf/InstdAmt", block)]
        assert doc.texts("CtrlSum", block) == [f"{sum(amounts):.2f}"]
        assert doc.texts("NbOfTxs", block) == [str(len(amounts))]
    assert sorted(doc.texts("CstmrDrctDbtInitn/PmtInf/DrctDbtTxInf/PmtId/EndToEndId")) == sorted(
        f"pay-{i}" for i in range(len(rows))
    )


def returned(end_to_end_id: str, amount: str, reason: str, day: date, kind: ReturnKind) -> SepaReturn:
    return SepaReturn(
        end_to_end_id=end_to_end_id, amount=eur(amount), reason_code=reason, returned_on=day, kind=kind
    )


def test_pain002_rejects(files: SepaXmlFiles) -> None:
    found = files.read_returns((FIXTURES / "pain002_rejects.xml").read_bytes())
    assert found == [
        returned("pay_01JNA0000000000000000000A1", "50.00", "AC04", date(2026, 3, 4), "reject"),
        returned("pay_01JNA0000000000000000000C3", "40.00", "AM04", date(2026, 3, 4), "reject"),
        # no TxSts and no reason of its own: both inherited from its rejected batch
        returned("pay_01JNA0000000000000000000D4", "33.45", "MD01", date(2026, 3, 4), "reject"),
    ]
    assert [r.decline_code for r in found] == [
        DeclineCode.ACCOUNT_CLOSED,
        DeclineCode.INSUFFICIENT_FUNDS,
        DeclineCode.NO_MANDATE,
    ]


def test_camt054_returns(files: SepaXmlFiles) -> None:
    found = files.read_returns((FIXTURES / "camt054_returns.xml").read_bytes())
    assert found == [
        # the instructed amount, not the 53.00 the bank booked with its fee
        returned("pay_01JNA0000000000000000000E5", "50.00", "AM04", date(2026, 3, 9), "return"),
        returned("pay_01JNA0000000000000000000F6", "40.00", "MD06", date(2026, 3, 9), "refund"),
        # the entry's amount and its booking instant's own day
        returned("pay_01JNA0000000000000000000G7", "33.45", "MS02", date(2026, 3, 11), "return"),
    ]
    assert [r.decline_code for r in found] == [
        DeclineCode.INSUFFICIENT_FUNDS,
        DeclineCode.DEBTOR_REFUSED,
        DeclineCode.DEBTOR_REFUSED,
    ]


@pytest.mark.parametrize(
    ("reason", "decline"),
    [
        ("AM04", DeclineCode.INSUFFICIENT_FUNDS),
        ("AC04", DeclineCode.ACCOUNT_CLOSED),
        ("MD07", DeclineCode.ACCOUNT_CLOSED),
        ("MD01", DeclineCode.NO_MANDATE),
        ("MS02", DeclineCode.DEBTOR_REFUSED),
        ("MS03", DeclineCode.DEBTOR_REFUSED),
        ("MD06", DeclineCode.DEBTOR_REFUSED),
        ("SL01", DeclineCode.DEBTOR_REFUSED),
        ("AC01", DeclineCode.INVALID_ACCOUNT),
        ("AC06", DeclineCode.INVALID_ACCOUNT),
        ("BE05", DeclineCode.INVALID_ACCOUNT),
        (" ac13 ", DeclineCode.INVALID_ACCOUNT),
        ("AM05", DeclineCode.GENERIC_DECLINE),
        ("FF01", DeclineCode.GENERIC_DECLINE),
        ("NARR", DeclineCode.GENERIC_DECLINE),
    ],
)
def test_decline_code_for(reason: str, decline: DeclineCode) -> None:
    assert decline_code_for(reason) is decline


PAIN002 = (FIXTURES / "pain002_rejects.xml").read_text()
CAMT054 = (FIXTURES / "camt054_returns.xml").read_text()
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE Document [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<Document><CstmrPmtStsRpt>&b;</CstmrPmtStsRpt></Document>"""


@pytest.mark.parametrize(
    ("content", "where", "message"),
    [
        (b"", "line 1, column 0", "Not well-formed XML"),
        (b"PK\x03\x04 a zip file", "line 1, column 2", "Not well-formed XML"),
        (PAIN002[:600].encode(), "line 11, column 3", "Not well-formed XML"),  # where the cut text ends
        (BOMB, None, "DTDs and entity declarations are not allowed"),
        (b"<Statement/>", "Statement", "The root element of an ISO 20022 file is Document."),
        (b"<Document><BkToCstmrStmt/></Document>", "Document", "Neither a pain.002"),
        (CAMT054.replace("<EndToEndId>pay_01JNA0000000000000000000F6</EndToEndId>", "").encode(),
         "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry[1]/NtryDtls/TxDtls[2]/Refs", "EndToEndId is missing."),
        (CAMT054.replace('<Amt Ccy="EUR">40.00</Amt>', '<Amt Ccy="USD">40.00</Amt>').encode(),
         "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry[1]/NtryDtls/TxDtls[2]/AmtDtls/TxAmt/Amt", "not 'USD'"),
        (CAMT054.replace("<Dt>2026-03-09</Dt>\n        </BookgDt>", "<Dt>09.03.2026</Dt>\n        </BookgDt>").encode(),
         "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry[1]/BookgDt/Dt", "'09.03.2026' is not an ISO date."),
        (CAMT054.replace("<Cd>MS02</Cd>", "").encode(),
         "Document/BkToCstmrDbtCdtNtfctn/Ntfctn/Ntry[2]/NtryDtls/TxDtls/RtrInf/Rsn", "neither Cd nor Prtry"),
        (PAIN002.replace('<InstdAmt Ccy="EUR">40.00</InstdAmt>', '<InstdAmt Ccy="EUR">4O.00</InstdAmt>').encode(),
         "Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[1]/TxInfAndSts[3]/OrgnlTxRef/Amt/InstdAmt", "not an amount"),
        (PAIN002.replace("<Cd>MD01</Cd>", "<Cd>MD01X</Cd>").encode(),
         "Document/CstmrPmtStsRpt/OrgnlPmtInfAndSts[2]/StsRsnInf/Rsn/Cd", "not an ISO 20022 reason code"),
    ],
)  # fmt: skip
def test_malformed_files_are_refused_whole(
    files: SepaXmlFiles, content: bytes, where: str | None, message: str
) -> None:
    with pytest.raises(DomainError) as caught:
        files.read_returns(content)
    assert (caught.value.code, caught.value.field) == ("invalid_sepa_file", where)
    assert message in caught.value.message


def test_a_proprietary_reason_is_kept(files: SepaXmlFiles) -> None:
    content = CAMT054.replace("<Cd>MS02</Cd>", "<Prtry>BANK-17</Prtry>").encode()
    assert [r.reason_code for r in files.read_returns(content)] == ["AM04", "MD06", "BANK-17"]
    assert decline_code_for("BANK-17") is DeclineCode.GENERIC_DECLINE


def test_a_whole_rejected_file_is_an_error_not_an_empty_list(files: SepaXmlFiles) -> None:
    content = b"""<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>
      <GrpHdr><MsgId>S1</MsgId><CreDtTm>2026-03-04T10:15:00</CreDtTm></GrpHdr>
      <OrgnlGrpInfAndSts><OrgnlMsgId>sdd-2026-03</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId>
        <GrpSts>RJCT</GrpSts><StsRsnInf><Rsn><Cd>FF01</Cd></Rsn></StsRsnInf></OrgnlGrpInfAndSts>
    </CstmrPmtStsRpt></Document>"""
    with pytest.raises(DomainError) as caught:
        files.read_returns(content)
    assert (caught.value.code, caught.value.field) == (
        "sepa_file_rejected",
        "Document/CstmrPmtStsRpt/OrgnlGrpInfAndSts",
    )
    assert "(FF01)" in caught.value.message


def test_an_accepted_report_has_no_returns(files: SepaXmlFiles) -> None:
    content = b"""<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>
      <GrpHdr><MsgId>S1</MsgId><CreDtTm>2026-03-04T10:15:00Z</CreDtTm></GrpHdr>
      <OrgnlGrpInfAndSts><OrgnlMsgId>sdd-2026-03</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId>
        <GrpSts>ACCP</GrpSts></OrgnlGrpInfAndSts>
    </CstmrPmtStsRpt></Document>"""
    assert files.read_returns(content) == []


def _mutated(original: bytes) -> st.SearchStrategy[bytes]:
    size = len(original)
    cut = st.tuples(st.integers(0, size), st.integers(0, 200), st.binary(max_size=40))
    return cut.map(lambda c: original[: c[0]] + c[2] + original[c[0] + c[1] :])


fuzzed = st.one_of(
    st.binary(max_size=300),
    _mutated(PAIN002.encode()),
    _mutated(CAMT054.encode()),
    st.sampled_from([PAIN002, CAMT054]).flatmap(
        lambda text: st.sampled_from([">", "<", '"', "EUR", "2026", "Cd", "RJCT", "BOOK", "."]).map(
            lambda token: text.replace(token, "", 3).encode()
        )
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=fuzzed)
def test_fuzzed_files_give_returns_or_a_domain_error(files: SepaXmlFiles, content: bytes) -> None:
    try:
        found = files.read_returns(content)
    except DomainError as error:
        assert error.code in {"invalid_sepa_file", "sepa_file_rejected"}
    else:
        assert all(isinstance(r, SepaReturn) and r.amount.currency == "EUR" for r in found)


def test_sequence_type_literal_matches_the_checked_set() -> None:
    sequences: list[SequenceType] = ["FRST", "RCUR", "OOFF", "FNAL"]
    assert [
        debit(sequence=s).checked("d", created_on=CREATED_AT.date()).sequence for s in sequences
    ] == sequences
