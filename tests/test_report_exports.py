"""The service report's exports (reporting/exports.py): CSV, spreadsheet and PDF carry only
suppressed figures (core/suppression.py), say what they are, and never carry a formula.

The report is built by hand: hand-made definitions and values, no figures worked out."""

from __future__ import annotations

import csv
import datetime
import io
import re
import sys
import xml.etree.ElementTree as ET
import zipfile

import pytest
from django.template.loader import render_to_string

from tandem.accounts.models import Organisation, Team, User
from tandem.core.report import Definition, Kind, Period, Value
from tandem.reporting import exports
from tandem.reporting.figures.base import Figure
from tandem.reporting.report import Report, Row
from tandem.reporting.scope import Scope

PERIOD = Period(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
COMPUTED = datetime.datetime(2027, 1, 5, 9, 30, tzinfo=datetime.UTC)  # GMT in January: 09:30
ATTACK = '=HYPERLINK("http://example.invalid","click")'


def definition(key, section, label, kind, unit="", who=None, source=None):
    return Definition(key=key, section=section, label=label, kind=kind,
                      who=who or f"Patients in treatment ({key})",
                      dates=f"In the period ({key})", source=source or f"Records ({key})",
                      unit=unit)


def row(defn, now, before):
    return Row(Figure(defn, value=lambda scope: now), now, before)


# Each row: the exact values, and what must leave the service (worked by hand).
ROWS = [
    # 3 -> "*" (1 to 7); 8 -> 10 (8 is 2 from 10, 3 from 5)
    row(definition("tiny", "balance", "Tiny count", Kind.COUNT),
        Value(count=3), Value(count=8)),
    # 13 -> 15 (2 from 15, 3 from 10); 0 stays 0
    row(definition("thirteen", "balance", "Thirteen", Kind.COUNT),
        Value(count=13), Value(count=0)),
    # 3 of 40 -> "*" (numerator 3); 13 of 40 -> 15 of 40 = 37.5% -> 38%
    row(definition("share", "harm", "Share", Kind.SHARE),
        Value(count=3, of=40), Value(count=13, of=40)),
    # a mean of 7 people -> "*"; of 8 people -> -2.25 to 1 decimal, half up: -2.3
    row(definition("mean", "outcomes", "Mean change", Kind.MEAN, unit="days"),
        Value(value=-2.25, people=7), Value(value=-2.25, people=8)),
    # a median of 30 people: 120.0; nobody before: empty
    row(definition("median", "balance", "Median days", Kind.MEDIAN, unit="days"),
        Value(value=120.0, people=30), Value(value=None, people=0)),
    # text that a spreadsheet would run as a formula
    row(definition("formula", "reviews", "=1+2", Kind.COUNT, who="@SUM(A1:A9)",
                   source="+cmd|' /C calc'!A0"),
        Value(count=20), Value(count=22)),
]


@pytest.fixture
def report(db):
    org = Organisation.objects.create(name=ATTACK)
    team = Team.objects.create(organisation=org, name="-North")
    scope = Scope(org.pk, PERIOD, teams=frozenset({team.pk}))
    return Report(scope, ROWS, COMPUTED)


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def by_label(table: list[list[str]], label_column: int) -> dict[str, list]:
    return {r[label_column]: r for r in table if len(r) > label_column}


# CSV -------------------------------------------------------------------------------------------

def test_the_csv_carries_only_suppressed_figures(report):
    data = exports.to_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 byte order mark: Excel reads UTF-8
    table = csv_rows(data)
    header = next(r for r in table if r and r[0] == "Section")
    assert header[5:7] == ["This period (1 Jan 2026 to 31 Dec 2026)",
                           "Previous period (1 Jan 2025 to 31 Dec 2025)"]
    rows = by_label(table, 1)
    assert rows["Tiny count"][5:7] == ["*", "10"]
    assert rows["Thirteen"][5:7] == ["15", "0"]
    assert rows["Share"][5:7] == ["*", "38%"]
    assert rows["Mean change"][2] == "Mean (days)"
    assert rows["Mean change"][5:7] == ["*", "-2.3"]  # a plain number: not neutralised
    assert rows["Median days"][5:7] == ["120.0", ""]
    assert rows["Share"][0] == "Reducing harm"
    assert rows["Share"][3:5] == ["Patients in treatment (share)", "In the period (share)"]
    assert rows["Share"][7] == "Records (share)"
    # No figure cell carries an exact count of 1 to 7 or an unrounded value.
    figures = [cell for r in rows.values() if len(r) == 8 for cell in r[5:7]]
    assert not {"1", "2", "3", "4", "5", "6", "7", "8", "13", "-2.25"} & set(figures)


def test_the_csv_says_what_it_is(report):
    table = csv_rows(exports.to_csv(report))
    lines = {r[0]: r[1] for r in table if len(r) == 2}
    assert lines["Service"] == "'" + ATTACK  # neutralised
    assert lines["Period"] == "1 Jan 2026 to 31 Dec 2026"
    assert lines["Compared with"].startswith("1 Jan 2025 to 31 Dec 2025")
    assert lines["Filters"] == ("team -North; any keyworker; any setting; "
                                "any substance group")
    assert lines["Worked out"] == "5 January 2027 at 09:30"
    assert "a count of 1 to 7 is shown as *" in lines["Small numbers"]
    assert "rounded to the nearest 5" in lines["Small numbers"]


def test_the_filters_are_named(db):
    org = Organisation.objects.create(name="Northside Recovery")
    sam = User.objects.create(username="sam", first_name="Sam", last_name="Okafor",
                              organisation=org)
    scope = Scope(org.pk, PERIOD, keyworker=sam.pk, setting="community", substance="opiate")
    lines = dict(exports.about(Report(scope, ROWS, COMPUTED)))
    assert lines["Service"] == "Northside Recovery"
    assert lines["Filters"] == ("every team; keyworker Sam Okafor; setting Community; "
                                "substance group Opiate")


def test_the_csv_neutralises_formulas(report):
    table = csv_rows(exports.to_csv(report))
    rows = by_label(table, 1)
    assert "'=1+2" in rows  # the label, with an apostrophe
    formula = rows["'=1+2"]
    assert formula[3] == "'@SUM(A1:A9)"
    assert formula[7] == "'+cmd|' /C calc'!A0"
    assert formula[5:7] == ["20", "20"]  # 22 is 2 from 20
    for r in table:
        for cell in r:
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
            assert not cell.startswith("-") or re.fullmatch(r"-\d+(\.\d+)?", cell), cell


@pytest.mark.parametrize("text, safe", [
    ("=1+2", "'=1+2"), ("+44 7700 900000", "'+44 7700 900000"), ("-North", "'-North"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-2.5", "-2.5"), ("38%", "38%"), ("*", "*"), ("North", "North"), ("", ""),
])
def test_neutralise(text, safe):
    assert exports.neutralise(text) == safe


def test_file_names(report):
    assert exports.filename(report, "csv") == "tandem-service-report-2026-01-01-to-2026-12-31.csv"
    assert exports.filename(report, "xlsx").endswith("-to-2026-12-31.xlsx")


# XLSX ------------------------------------------------------------------------------------------

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"


def read_xlsx(data: bytes) -> dict[str, list[list]]:
    """Each sheet's rows of values (text as str, numbers as float), read with the standard
    library; also checks that no cell holds a formula."""
    book = zipfile.ZipFile(io.BytesIO(data))
    strings = ["".join(t.text or "" for t in si.iter(f"{MAIN}t"))
               for si in ET.fromstring(book.read("xl/sharedStrings.xml"))]
    rels = {r.get("Id"): r.get("Target") for r in
            ET.fromstring(book.read("xl/_rels/workbook.xml.rels"))}
    sheets = {}
    for sheet in ET.fromstring(book.read("xl/workbook.xml")).iter(f"{MAIN}sheet"):
        xml = ET.fromstring(book.read("xl/" + rels[sheet.get(f"{RELS}id")]))
        assert not list(xml.iter(f"{MAIN}f")), "a cell holds a formula"
        rows = []
        for r in xml.iter(f"{MAIN}row"):
            cells = {}
            for c in r.iter(f"{MAIN}c"):
                col = re.match(r"[A-Z]+", c.get("r")).group()
                v = c.find(f"{MAIN}v")
                if v is not None:
                    cells[ord(col) - ord("A")] = (strings[int(v.text)] if c.get("t") == "s"
                                                  else float(v.text))
            rows.append([cells.get(i) for i in range(max(cells, default=-1) + 1)])
        sheets[sheet.get("name")] = rows
    return sheets


def test_the_spreadsheet_carries_only_suppressed_figures_as_numbers(report):
    sheets = read_xlsx(exports.to_xlsx(report))
    assert list(sheets) == ["Service report", "How this is worked out"]
    main = sheets["Service report"]
    assert main[0] == ["Tandem service report"]
    lines = {r[0]: r[1] for r in main if len(r) == 2}
    assert lines["Service"] == "'" + ATTACK
    assert lines["Period"] == "1 Jan 2026 to 31 Dec 2026"
    assert lines["Worked out"] == "5 January 2027 at 09:30"
    rows = by_label(main, 1)
    assert rows["Tiny count"][5:7] == ["*", 10.0]
    assert rows["Thirteen"][5:7] == [15.0, 0.0]
    assert rows["Share"][5:7] == ["*", 0.38]  # 38%, formatted as a percentage
    assert rows["Mean change"][5:7] == ["*", -2.3]
    assert rows["Median days"][5:7] == [120.0, None]  # nobody before: an empty cell
    formula = rows["'=1+2"]
    assert formula[3] == "'@SUM(A1:A9)" and formula[7] == "'+cmd|' /C calc'!A0"
    assert formula[5:7] == [20.0, 20.0]


def test_the_spreadsheet_lists_every_definition(report):
    how = read_xlsx(exports.to_xlsx(report))["How this is worked out"]
    assert "a count of 1 to 7 is shown as *" in how[1][0]
    assert "NHS Digital" in how[2][0]
    rows = by_label(how, 2)  # by key
    assert set(rows) >= {"tiny", "thirteen", "share", "mean", "median", "formula"}
    assert rows["median"][3:7] == ["Median (days)", "Patients in treatment (median)",
                                   "In the period (median)", "Records (median)"]
    assert rows["formula"][1] == "'=1+2"


def test_the_spreadsheet_styles_shares_as_percentages(report):
    """The share's cell is shown as 38% (format "0%"), not 0.38."""
    book = zipfile.ZipFile(io.BytesIO(exports.to_xlsx(report)))
    styles = ET.fromstring(book.read("xl/styles.xml"))
    xfs = list(styles.find(f"{MAIN}cellXfs"))
    sheet = ET.fromstring(book.read("xl/worksheets/sheet1.xml"))
    share = next(c for c in sheet.iter(f"{MAIN}c")
                 if (v := c.find(f"{MAIN}v")) is not None and v.text == "0.38")
    codes = {"9": "0%"} | {f.get("numFmtId"): f.get("formatCode")
                           for f in styles.iter(f"{MAIN}numFmt")}
    assert codes[xfs[int(share.get("s"))].get("numFmtId")] == "0%"


# PDF -------------------------------------------------------------------------------------------

def visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_print_page_carries_only_suppressed_figures_and_definitions(report):
    text = visible(render_to_string("reporting/print.html", exports.print_context(report)))
    assert "Tiny count Who: Patients in treatment (tiny) · Dates: In the period (tiny) " \
           "Number * 10" in text
    assert "Share Who: Patients in treatment (share) · Dates: In the period (share) " \
           "Percentage * 38%" in text
    assert "Mean (days) * -2.3" in text
    assert "Median (days) 120.0 none to count" in text
    assert "How this is worked out" in text and "· Source: Records (median)" in text
    assert "-2.25" not in text and " 13 " not in text


def test_the_pdf_is_a_pdf(report):
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):  # no Pango on this machine
        pytest.skip("WeasyPrint cannot load Pango here")
    pdf = exports.to_pdf(report)
    assert pdf.startswith(b"%PDF")


def test_without_weasyprint_the_pdf_says_it_cannot(report, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # as if the library cannot load
    with pytest.raises(exports.PdfUnavailable):
        exports.to_pdf(report)
