"""Bank statement files (issue 7): CAMT.053, MT940, OFX and CSV read into a `BankStatement`.

Fixtures in tests/fixtures/bank are written to each format's published structure; the real samples of
several banks live outside the project in ../shared/samples/bank and are read where they are.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kassa.adapters.bank_files import camt053, mt940
from kassa.adapters.bank_files.base import BankFileReader, CsvMapping
from kassa.adapters.bank_files.reader import FileBankReader, detect_format
from kassa.core.errors import DomainError
from kassa.core.money import Money
from kassa.core.statements import BankFileError, BankStatement, StatementFormat, StatementLine

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bank"
SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "bank"

GERMAN_CSV = CsvMapping(
    date="Buchungstag",
    value_date="Valuta",
    date_format="%d.%m.%Y",
    amount="Betrag",
    currency_column="Währung",
    reference="Verwendungszweck",
    counterparty_name="Auftraggeber/Empfänger",
    counterparty_iban="IBAN",
    decimal_separator=",",
    thousands_separator=".",
    delimiter=";",
    encoding="cp1252",
    skip_rows=2,
)
DEBIT_CREDIT_CSV = CsvMapping(
    date="Date",
    debit="Debit",
    credit="Credit",
    currency="GBP",
    reference="Reference",
    description="Description",
    bank_reference="Transaction ID",
    thousands_separator=",",
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sample(relative: str) -> bytes:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared bank samples are not here ({SAMPLES})")
    return (SAMPLES / relative).read_bytes()


def money(amount: str, currency: str) -> Money:
    return Money(Decimal(amount), currency)


def unkeyed(statement: BankStatement) -> list[StatementLine]:
    return [replace(line, key="") for line in statement.lines]


def header(statement: BankStatement) -> BankStatement:
    return replace(statement, lines=())


@pytest.fixture
def reader() -> BankFileReader:
    return FileBankReader()


def read_error(content: bytes, **kwargs: object) -> BankFileError:
    with pytest.raises(BankFileError) as caught:
        FileBankReader().read_all(content, **kwargs)  # type: ignore[arg-type]
    assert caught.value.code == "invalid_bank_file"
    return caught.value


# ---- CAMT.053 -------------------------------------------------------------------------------------------


def test_camt053_v02_reads_balances_and_booked_entries(reader: BankFileReader) -> None:
    statement = reader.read(fixture("camt053_v02.xml"))
    assert header(statement) == BankStatement(
        format=StatementFormat.CAMT053,
        account="DE89370400440532013000",
        currency="EUR",
        statement_id="STMT-2024-03-05",
        opening_balance=money("1000.00", "EUR"),
        closing_balance=money("2120.22", "EUR"),  # CLBD; the CLAV (available) balance is not it
        opened_on=date(2024, 3, 4),
        closed_on=date(2024, 3, 5),
    )
    # The pending (PDNG) entry of 500.00 is not a booking and is left out.
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 3, 5),
            value_on=date(2024, 3, 5),
            amount=money("1250.00", "EUR"),
            reference="Invoice INV-2024-0042",
            counterparty_name="Muster GmbH",  # the debtor of a credit
            counterparty_iban="FR1420041010050500013M02606",
            bank_reference="2024030500001",
            description="SEPA Credit Transfer",
        ),
        StatementLine(
            booked_on=date(2024, 3, 5),  # from BookgDt/DtTm
            value_on=date(2024, 3, 4),
            amount=money("-89.90", "EUR"),
            reference="RF18539007547034 Customer 4711",  # structured reference first, then Ustrd
            counterparty_name="Telecom AG",  # the creditor of a debit
            counterparty_iban="DE02120300000000202051",
            description="Direct debit",  # AddtlTxInf when the entry has no AddtlNtryInf
        ),
        StatementLine(booked_on=date(2024, 3, 5), amount=money("0.12", "EUR"), description="Interest"),
        StatementLine(
            booked_on=date(2024, 3, 5),
            value_on=date(2024, 3, 5),
            amount=money("-40.00", "EUR"),
            reference="Fee A Fee B",  # two transactions without their own amounts: one line
            counterparty_name="Bank AG",
            bank_reference="2024030500005",
        ),
    ]
    assert [line.key for line in statement.lines][0] == "ref:2024030500001"


def test_camt053_v08_splits_a_batch_whose_transactions_add_up(reader: BankFileReader) -> None:
    statement = reader.read(fixture("camt053_v08_batch.xml"))
    assert header(statement) == BankStatement(
        format=StatementFormat.CAMT053,
        account="CH9300762011623852957",  # written with spaces in the file
        currency="CHF",  # no Acct/Ccy: the balances' currency
        statement_id="B-2024-07",
        opening_balance=money("-250.00", "CHF"),  # PRCD, debit
        closing_balance=money("325.50", "CHF"),
        opened_on=date(2024, 6, 30),
        closed_on=date(2024, 7, 2),
    )
    batch = {"booked_on": date(2024, 7, 1), "value_on": date(2024, 7, 1), "bank_reference": "BATCH-77"}
    assert unkeyed(statement) == [
        # 400.00 + 250.00 - 50.00 = 600.00, the entry: one line per transaction, each signed by its own
        # CdtDbtInd and naming its own other party (v08 wraps the name in Pty).
        StatementLine(
            amount=money("400.00", "CHF"),
            reference="210000000003139471430009017",
            counterparty_name="Alpha SA",
            counterparty_iban="CH5604835012345678009",
            description="Batch booking",
            **batch,  # type: ignore[arg-type]
        ),
        StatementLine(
            amount=money("250.00", "CHF"),
            reference="INV-1001",
            counterparty_name="Beta AG",
            counterparty_iban="CH3908704016075473007",
            description="Batch booking",
            **batch,  # type: ignore[arg-type]
        ),
        StatementLine(
            amount=money("-50.00", "CHF"),
            reference="Return INV-0999",
            counterparty_name="Gamma GmbH",
            counterparty_iban="DE75512108001245126199",
            description="Batch booking",
            **batch,  # type: ignore[arg-type]
        ),
        # 60.00 + 30.00 is not the 100.00 booked: the booking stays one line.
        StatementLine(
            booked_on=date(2024, 7, 2),
            value_on=date(2024, 7, 2),
            amount=money("-100.00", "CHF"),
            reference="Account fee Card fee",
            counterparty_name="Bank Fees",
            bank_reference="FEE-1",
        ),
        # Booked at 23:30 UTC on the 2nd: the day the bank wrote. EndToEndId NOTPROVIDED is no reference.
        StatementLine(
            booked_on=date(2024, 7, 2),
            value_on=date(2024, 7, 3),
            amount=money("75.50", "CHF"),
            reference="INV-1002",
            counterparty_name="Delta Ltd",
            bank_reference="FX-9",
        ),
    ]
    assert [line.key for line in statement.lines[:3]] == ["ref:BATCH-77", "ref:BATCH-77#1", "ref:BATCH-77#2"]


def test_camt053_end_to_end_id_stands_in_for_missing_remittance() -> None:
    content = fixture("camt053_v02.xml").replace(b"<Ustrd>Invoice INV-2024-0042</Ustrd>", b"")
    (statement,) = camt053.parse(content)
    assert statement.lines[0].reference == "E2E-INV-42"


@pytest.mark.parametrize(
    ("old", "new", "message", "where"),
    [
        (
            b'<Amt Ccy="EUR">89.90',
            b'<Amt Ccy="USD">89.90',
            "in USD; the statement is in EUR",
            "Stmt[1]/Ntry[2]/Amt/@Ccy",
        ),
        (b'<Amt Ccy="EUR">89.90', b'<Amt Ccy="EUR">-89.90', "unsigned", "Stmt[1]/Ntry[2]/Amt"),
        (
            b'<Amt Ccy="EUR">89.90',
            b'<Amt Ccy="EUR">89.901',
            "more decimals than EUR has (2)",
            "Stmt[1]/Ntry[2]/Amt",
        ),
        (b'<Amt Ccy="EUR">89.90', b'<Amt Ccy="EUR">89,90', "'89,90' is not an amount", "Stmt[1]/Ntry[2]/Amt"),
        (
            b"2024-03-05T10:15:00",
            b"2024-13-05T10:15:00",
            "not a calendar date",
            "Stmt[1]/Ntry[2]/BookgDt/DtTm",
        ),
        (
            b"<Dt>2024-03-04</Dt>\n        </ValDt>",
            b"<Dt>04.03.2024</Dt>\n        </ValDt>",
            "not an ISO date",
            "Stmt[1]/Ntry[2]/ValDt/Dt",
        ),
        (
            b"<CdtDbtInd>DBIT</CdtDbtInd>\n        <Sts>BOOK",
            b"<CdtDbtInd>D</CdtDbtInd>\n        <Sts>BOOK",
            "CRDT or DBIT",
            "Stmt[1]/Ntry[2]/CdtDbtInd",
        ),
        (b"<Ccy>EUR</Ccy>", b"<Ccy>DEM</Ccy>", "'DEM' is not an ISO 4217 currency", "Stmt[1]/Acct/Ccy"),
        (
            b"<BookgDt>\n          <DtTm>2024-03-05T10:15:00+01:00</DtTm>\n        </BookgDt>\n        <ValDt>\n          <Dt>2024-03-04</Dt>\n        </ValDt>",
            b"",
            "no booking date",
            "Stmt[1]/Ntry[2]",
        ),
        (b"BkToCstmrStmt>", b"BkToCstmrDbtCdtNtfctn>", "camt.054 debit/credit notification", "Document"),
        (b"</Document>", b"", "Not well-formed XML", "line 213"),
    ],
)
def test_camt053_errors_say_what_and_where(old: bytes, new: bytes, message: str, where: str) -> None:
    content = fixture("camt053_v02.xml")
    assert old in content
    error = read_error(content.replace(old, new), format=StatementFormat.CAMT053)
    assert message in error.message
    assert error.field == where


def test_camt053_without_any_statement() -> None:
    content = b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.04"><BkToCstmrStmt/></Document>'
    error = read_error(content)
    assert (error.message, error.field) == ("The file holds no statement (Stmt).", "BkToCstmrStmt")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Document [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
"""


@pytest.mark.parametrize(
    ("body", "detected"),
    [
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>'
            b"<Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>",
            StatementFormat.CAMT053,
        ),
        (b'<?OFX OFXHEADER="200" VERSION="220"?><OFX><MEMO>&lol9;</MEMO></OFX>', StatementFormat.OFX),
    ],
)
def test_entity_expansion_is_refused(body: bytes, detected: StatementFormat) -> None:
    content = BILLION_LAUGHS + body
    assert detect_format(content) == detected
    error = read_error(content)
    assert "DTD or entities" in error.message


# ---- MT940 ----------------------------------------------------------------------------------------------


def test_mt940_reads_each_statement_with_its_details() -> None:
    first, second = mt940.parse(fixture("mt940_generic.sta"))
    assert header(first) == BankStatement(
        format=StatementFormat.MT940,
        account="DE89370400440532013000",
        currency="EUR",
        statement_id="00001/001",
        opening_balance=money("1000.00", "EUR"),
        closing_balance=money("2160.10", "EUR"),
        opened_on=date(2023, 12, 29),
        closed_on=date(2023, 12, 29),
    )
    assert unkeyed(first) == [
        StatementLine(
            booked_on=date(2023, 12, 29),
            value_on=date(2023, 12, 29),
            amount=money("1250.00", "EUR"),
            # ?20-?29 joined across the 65-character wrap, a space before each SEPA keyword
            reference="EREF+INV-2023-0099 SVWZ+Rechnung INV-2023-0099 Kundennr 4711",
            counterparty_name="Muster Handel GmbH",  # ?32 + ?33
            counterparty_iban="DE02120300000000202051",  # ?31
            bank_reference="BANKREF0001",
            description="SEPA-GUTSCHRIFT",  # ?00
        ),
        StatementLine(
            booked_on=date(2023, 12, 29),  # the entry date MMDD
            value_on=date(2023, 12, 31),
            amount=money("-89.90", "EUR"),  # "DR": debit, funds code R
            reference="EREF+DD-77 MREF+M-1 SVWZ+Telefon Dezember",
            counterparty_name="Telecom AG",
            counterparty_iban="DE75512108001245126199",
            bank_reference="BANKREF0002",
            description="SEPA-LASTSCHRIFT",
        ),
    ]
    assert header(second) == BankStatement(
        format=StatementFormat.MT940,
        account="DE89370400440532013000",
        currency="EUR",
        statement_id="00002/001",
        opening_balance=money("2160.10", "EUR"),
        closing_balance=money("2110.22", "EUR"),
        opened_on=date(2023, 12, 29),
        closed_on=date(2024, 1, 2),
    )
    assert unkeyed(second) == [
        StatementLine(
            booked_on=date(2024, 1, 2),
            value_on=date(2024, 1, 2),
            amount=money("0.12", "EUR"),
            reference="Zinsen 2023",  # free text; NONREF is no reference
        ),
        StatementLine(
            booked_on=date(2024, 1, 2),  # value 2023-12-31, entry 01-02: the entry is in the next year
            value_on=date(2023, 12, 31),
            amount=money("-50.00", "EUR"),  # RC, a reversed credit, takes money out
            reference="Storno INV-2023-0100",  # Dutch /REMI/USTD//
            counterparty_name="Jan Jansen",
            counterparty_iban="NL91ABNA0417164300",
            bank_reference="BANKREF0004",
        ),
    ]


def test_mt940_statements_of_one_account_join_into_one(reader: BankFileReader) -> None:
    statement = reader.read(fixture("mt940_generic.sta"))
    assert header(statement) == BankStatement(
        format=StatementFormat.MT940,
        account="DE89370400440532013000",
        currency="EUR",
        statement_id="00001/001, 00002/001",
        opening_balance=money("1000.00", "EUR"),
        closing_balance=money("2110.22", "EUR"),
        opened_on=date(2023, 12, 29),
        closed_on=date(2024, 1, 2),
    )
    assert [line.amount for line in statement.lines] == [
        money("1250.00", "EUR"),
        money("-89.90", "EUR"),
        money("0.12", "EUR"),
        money("-50.00", "EUR"),
    ]


def test_several_accounts_are_read_by_read_all_and_refused_by_read(reader: FileBankReader) -> None:
    content = fixture("mt940_generic.sta").replace(
        b":25:DE89370400440532013000\r\n:28C:00002", b":25:NL91ABNA0417164300EUR\r\n:28C:00002"
    )
    first, second = reader.read_all(content)
    assert (first.account, len(first.lines), second.account, len(second.lines)) == (
        "DE89370400440532013000",
        2,
        "NL91ABNA0417164300",  # the currency some banks append to the IBAN is not part of it
        2,
    )
    with pytest.raises(BankFileError) as caught:
        reader.read(content)
    assert caught.value.message == (
        "The file holds 2 accounts or currencies (DE89370400440532013000 in EUR, NL91ABNA0417164300 in EUR); "
        "import them one by one (read_all gives each)."
    )


def test_mt940_in_a_swift_envelope_with_header_lines() -> None:
    content = (
        b"{1:F01COBADEFFAXXX0000000000}{2:O9400000000000COBADEFFAXXX00000000000000000000N}{4:\r\n"
        b":20:ENV1\r\n:25:COBADEFF/123456\r\n:28C:1/1\r\n:60F:C240131EUR10,\r\n"
        b":61:240201C5,5NMSCNONREF\r\n:86:PAYMENT 77\r\n:62F:C240201EUR15,50\r\n-}\r\n"
        b"{1:F01COBADEFFAXXX0000000000}{2:O9400000000000COBADEFFAXXX00000000000000000000N}{4:\r\n"
        b":20:ENV2\r\n:25:COBADEFF/123456\r\n:28C:2/1\r\n:60F:C240201EUR15,50\r\n:62F:C240202EUR15,50\r\n-}"
    )
    assert detect_format(content) == StatementFormat.MT940
    statement = FileBankReader().read(content)
    assert (
        statement.account,
        statement.statement_id,
        statement.opening_balance,
        statement.closing_balance,
    ) == (
        "COBADEFF/123456",
        "1/1, 2/1",
        money("10.00", "EUR"),
        money("15.50", "EUR"),
    )
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 2, 1),
            value_on=date(2024, 2, 1),
            amount=money("5.50", "EUR"),
            reference="PAYMENT 77",
        )
    ]


MT940_ONE_LINE = (
    ":20:X\n:25:NL20INGB0001234567\n:28C:1\n:60F:C240101EUR0,00\n"
    ":61:240102C10,00NTRFNONREF\n:86:{details}\n:62F:C240102EUR10,00\n"
)


@pytest.mark.parametrize(
    ("details", "reference", "name", "iban", "description"),
    [
        # Triodos writes the German subfields with ">" for "?"
        (
            "000>100987654321\n>20ALGEMENE KOS>21TEN 2023>310390123456",
            "ALGEMENE KOSTEN 2023",
            None,
            None,
            None,
        ),
        # ING: /CNTP/account/BIC/name/city/, remittance with /REMI/STRD/CUR/
        (
            "/CNTP/NL69INGB0123456789/INGBNL2A/J. Doe/Amsterdam/REMI/STRD/CUR/1234567890123456/EREF/E-1/",
            "1234567890123456",
            "J. Doe",
            "NL69INGB0123456789",
            None,
        ),
        # ABN AMRO: /TRTP/ names the type; an EREF stands in when there is no REMI
        (
            "/TRTP/SEPA OVERBOEKING/IBAN/NL44RABO0123456789/BIC/RABONL2U/NAME/ACME BV/EREF/INV-9",
            "INV-9",
            "ACME BV",
            "NL44RABO0123456789",
            "SEPA OVERBOEKING",
        ),
        # Knab: free text, the other party at the end
        (
            "FACTUUR 2024-17\nREK: NL65INGB0123456789/NAAM: PICQER",
            "FACTUUR 2024-17",
            "PICQER",
            "NL65INGB0123456789",
            None,
        ),
        # Polish banks put the IBAN in ?38 and an account number in ?31
        (
            "020?00Przelew?20FV 12/2024?31000077777777?38PL61109010140000071219812874?32ABC SP",
            "FV 12/2024",
            "ABC SP",
            "PL61109010140000071219812874",
            "Przelew",
        ),
    ],
)
def test_mt940_details_dialects(
    details: str, reference: str, name: str | None, iban: str | None, description: str | None
) -> None:
    (statement,) = mt940.parse(MT940_ONE_LINE.format(details=details).encode())
    line = statement.lines[0]
    assert (line.reference, line.counterparty_name, line.counterparty_iban, line.description) == (
        reference,
        name,
        iban,
        description,
    )


@pytest.mark.parametrize(
    ("old", "new", "message", "where"),
    [
        (b":86:Zinsen 2023", b":25:DE02120300000000202051", ":25: among the statement lines", "line 19"),
        (b":62F:C240102EUR2110,22\r\n", b"", "ends without a closing balance (:62F:)", "line 14"),
        (
            b":86:Statement information, not a line",
            b":61:2401020102C0,12NINTNONREF",
            ":61: after the closing balance (line 23)",
            "line 24",
        ),
        (b":20:STARTUMS\r\n:25:DE89", b":25:DE89", ":25: comes before the first :20:", "line 1"),
        (b"CR1250,00N", b"CR12,50,00N", ":61: is not valid MT940", "line 5"),
        (b":61:2312291229", b":61:2313291229", ":61: is not valid MT940", "line 5"),
        (b":60F:C231229EUR1000,00", b":60F:C231229DEM1000,00", "'DEM' is not an ISO 4217 currency", "line 4"),
        (b":62F:C231229EUR2160,10", b":62F:C231229USD2160,10", "closing balance is in USD", "line 12"),
        (b"DR89,90", b"DR89,905", "more decimals than EUR has (2)", "line 9"),
        (b"NTRFNONREF//BANKREF0001", b"", "transaction type code", "line 5"),
    ],
)
def test_mt940_errors_say_what_and_where(old: bytes, new: bytes, message: str, where: str) -> None:
    content = fixture("mt940_generic.sta")
    assert old in content
    error = read_error(content.replace(old, new, 1), format=StatementFormat.MT940)
    assert message in error.message
    assert error.field == where


def test_mt940_without_a_statement() -> None:
    error = read_error(b"just some text\n:61:240102C10,00NTRF\n", format=StatementFormat.MT940)
    assert (error.message, error.field) == (
        ":61: comes before the first :20:; a statement runs :20: :25: :28C: :60F: (:61: :86:)... :62F: [:64:] [:65:] [:86:].",
        "line 2",
    )
    error = read_error(b"hello", format=StatementFormat.MT940)
    assert error.message == "No MT940 statement found: the file has no :20: tag."


# ---- OFX ------------------------------------------------------------------------------------------------


def test_ofx1_sgml_statement(reader: BankFileReader) -> None:
    statement = reader.read(fixture("statement.ofx"))
    assert header(statement) == BankStatement(
        format=StatementFormat.OFX,
        account="0123456789",
        currency="USD",
        closing_balance=money("5391.40", "USD"),  # LEDGERBAL, not AVAILBAL
        opened_on=date(2024, 1, 1),
        closed_on=date(2024, 1, 8),
    )
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 1, 5),
            value_on=date(2024, 1, 6),  # DTAVAIL
            amount=money("1533.50", "USD"),
            reference="INV-2024-0007",
            counterparty_name="Müller & Söhne",  # CHARSET:1252 and &amp;
            bank_reference="2024010501",
            description="CREDIT",
        ),
        StatementLine(
            booked_on=date(2024, 1, 7),  # 12:00 EST on the 7th
            amount=money("-42.10", "USD"),
            counterparty_name="Coffee Shop",
            counterparty_iban="GB29NWBK60161331926819",  # BANKACCTTO
            bank_reference="2024010702",
            description="DEBIT",
        ),
        StatementLine(
            booked_on=date(2024, 1, 8),
            amount=money("-100.00", "USD"),
            reference="Rent January",
            counterparty_name="Landlord LLC",  # PAYEE/NAME
            bank_reference="2024010803",
            description="CHECK",
        ),
    ]
    assert [line.key for line in statement.lines] == ["ref:2024010501", "ref:2024010702", "ref:2024010803"]


def test_ofx2_xml_statement(reader: BankFileReader) -> None:
    statement = reader.read(fixture("statement_v2.ofx"))
    assert header(statement) == BankStatement(
        format=StatementFormat.OFX,
        account="DE89370400440532013000",
        currency="EUR",
        closing_balance=money("1230.01", "EUR"),
        opened_on=date(2024, 2, 1),
        closed_on=date(2024, 2, 3),
    )
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 2, 1),
            amount=money("250.00", "EUR"),
            reference="Payment INV-2024-0100 <thanks>",
            counterparty_name="ACME Corp",
            bank_reference="F-1",
            description="CREDIT",
        ),
        StatementLine(
            booked_on=date(2024, 2, 3),
            amount=money("-19.99", "EUR"),  # "-19,99": a decimal comma, as European banks write it
            reference="Subscription February",
            counterparty_name="Streaming Service",
            bank_reference="F-2",
            description="DIRECTDEBIT",
        ),
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "message", "where"),
    [
        ("statement.ofx", b"<TRNAMT>-42.10\r\n", b"", "TRNAMT is missing", "STMTRS[1]/STMTTRN[2]"),
        (
            "statement.ofx",
            b"<TRNAMT>-42.10",
            b"<TRNAMT>1,042.10",
            "'1,042.10' is not an OFX amount",
            "STMTRS[1]/STMTTRN[2]/TRNAMT",
        ),
        (
            "statement.ofx",
            b"<DTPOSTED>20240108",
            b"<DTPOSTED>20240230",
            "not a calendar date",
            "STMTRS[1]/STMTTRN[3]/DTPOSTED",
        ),
        (
            "statement.ofx",
            b"<DTPOSTED>20240108",
            b"<DTPOSTED>08.01.2024",
            "not an OFX date",
            "STMTRS[1]/STMTTRN[3]/DTPOSTED",
        ),
        ("statement.ofx", b"</BANKACCTFROM>\r\n", b"", "</STMTRS> while <BANKACCTFROM> is open", "line 84"),
        ("statement.ofx", b"</OFX>", b"", "<OFX> is never closed", "line 89"),
        ("statement.ofx", b"CHARSET:1252", b"CHARSET:KLINGON", "Unknown OFX CHARSET 'KLINGON'", "CHARSET"),
        (
            "statement.ofx",
            b"<CURDEF>USD",
            b"<CURDEF>XYZ",
            "'XYZ' is not an ISO 4217 currency",
            "STMTRS[1]/CURDEF",
        ),
        (
            "statement.ofx",
            b"<FITID>2024010702",
            b"<CURRENCY><CURRATE>1.1<CURSYM>EUR</CURRENCY><FITID>2024010702",
            "in EUR, the statement in USD",
            "STMTRS[1]/STMTTRN[2]/CURRENCY",
        ),
        ("statement_v2.ofx", b"</STMTRS>", b"", "Not well-formed XML", "line 54"),
        ("statement_v2.ofx", b"<CURDEF>EUR</CURDEF>", b"", "CURDEF is missing", "STMTRS[1]"),
    ],
)
def test_ofx_errors_say_what_and_where(name: str, old: bytes, new: bytes, message: str, where: str) -> None:
    content = fixture(name)
    assert old in content
    error = read_error(content.replace(old, new, 1), format=StatementFormat.OFX)
    assert message in error.message
    assert error.field == where


# ---- CSV ------------------------------------------------------------------------------------------------


def test_csv_with_a_german_mapping(reader: BankFileReader) -> None:
    statement = reader.read(fixture("statement.csv"), mapping=GERMAN_CSV)
    assert header(statement) == BankStatement(format=StatementFormat.CSV, account=None, currency="EUR")
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 3, 4),
            value_on=date(2024, 3, 5),
            amount=money("1533.50", "EUR"),  # "1.533,50"
            reference="Rechnung INV-2024-0042; danke",  # a quoted delimiter
            counterparty_name="Müller GmbH",  # cp1252
            counterparty_iban="DE02120300000000202051",
        ),
        StatementLine(
            booked_on=date(2024, 3, 5),
            value_on=date(2024, 3, 5),
            amount=money("-89.90", "EUR"),
            reference="Lastschrift 4711",
            counterparty_name="Telecom AG",
        ),
        # the blank row between is skipped
        StatementLine(
            booked_on=date(2024, 3, 6),
            value_on=date(2024, 3, 6),
            amount=money("-5.00", "EUR"),  # "(5,00)"
            reference="Kontoführung März",
            counterparty_name="Bank",
        ),
    ]


def test_csv_with_debit_and_credit_columns(reader: BankFileReader) -> None:
    statement = reader.read(fixture("debit_credit.csv"), mapping=DEBIT_CREDIT_CSV)
    assert header(statement) == BankStatement(format=StatementFormat.CSV, account=None, currency="GBP")
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2024, 4, 2),
            amount=money("1200.00", "GBP"),
            reference="INV-2024-0200",
            bank_reference="TX-1001",
            description="Customer payment",
        ),
        StatementLine(
            booked_on=date(2024, 4, 3),
            amount=money("-2000.00", "GBP"),
            reference="April rent",
            bank_reference="TX-1002",
            description="Office rent",
        ),
        StatementLine(
            booked_on=date(2024, 4, 3),
            amount=money("-15.00", "GBP"),  # "-15.00" in the debit column is still money out
            bank_reference="TX-1003",
            description="Card payment",
        ),
    ]


@pytest.mark.parametrize(
    ("content", "mapping", "message", "where"),
    [
        (None, replace(GERMAN_CSV, amount="Summe"), "The header has no column 'Summe'", "row 3.amount"),
        (None, replace(GERMAN_CSV, encoding="utf-8"), "not valid utf-8-sig text", "row 3"),
        (
            None,
            replace(GERMAN_CSV, date_format="%Y-%m-%d"),
            "'04.03.2024' does not match the date format '%Y-%m-%d'",
            "row 4.date",
        ),
        (
            None,
            replace(GERMAN_CSV, thousands_separator=""),
            "'1.533,50' is not an amount with ','",
            "row 4.amount",
        ),
        (
            None,
            replace(GERMAN_CSV, decimal_separator=".", thousands_separator=","),
            "'1.533,50' is not an amount with '.' as the decimal separator",
            "row 4.amount",
        ),
        (b"a;b\r\n", GERMAN_CSV, "The file ends within the 2 rows to skip", None),
        (b"a;b\r\n1;2\r\n", GERMAN_CSV, "The file has no header row.", "row 3"),
        (
            b'Date,Amount\r\n2024-01-02,"12,34"\r\n',
            replace(
                DEBIT_CREDIT_CSV,
                debit=None,
                credit=None,
                amount="Amount",
                reference=None,
                description=None,
                bank_reference=None,
            ),
            "'12,34' is not grouped in thousands by ','",
            "row 2.amount",
        ),
        (
            b"Date,Amount,DC\r\n2024-01-02,10.00,X\r\n",
            CsvMapping(date="Date", amount="Amount", indicator="DC", currency="EUR"),
            "'X' is neither a debit nor a credit mark (D, C)",
            "row 2.indicator",
        ),
        (
            b"Date,Debit,Credit\r\n2024-01-02,1.00,2.00\r\n",
            replace(DEBIT_CREDIT_CSV, reference=None, description=None, bank_reference=None),
            "Both the debit and the credit column",
            "row 2.credit",
        ),
        (
            b"Date,Debit,Credit\r\n2024-01-02,,\r\n",
            replace(DEBIT_CREDIT_CSV, reference=None, description=None, bank_reference=None),
            "Neither the debit nor the credit column",
            "row 2.debit",
        ),
        (
            b"Date,Amount\r\n2024-01-02\r\n",
            CsvMapping(date="Date", amount="Amount", currency="EUR"),
            "The row has 1 cells; the header has 2",
            "row 2",
        ),
        (
            b'Date,Amount\r\n2024-01-02,"1.00"x\r\n',
            CsvMapping(date="Date", amount="Amount", currency="EUR"),
            "Not valid CSV",
            "row 2",
        ),
        (
            b"Date,Amount,Cur\r\n2024-01-02,1.00,ZZZ\r\n",
            CsvMapping(date="Date", amount="Amount", currency_column="Cur"),
            "'ZZZ' is not an ISO 4217 currency",
            "row 2.currency_column",
        ),
    ],
)
def test_csv_errors_say_what_and_where(
    content: bytes | None, mapping: CsvMapping, message: str, where: str | None
) -> None:
    error = read_error(content or fixture("statement.csv"), format=StatementFormat.CSV, mapping=mapping)
    assert message in error.message
    assert error.field == where


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "expected"),
    [
        ("1,533.50", ".", ",", "1533.50"),
        ("1533.5", ".", ",", "1533.50"),
        ("-12,345,678.9", ".", ",", "-12345678.90"),
        ("1.533,50", ",", ".", "1533.50"),
        ("1 533,50", ",", " ", "1533.50"),
        ("1\u00a0533,50", ",", "\u00a0", "1533.50"),
        ("1'533.50", ".", "'", "1533.50"),
        ("+7", ".", "", "7.00"),
        (",5", ",", "", "0.50"),
        ("(1,533.50)", ".", ",", "-1533.50"),
    ],
)
def test_csv_amount_spellings(text: str, decimal: str, thousands: str, expected: str) -> None:
    mapping = CsvMapping(
        date="Date",
        amount="Amount",
        currency="EUR",
        decimal_separator=decimal,
        thousands_separator=thousands,
        delimiter=";",
    )
    content = f"Date;Amount\r\n2024-01-02;{text}\r\n".encode()
    (line,) = FileBankReader().read(content, mapping=mapping).lines
    assert line.amount == money(expected, "EUR")


def test_a_csv_needs_its_mapping() -> None:
    error = read_error(fixture("statement.csv"))
    assert (
        error.message == "Not a CAMT.053, MT940 or OFX file; if it is a CSV export, give its column mapping."
    )
    error = read_error(fixture("statement.csv"), format=StatementFormat.CSV)
    assert error.message == "A CSV file is read through a column mapping, and none was given."


def test_csv_mapping_from_json_reads_the_saved_document() -> None:
    doc = {
        "date": "Buchungstag",
        "value_date": "Valuta",
        "date_format": "%d.%m.%Y",
        "amount": "Betrag",
        "currency_column": "Währung",
        "reference": "Verwendungszweck",
        "counterparty_name": "Auftraggeber/Empfänger",
        "counterparty_iban": "IBAN",
        "decimal_separator": ",",
        "thousands_separator": ".",
        "delimiter": ";",
        "encoding": "cp1252",
        "skip_rows": 2,
    }
    mapping = CsvMapping.from_json(doc)
    assert mapping == GERMAN_CSV
    assert CsvMapping.from_json(mapping.to_json()) == mapping
    assert CsvMapping.from_json(
        {
            "date": "D",
            "amount": "A",
            "indicator": "S/H",
            "debit_marks": ["S"],
            "credit_marks": ["H"],
            "currency": "EUR",
        }
    ) == CsvMapping(
        date="D", amount="A", indicator="S/H", debit_marks=("S",), credit_marks=("H",), currency="EUR"
    )


@pytest.mark.parametrize(
    ("doc", "field", "message"),
    [
        (["date"], None, "A CSV mapping is a JSON object."),
        ({"amount": "A", "currency": "EUR"}, "date", "Name the date column."),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "colour": "red"},
            "colour",
            "Unknown CSV mapping key 'colour'.",
        ),
        (
            {"date": "D", "currency": "EUR"},
            "amount",
            "Map an amount column, or both a debit and a credit column.",
        ),
        (
            {"date": "D", "amount": "A", "debit": "X", "currency": "EUR"},
            "debit",
            "Map either an amount column or debit and credit columns, not both.",
        ),
        (
            {"date": "D", "debit": "X", "credit": "Y", "indicator": "Z", "currency": "EUR"},
            "indicator",
            "A debit/credit indicator goes with an amount column.",
        ),
        ({"date": "D", "amount": "A"}, "currency", "Give either a fixed currency or a currency column."),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "currency_column": "C"},
            "currency",
            "Give either a fixed currency or a currency column.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "eur"},
            "currency",
            "A currency is an ISO 4217 code of three uppercase letters, not 'eur'.",
        ),
        (
            {"date": "", "amount": "A", "currency": "EUR"},
            "date",
            "A column is named by its header text, a non-empty string.",
        ),
        ({"date": 3, "amount": "A", "currency": "EUR"}, "date", "date is a string."),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "date_format": "dd.mm.yyyy"},
            "date_format",
            'A date format is a strptime pattern such as "%d.%m.%Y".',
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "decimal_separator": ";"},
            "decimal_separator",
            'The decimal separator is "." or ",".',
        ),
        (
            {
                "date": "D",
                "amount": "A",
                "currency": "EUR",
                "decimal_separator": ",",
                "thousands_separator": ",",
            },
            "thousands_separator",
            "The thousands separator must differ from the decimal separator.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "delimiter": "ab"},
            "delimiter",
            "The delimiter is one character, not a quote, a line break or the decimal separator.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "encoding": "klingon"},
            "encoding",
            "Unknown text encoding 'klingon'.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "skip_rows": True},
            "skip_rows",
            "skip_rows is a whole number.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "skip_rows": -1},
            "skip_rows",
            "skip_rows is a whole number from 0 to 1000.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "debit_marks": "D"},
            "debit_marks",
            'Marks are a list of strings, like ["D"].',
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "credit_marks": ["d"]},
            "credit_marks",
            "A mark cannot mean both debit and credit.",
        ),
        (
            {"date": "D", "amount": "A", "currency": "EUR", "delimiter": None},
            "delimiter",
            "delimiter cannot be null.",
        ),
    ],
)
def test_csv_mapping_from_json_names_the_wrong_key(doc: object, field: str | None, message: str) -> None:
    with pytest.raises(DomainError) as caught:
        CsvMapping.from_json(doc)
    assert caught.value.code in ("invalid_csv_mapping", "unknown_currency")
    assert (caught.value.field, caught.value.message) == (field, message)


# ---- the reader -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "detected"),
    [
        ("camt053_v02.xml", StatementFormat.CAMT053),
        ("camt053_v08_batch.xml", StatementFormat.CAMT053),
        ("mt940_generic.sta", StatementFormat.MT940),
        ("statement.ofx", StatementFormat.OFX),
        ("statement_v2.ofx", StatementFormat.OFX),
        ("statement.csv", None),
        ("debit_credit.csv", None),
    ],
)
def test_detect_format(name: str, detected: StatementFormat | None) -> None:
    assert detect_format(fixture(name)) == detected


def test_a_detected_format_wins_over_a_mapping(reader: BankFileReader) -> None:
    assert reader.read(fixture("camt053_v02.xml"), mapping=GERMAN_CSV).format == StatementFormat.CAMT053


@pytest.mark.parametrize(
    ("content", "kwargs", "message", "where"),
    [
        (b"", {}, "The file is empty.", None),
        (b" \r\n\t", {}, "The file is empty.", None),
        (
            b"x" * (10 * 1024 * 1024 + 1),
            {},
            "The file has 10485761 bytes; at most 10485760 are read. Split it by period.",
            None,
        ),
        (
            b"<html><body>hello</body></html>",
            {},
            "An XML file that is neither a camt.053 statement nor OFX.",
            "line 1",
        ),
        (
            b"Date,Amount\r\n",
            {"format": "qif"},
            "Unknown format 'qif'; one of camt053, mt940, ofx, csv.",
            "format",
        ),
        ("text", {}, "A bank file is read as bytes.", None),
    ],
)
def test_the_reader_refuses(
    content: object, kwargs: dict[str, object], message: str, where: str | None
) -> None:
    error = read_error(content, **kwargs)  # type: ignore[arg-type]
    assert (error.message, error.field) == (message, where)


def test_a_format_can_be_named_by_its_value(reader: BankFileReader) -> None:
    statement = reader.read(fixture("statement_v2.ofx"), format="ofx")  # type: ignore[arg-type]
    assert statement.format == StatementFormat.OFX


def test_keys_are_the_same_on_every_read(reader: BankFileReader) -> None:
    for name, mapping in [
        ("camt053_v02.xml", None),
        ("mt940_generic.sta", None),
        ("statement.ofx", None),
        ("statement.csv", GERMAN_CSV),
    ]:
        first = reader.read(fixture(name), mapping=mapping)
        again = reader.read(fixture(name), mapping=mapping)
        assert [line.key for line in first.lines] == [line.key for line in again.lines]
        assert len({line.key for line in first.lines}) == len(first.lines)
        assert all(line.key for line in first.lines)


def test_identical_lines_get_distinct_keys(reader: BankFileReader) -> None:
    row = "06.03.2024;06.03.2024;Bank;;Gebühr;-1,00;EUR\r\n"
    content = fixture("statement.csv") + (row * 3).encode("cp1252")
    statement = reader.read(content, mapping=GERMAN_CSV)
    fees = statement.lines[3:]
    assert [line.amount for line in fees] == [money("-1.00", "EUR")] * 3
    assert len({line.key for line in fees}) == 3
    assert [line.key for line in reader.read(content, mapping=GERMAN_CSV).lines] == [
        line.key for line in statement.lines
    ]
    # the same rows in a shorter file keep the keys they had: the ordinal counts identical lines only
    shorter = reader.read(fixture("statement.csv") + (row * 2).encode("cp1252"), mapping=GERMAN_CSV)
    assert [line.key for line in shorter.lines] == [line.key for line in statement.lines[:5]]


# ---- fuzz: a damaged file is read or refused with a BankFileError, never anything else -------------------

FUZZ_CASES: list[tuple[str, StatementFormat, CsvMapping | None]] = [
    ("camt053_v02.xml", StatementFormat.CAMT053, None),
    ("camt053_v08_batch.xml", StatementFormat.CAMT053, None),
    ("mt940_generic.sta", StatementFormat.MT940, None),
    ("statement.ofx", StatementFormat.OFX, None),
    ("statement_v2.ofx", StatementFormat.OFX, None),
    ("statement.csv", StatementFormat.CSV, GERMAN_CSV),
    ("debit_credit.csv", StatementFormat.CSV, DEBIT_CREDIT_CSV),
]


@st.composite
def damaged(draw: st.DrawFn) -> tuple[bytes, StatementFormat, CsvMapping | None]:
    name, format, mapping = draw(st.sampled_from(FUZZ_CASES))
    content = bytearray(fixture(name))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        at = draw(st.integers(0, len(content)))
        if kind == "truncate":
            del content[at:]
        elif kind == "flip" and at < len(content):
            content[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            content[at:at] = draw(st.binary(min_size=1, max_size=12))
        else:
            del content[at : at + draw(st.integers(1, 40))]
    return bytes(content), format, mapping


def read_or_refuse(content: bytes, format: StatementFormat | None, mapping: CsvMapping | None) -> None:
    try:
        statements = FileBankReader().read_all(content, format=format, mapping=mapping)
    except BankFileError as error:
        assert error.message
        return
    assert statements
    for statement in statements:
        assert all(line.amount.currency == statement.currency and line.key for line in statement.lines)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=damaged(), detect=st.booleans())
def test_a_damaged_fixture_is_read_or_refused(
    case: tuple[bytes, StatementFormat, CsvMapping | None], detect: bool
) -> None:
    content, format, mapping = case
    read_or_refuse(content, None if detect else format, mapping)


@settings(max_examples=200, deadline=None)
@given(content=st.binary(max_size=600), format=st.sampled_from([None, *StatementFormat]))
def test_garbage_is_refused_or_read(content: bytes, format: StatementFormat | None) -> None:
    read_or_refuse(content, format, DEBIT_CREDIT_CSV)


# ---- the real samples of several banks (../shared/samples/bank) -----------------------------------------

SAMPLE_FILES = {
    "camt053/oca-test-camt053.xml",
    "camt053/oca-test-camt053-txdtls.xml",
    "csv/oca-debit_credit.csv",
    "csv/oca-multi_currency.csv",
    "csv/oca-sample_statement_en.csv",
    "mt940/betterplace_sepa_mt9401.sta",
    "mt940/betterplace_sepa_snippet_broken.sta",
    "mt940/cmxl_mt940.sta",
    "mt940/jejik_abnamro.sta",
    "mt940/jejik_ing.sta",
    "mt940/jejik_knab.sta",
    "mt940/jejik_rabobank-iban.sta",
    "mt940/jejik_triodos.sta",
    "ofx/oca-test_ofx.ofx",
    "ofx/oca-test_ofx_wrong.ofx",
}


def test_every_sample_has_a_test() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared bank samples are not here ({SAMPLES})")
    found = {
        str(path.relative_to(SAMPLES))
        for path in SAMPLES.rglob("*")
        if path.is_file() and not path.name.startswith(("LICENSE", "README"))
    }
    assert found == SAMPLE_FILES


def test_sample_camt053_v02_with_a_returned_batch(reader: BankFileReader) -> None:
    statement = reader.read(sample("camt053/oca-test-camt053.xml"))
    assert header(statement) == BankStatement(
        format=StatementFormat.CAMT053,
        account="NL77ABNA0574908765",
        currency="EUR",
        statement_id="1234Test/1",
        opening_balance=money("15568.27", "EUR"),
        closing_balance=money("15121.12", "EUR"),
        opened_on=date(2014, 1, 5),
        closed_on=date(2014, 1, 5),
    )
    # the 664.05 batch (a reversal) splits into 564.05 + 100.00
    assert [line.amount for line in statement.lines] == [
        money("-754.25", "EUR"),
        money("-564.05", "EUR"),
        money("-100.00", "EUR"),
        money("1405.31", "EUR"),
    ]
    assert unkeyed(statement)[0] == StatementLine(
        booked_on=date(2014, 1, 5),
        value_on=date(2014, 1, 5),
        amount=money("-754.25", "EUR"),
        reference="Insurance policy 857239PERIOD 01.01.2014 - 31.12.2014",
        counterparty_name="INSURANCE COMPANY TESTX",
        counterparty_iban="NL46ABNA0499998748",
        description="MKB Insurance 859239PERIOD 01.01.2014 - 31.12.2014",
    )
    assert unkeyed(statement)[3] == StatementLine(
        booked_on=date(2014, 1, 5),
        value_on=date(2014, 1, 5),
        amount=money("1405.31", "EUR"),
        reference="115",  # the end-to-end id: no remittance information
        counterparty_name="3rd party Media",
        counterparty_iban="NL69ABNA0522123643",
        description="#RD PARTY MEDIA CUSNO 90782 4210773",
    )


def test_sample_camt053_v04_batch_of_swiss_isr_payments(reader: BankFileReader) -> None:
    statement = reader.read(sample("camt053/oca-test-camt053-txdtls.xml"))
    assert (statement.account, statement.currency, statement.opening_balance, statement.closing_balance) == (
        "CH1111000000123456789",
        "CHF",
        money("75960.15", "CHF"),
        money("79443.15", "CHF"),
    )
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2017, 3, 22),
            value_on=date(2017, 3, 23),
            amount=money(amount, "CHF"),
            reference=reference,
            counterparty_name="Banque Cantonale Vaudoise",
            counterparty_iban=iban,
            bank_reference="20170323001234567891234567891234",
            description="CRÉDIT GROUPÉ BVR TRAITEMENT DU 22.03.2017 NUMÉRO CLIENT 01-70884-3 PAQUET ID: 123456CHCAFEBABE",
        )
        for amount, reference, iban in [
            ("2187.00", "302388292000011111111111111", "CH2222000000123456789"),
            ("1296.00", "302388292000022222222222222", "CH3333000000123456789"),
        ]
    ]
    assert [line.key for line in statement.lines] == [
        "ref:20170323001234567891234567891234",
        "ref:20170323001234567891234567891234#1",
    ]


def test_sample_mt940_betterplace_many_accounts(reader: FileBankReader) -> None:
    statements = reader.read_all(sample("mt940/betterplace_sepa_mt9401.sta"))
    assert (len(statements), sum(len(s.lines) for s in statements)) == (20, 97)
    first = statements[0]
    assert (first.account, first.opening_balance, first.closing_balance, len(first.lines)) == (
        "50880050/0194774600888",
        money("-1234718.36", "EUR"),
        money("-1237628.23", "EUR"),
        7,
    )
    # RCR 204,88: a reversed credit, money out; the statement then adds up to its closing balance
    assert first.lines[5].amount == money("-204.88", "EUR")
    assert sum((line.amount for line in first.lines), first.opening_balance) == first.closing_balance
    assert unkeyed(statements[1])[0] == StatementLine(
        booked_on=date(2007, 9, 4),
        value_on=date(2007, 9, 4),
        amount=money("15000.05", "EUR"),
        reference=(
            "EREF+EndToEndIdTFNR2000400001 SVWZ+TO 13 TFNr 20004 Eingangskanal Mint "
            "..................... ..................... ..........................................."
            "................MTLG:SEPA-Ueberweisungseingang Auftraggeber: Richter Renat"
        ),
        counterparty_name="Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx",
        counterparty_iban="DE42100100100043921105",
        bank_reference="0724710290621954",
        description="GUTSCHRIFT",
    )
    with pytest.raises(BankFileError, match="20 accounts or currencies"):
        reader.read(sample("mt940/betterplace_sepa_mt9401.sta"))


def test_sample_mt940_broken_snippet_is_refused() -> None:
    error = read_error(sample("mt940/betterplace_sepa_snippet_broken.sta"))
    assert error.field == "line 6"
    assert error.message.startswith(":25: among the statement lines")


def test_sample_mt940_cmxl_in_deutsche_mark_is_refused_and_otherwise_read(reader: FileBankReader) -> None:
    content = sample("mt940/cmxl_mt940.sta")
    error = read_error(content)
    assert (error.message, error.field) == ("'DEM' is not an ISO 4217 currency kassa can book.", "line 4")
    # The Deutsche Mark is gone from ISO 4217; the file's other two dialects read once it is renamed.
    german, dk_format, polish = reader.read_all(content.replace(b"DEM", b"EUR"))
    assert (len(german.lines), german.opening_balance, german.closing_balance) == (
        11,
        money("84349.74", "EUR"),
        money("84437.04", "EUR"),
    )
    assert unkeyed(dk_format)[0] == StatementLine(
        booked_on=date(2002, 11, 2),
        value_on=date(2002, 11, 1),
        amount=money("-800.00", "EUR"),
        reference="Miete November",
        counterparty_name="MUELLER",
        bank_reference="55555",
        description="DAUERAUFTRAG",
    )
    assert [line.key for line in dk_format.lines] == ["ref:55555", "ref:55555#1"]
    assert (polish.account, polish.currency, len(polish.lines)) == ("BPHKPLPK/320000546101", "PLN", 3)
    assert unkeyed(polish)[2] == StatementLine(
        booked_on=date(2003, 10, 20),
        value_on=date(2003, 10, 20),
        amount=money("40.00", "PLN"),
        reference="Odsetki od lokaty nr 101000022086",
        bank_reference="8327000090031791",
        description="Uznanie kwotą odsetek",
    )
    assert polish.lines[0].reference is not None and "FAKTURA 333/2003." in polish.lines[0].reference
    assert polish.lines[0].counterparty_iban == "PL08106000760000777777777777"


@pytest.mark.parametrize(
    ("name", "account", "count", "opening", "closing", "index", "expected"),
    [
        (
            "mt940/jejik_abnamro.sta",
            "517852257",
            10,  # two statements of the account, joined
            "3236.28",
            "1849.75",
            1,
            StatementLine(
                booked_on=date(2011, 5, 23),
                value_on=date(2011, 5, 21),
                amount=money("-11.59", "EUR"),
                reference="BEA NR:XXX1234 21.05.11/12.54 DIRCKIII FIL2500 KATWIJK,PAS999",
            ),
        ),
        (
            "mt940/jejik_ing.sta",
            "0001234567",
            7,
            "0.00",
            "3.47",
            6,
            StatementLine(
                booked_on=date(2010, 7, 23),
                value_on=date(2010, 7, 23),
                amount=money("1.00", "EUR"),
                reference="0111111111 Hr S Marechal ROSMALEN Hr S Marechal ROSMALEN Betaling transactiedatum: 22-07-2010",
            ),
        ),
        (
            "mt940/jejik_knab.sta",
            "123456789",
            3,
            "0.00",
            "798.98",
            1,
            StatementLine(
                booked_on=date(2014, 7, 29),
                value_on=date(2014, 7, 29),
                amount=money("-7260.00", "EUR"),
                reference="FACTUUR 201403110, 201403113",
                counterparty_name="PICQER",
                counterparty_iban="NL65INGB0123456789",
                bank_reference="B4G29PGCVO7Q06US",
            ),
        ),
        (
            "mt940/jejik_rabobank-iban.sta",
            "NL71RABO0123456789",
            4,
            "1000.00",
            "930.00",
            0,
            StatementLine(
                booked_on=date(2013, 1, 1),
                value_on=date(2013, 1, 1),
                amount=money("-25.00", "EUR"),
                reference="01-01-2013 12:00 0030000987654321",  # the EREF: REMI is empty
                counterparty_name="CONTRA ACCOUNT HOLDER",  # wrapped mid-word at 65 characters
                counterparty_iban="NL70ABNA0987654321",  # on the :61: line's second line
            ),
        ),
        (
            "mt940/jejik_triodos.sta",
            "TRIODOSBANK/0390123456",
            2,
            "4975.09",
            "4370.79",
            0,
            StatementLine(
                booked_on=date(2011, 1, 1),
                value_on=date(2011, 1, 1),
                amount=money("-15.70", "EUR"),
                reference="ALGEMENE TUSSENREKENING KOSTEN VAN 01-10-2010 TOT EN MET 31-12-2010",
            ),
        ),
    ],
)
def test_sample_mt940_dutch_banks(
    reader: BankFileReader,
    name: str,
    account: str,
    count: int,
    opening: str,
    closing: str,
    index: int,
    expected: StatementLine,
) -> None:
    statement = reader.read(sample(name))
    assert (statement.account, statement.currency, len(statement.lines)) == (account, "EUR", count)
    assert (statement.opening_balance, statement.closing_balance) == (
        money(opening, "EUR"),
        money(closing, "EUR"),
    )
    assert unkeyed(statement)[index] == expected


def test_sample_ofx_bank_and_credit_card(reader: FileBankReader) -> None:
    bank, card = reader.read_all(sample("ofx/oca-test_ofx.ofx"))
    assert header(bank) == BankStatement(
        format=StatementFormat.OFX,
        account="123456",
        currency="USD",
        closing_balance=money("2156.56", "USD"),
        opened_on=date(2013, 8, 1),
        closed_on=date(2013, 8, 31),
    )
    assert [(line.amount, line.counterparty_name, line.bank_reference) for line in bank.lines] == [
        (money("-80.00", "USD"), "Agrolait", "219378"),
        (money("-90.00", "USD"), "China Export", "219379"),
        (money("-100.00", "USD"), "Axelor Scuba", "219380"),
        (money("-90.00", "USD"), "China Scuba", "219381"),
    ]
    assert unkeyed(bank)[0] == StatementLine(
        booked_on=date(2013, 8, 24),
        amount=money("-80.00", "USD"),
        counterparty_name="Agrolait",
        bank_reference="219378",
        description="POS",
    )
    assert (card.account, card.closing_balance, card.lines) == ("123412341234", money("-562.00", "USD"), ())
    with pytest.raises(BankFileError, match="2 accounts or currencies"):
        reader.read(sample("ofx/oca-test_ofx.ofx"))


def test_sample_ofx_with_commented_out_fields_is_refused() -> None:
    error = read_error(sample("ofx/oca-test_ofx_wrong.ofx"))
    assert (error.message, error.field) == ("CURDEF is missing.", "STMTRS[1]")


SAMPLE_CSV = CsvMapping(
    date="Date",
    date_format="%m/%d/%Y",
    amount="Amount",
    currency="USD",
    reference="Label",
    counterparty_name="Partner Name",
    counterparty_iban="Bank Account",
    thousands_separator=",",
)


def test_sample_csv_with_a_debit_credit_indicator(reader: BankFileReader) -> None:
    # The amount's own sign is ignored: "-1,533.50" marked C is money in, as the balance column shows
    # (-23.50 + 1533.50 = 1510.00).
    statement = reader.read(sample("csv/oca-debit_credit.csv"), mapping=replace(SAMPLE_CSV, indicator="D/C"))
    assert unkeyed(statement) == [
        StatementLine(
            booked_on=date(2018, 12, 15),
            amount=money("-33.50", "USD"),
            reference="Your best supplier",
            counterparty_name="John Doe",  # "123456789" is an account number, not an IBAN
        ),
        StatementLine(
            booked_on=date(2018, 12, 15),
            amount=money("1533.50", "USD"),
            reference="Your payment",
            counterparty_name="Azure Interior",
        ),
    ]


def test_sample_csv_in_two_currencies(reader: FileBankReader) -> None:
    mapping = replace(SAMPLE_CSV, currency=None, currency_column="Currency")
    dollars, euros = reader.read_all(sample("csv/oca-multi_currency.csv"), mapping=mapping)
    assert (dollars.currency, [line.amount for line in dollars.lines]) == ("USD", [money("-33.50", "USD")])
    assert unkeyed(euros) == [
        StatementLine(
            booked_on=date(2018, 12, 15),
            amount=money("1525.00", "EUR"),
            reference="Your payment",
            counterparty_name="Azure Interior",
        )
    ]
    with pytest.raises(BankFileError, match="2 accounts or currencies"):
        reader.read(sample("csv/oca-multi_currency.csv"), mapping=mapping)


def test_sample_csv_amounts_in_the_account_currency(reader: BankFileReader) -> None:
    # "Amount" is in the account's currency; "Currency" and "Amount Currency" describe a foreign amount.
    statement = reader.read(sample("csv/oca-sample_statement_en.csv"), mapping=SAMPLE_CSV)
    assert [(line.amount, line.reference) for line in statement.lines] == [
        (money("-33.50", "USD"), "Your best supplier on 12/15/2018"),
        (money("1525.00", "USD"), "Your payment on 12/15/2018"),
    ]
