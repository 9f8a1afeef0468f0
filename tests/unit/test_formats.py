"""The format parsers: sections and their locations, Japanese spacing, header rows, bad files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import openpyxl
import pytest
from pptx import Presentation

from knowledge.chunking import make_splitter, split_sections
from knowledge.formats import SUPPORTED_SUFFIXES, ParseError, Section, parse_document
from knowledge.formats.base import join_cjk
from knowledge.formats.tables import MAX_ROWS

pytestmark = pytest.mark.unit

DATA = Path(__file__).resolve().parent.parent / "data" / "formats"


def _docx() -> bytes:
    document = docx.Document()
    document.add_heading("出張規程", level=0)
    document.add_paragraph("前文です。")
    document.add_heading("日当", level=1)
    document.add_paragraph("日当は次のとおり。")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(
        [*table.rows[0].cells, *table.rows[1].cells], ["区分", "国内", "部長", "3,000円"], strict=True
    ):
        cell.text = text
    document.add_heading("Settlement", level=1)
    document.add_paragraph("Within 10 days.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _pptx() -> bytes:
    presentation = Presentation()
    for title, body, notes in [("製品", "SP-100 段ボール", "展示会用"), ("Prices", "MP-10 1,800円", "")]:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def _xlsx(rows: int = 30) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "科目"
    sheet.append([None])  # an empty first row: the header is the first non-empty one
    sheet.append(["コード", "科目", "上限"])
    for i in range(rows):
        sheet.append([f"KH-{101 + i}", f"科目{i}", 1000.0 + i])
    sheet.append(["合計", None, "=SUM(C3:C32)"])  # a formula: its cached value (none here), never the formula
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def test_every_format_is_supported() -> None:
    """The registry lists every format the ingest may read."""
    expected = {".md", ".markdown", ".txt", ".pdf", ".docx", ".pptx", ".xlsx", ".html", ".htm", ".vtt", ".srt", ".csv"}
    assert expected == SUPPORTED_SUFFIXES


def test_pdf_pages_and_japanese_text() -> None:
    """A Japanese PDF: one section per page (``p. N``), its title from the metadata."""
    doc = parse_document("guide.pdf", (DATA / "japanese.pdf").read_bytes())
    assert "出張申請の手引き" == doc.title
    assert ["p. 1", "p. 2"] == [s.location for s in doc.sections]
    assert "出張の 5 営業日前までに申請してください。" in doc.sections[0].text
    assert "Approval by your manager is required." in doc.sections[0].text


def test_japanese_spacing_removed_between_cjk_only() -> None:
    """Stray spaces between Japanese characters go; spaces between Latin words stay; a wrapped
    Japanese line is joined, a short line (a heading) keeps its break."""
    text = "ネット ワーク 構成\n拠点間 は VPN で 接続 して いる 長い 行 の 途中 で 折り返さ\nれた 文 です。\n"
    text += "English words stay."
    expected = "ネットワーク構成\n拠点間は VPN で接続している長い行の途中で折り返された文です。\nEnglish words stay."
    assert expected == join_cjk(text)


@pytest.mark.parametrize(
    ("name", "reason"),
    [("encrypted.pdf", r"^encrypted"), ("image-only.pdf", r"^no text layer \(scanned\?\)$")],
)
def test_bad_pdfs(name: str, reason: str) -> None:
    """An encrypted PDF and a scan without a text layer are refused with a one-line reason."""
    with pytest.raises(ParseError, match=reason):
        parse_document(name, (DATA / name).read_bytes())


def test_damaged_pdf_falls_back_then_refuses() -> None:
    """A PDF pdfium cannot open goes to pdfminer; if that fails too, a one-line reason."""
    with pytest.raises(ParseError, match=r"^(not a valid PDF file|no text layer \(scanned\?\))$"):
        parse_document("broken.pdf", b"%PDF-1.7\n" + b"garbage " * 100)


def test_content_must_match_suffix() -> None:
    """A ``.pdf`` that is really a ZIP archive is refused with what it is; so is a DOCX renamed."""
    with pytest.raises(ParseError, match=r"^not a PDF file \(it is a Word document\)$"):
        parse_document("report.pdf", _docx())
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "x")
    with pytest.raises(ParseError, match=r"^not a PDF file \(it is a ZIP archive\)$"):
        parse_document("report.pdf", archive.getvalue())
    with pytest.raises(ParseError, match=r"^not an Excel workbook \(it is a Word document\)$"):
        parse_document("book.xlsx", _docx())


def test_docx_headings_and_tables() -> None:
    """Headings start sections located at the heading; a table is kept as rows."""
    doc = parse_document("出張規程.docx", _docx())
    assert "出張規程" == doc.title
    assert ["出張規程", "日当", "Settlement"] == [s.location for s in doc.sections]
    assert "日当\n日当は次のとおり。\n区分 | 国内\n部長 | 3,000円" == doc.sections[1].text


def test_pptx_slides_with_notes() -> None:
    """One section per slide, located ``slide N``, the notes after the slide's text."""
    doc = parse_document("deck.pptx", _pptx())
    assert [("slide 1", "製品\nSP-100 段ボール\nNotes: 展示会用"), ("slide 2", "Prices\nMP-10 1,800円")] == [
        (s.location, s.text) for s in doc.sections
    ]


def test_xlsx_header_and_values() -> None:
    """A sheet is a tabular section: the first non-empty row is the header, values not formulas."""
    doc = parse_document("book.xlsx", _xlsx())
    (sheet,) = doc.sections
    assert ("科目", "コード | 科目 | 上限") == (sheet.location, sheet.header)
    lines = sheet.text.split("\n")
    assert ("KH-101 | 科目0 | 1000", 3) == (lines[0], sheet.rows[0])
    assert ("合計", 33) == (lines[-1], sheet.rows[-1])
    assert "SUM" not in sheet.text


def test_header_repeated_per_chunk_with_row_ranges() -> None:
    """Each chunk of rows starts with the header; its location names its sheet and rows."""
    doc = parse_document("book.xlsx", _xlsx())
    count = len  # one "token" per character keeps the arithmetic visible
    pieces = split_sections(make_splitter(count, 80, 0), doc.sections, count, 80)
    assert len(pieces) > 3
    assert all(p.text.startswith("コード | 科目 | 上限\n") for p in pieces)
    assert "科目 rows 3-5" == pieces[0].location
    assert all(len(p.text) <= 80 for p in pieces)
    covered = [line for p in pieces for line in p.text.split("\n")[1:]]
    assert doc.sections[0].text.split("\n") == covered


def test_huge_sheet_is_cut_with_a_note() -> None:
    """Rows past the cap are not read; the document says so instead of failing."""
    doc = parse_document("huge.csv", ("a,b\n" + "x,1\n" * (MAX_ROWS + 10)).encode())
    assert MAX_ROWS == len(doc.sections[0].rows)
    assert doc.notes
    assert doc.notes[0].startswith("cut at")


def test_csv_cp932_rows() -> None:
    """CSV in Shift_JIS: header repeated, locations ``rows N-M``."""
    raw = "拠点,電話\n大阪本社,06-0000-1000\n横浜支店,045-000-2000\n".encode("cp932")
    (section,) = parse_document("拠点一覧.csv", raw).sections
    assert ("拠点 | 電話", (2, 3)) == (section.header, section.rows)
    count = len
    pieces = split_sections(make_splitter(count, 200, 0), [section], count, 200)
    assert [("拠点 | 電話\n大阪本社 | 06-0000-1000\n横浜支店 | 045-000-2000", "rows 2-3")] == [
        (p.text, p.location) for p in pieces
    ]


def test_html_main_text_only() -> None:
    """Scripts, styles, navigation, header, footer and asides are dropped; headings start sections."""
    raw = """<html><head><title>FAQ</title><script>steal()</script><style>p{}</style></head><body>
    <header>Site header</header><nav><a href="/">Home</a></nav>
    <h1>よくある質問</h1><p>はじめに。</p><h2>納期</h2><p>翌営業日に<b>出荷</b>します。</p>
    <table><tr><th>地域</th><th>目安</th></tr><tr><td>北米</td><td>10日</td></tr></table>
    <aside>related</aside><footer>© footer</footer></body></html>""".encode()
    doc = parse_document("faq.html", raw)
    assert "FAQ" == doc.title
    assert [
        ("よくある質問", "よくある質問\nはじめに。"),
        ("納期", "納期\n翌営業日に出荷します。\n地域 | 目安\n北米 | 10日"),
    ] == [(s.location, s.text) for s in doc.sections]
    for dropped in ("steal", "Site header", "Home", "related", "footer"):
        assert dropped not in doc.text


def test_vtt_sections_by_minute() -> None:
    """Consecutive cues of about a minute make a section located at its first cue's time."""
    raw = (
        "WEBVTT\n\n00:00:05.000 --> 00:00:08.000\n<v 鈴木>始めます。\n\n"
        "00:00:40.000 --> 00:00:45.000\n<v Bob>Agreed.\n\n"
        "00:01:10.000 --> 00:01:15.000\n<v 鈴木>次は1月15日です。\n"
    ).encode()
    doc = parse_document("kickoff.vtt", raw)
    assert [("00:00:05", "鈴木: 始めます。\nBob: Agreed."), ("00:01:10", "鈴木: 次は1月15日です。")] == [
        (s.location, s.text) for s in doc.sections
    ]


def test_markdown_headings_start_sections() -> None:
    """Markdown: front matter as today, each heading a section located at it; a fence hides ``#``."""
    raw = "---\nowner: a@example.co.jp\n---\n# 手引き\n前文\n## 申請\n本文\n```\n# not a heading\n```\n".encode()
    doc = parse_document("guide.md", raw)
    assert ("手引き", {"owner": "a@example.co.jp"}) == (doc.title, doc.metadata)
    assert ["手引き", "申請"] == [s.location for s in doc.sections]
    assert [Section(None, "本文だけ")] == list(parse_document("a.txt", "本文だけ".encode()).sections)


@pytest.mark.parametrize(("name", "label"), [("a.docx", "DOCX"), ("a.pptx", "PPTX"), ("a.xlsx", "XLSX")])
def test_corrupt_office_files(name: str, label: str) -> None:
    """An Office file whose parts are damaged gets one line, not a traceback."""
    archive = io.BytesIO()
    main = {"DOCX": "wordprocessingml.document", "PPTX": "presentationml.presentation", "XLSX": "spreadsheetml.sheet"}
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("[Content_Types].xml", f'<Types><Override ContentType="x.{main[label]}.main+xml"/></Types>')
        z.writestr("garbage.xml", "<not closed")
    with pytest.raises(ParseError, match=rf"^not a valid {label} file$"):
        parse_document(name, archive.getvalue())


def test_zip_bomb_is_refused_before_opening() -> None:
    """An Office file that would unpack to more than the cap is refused from its directory alone."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml", '<Types><Override ContentType="x.wordprocessingml.document.main+xml"/></Types>'
        )
        z.writestr("word/document.xml", b"\0" * (60 * 1024 * 1024))
    raw = archive.getvalue()
    assert len(raw) < 200_000
    with pytest.raises(ParseError, match=r"^too large when unpacked"):
        parse_document("bomb.docx", raw)


def test_binary_text_file_refused() -> None:
    """A ``.csv`` holding binary data is refused, as a ``.md`` one is."""
    with pytest.raises(ParseError, match="binary"):
        parse_document("data.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_citations_carry_locations() -> None:
    """One citation per document, its location the distinct locations of its passages; ``kura ask
    --json`` gives it, Slack shows ``title (p. 3, p. 5)``, Teams puts it in the citation's name."""
    from bot.adapters.slack.render import sources_block
    from bot.adapters.teams.render import citations_of as teams_citations
    from bot.cli.chat import reply_json
    from bot.core.pipeline import citations_of
    from bot.core.types import Reply
    from knowledge.store import SearchHit
    from policies import Decision

    def hit(source: str, title: str, location: str | None) -> SearchHit:
        return SearchHit(1, 1, source, title, "text", ("public",), 0, 0.1, location)

    chunks = [
        hit("it/net.pdf", "ネットワーク構成", "p. 3"),
        hit("faq.md", "FAQ", None),
        hit("it/net.pdf", "ネットワーク構成", "p. 5"),
        hit("it/net.pdf", "ネットワーク構成", "p. 3"),
    ]
    citations = citations_of(chunks)
    assert [("it/net.pdf", "p. 3, p. 5"), ("faq.md", "")] == [(c.source, c.location) for c in citations]
    reply = Reply("answered", "答え [1]", citations, Decision(True, "ok", ""), None, "ja")
    shown = reply_json(reply)["citations"]
    assert {"source": "it/net.pdf", "title": "ネットワーク構成", "number": 1, "location": "p. 3, p. 5"} == shown[0]  # type: ignore[index]
    block = sources_block(reply)
    assert block is not None
    assert "[1] ネットワーク構成 (p. 3, p. 5) (`it/net.pdf`)" in str(block["elements"][0]["text"])  # type: ignore[index]
    assert "ネットワーク構成 (p. 3, p. 5)" == teams_citations(reply)[0].appearance.name
