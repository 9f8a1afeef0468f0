"""Write the sample knowledge files in formats other than Markdown, and the PDF test fixtures.

The files are written for this purpose (Sakura Trading 株式会社, the sample company), small, and
committed; run this only to change them. reportlab is needed here alone, not by Kura:

    python3 -m venv /tmp/kura-docs && /tmp/kura-docs/bin/pip install reportlab python-docx python-pptx openpyxl
    /tmp/kura-docs/bin/python scripts/make_sample_documents.py

PDFs use reportlab's built-in CID font HeiseiKakuGo-W5 (no font file embedded: the Japanese text
layer is exact, and the files stay a few KB).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import docx
import openpyxl
from pptx import Presentation
from pptx.util import Inches, Pt
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "bot" / "sample" / "knowledge"
FIXTURES = ROOT / "tests" / "data" / "formats"
FONT = "HeiseiKakuGo-W5"
FIXED = dt.datetime(2026, 11, 1, 9, 0, 0)


def _pdf(path: Path, pages: list[list[str]], *, title: str, encrypt: str | None = None) -> None:
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    pdf = canvas.Canvas(str(path), pagesize=A4, invariant=True, encrypt=encrypt)
    pdf.setTitle(title)
    for lines in pages:
        y = A4[1] - 72
        for line in lines:
            size = 16 if line.startswith("■") else 11
            pdf.setFont(FONT, size)
            pdf.drawString(60, y, line)
            y -= size + 10
        pdf.showPage()
    pdf.save()


NETWORK_PAGES = [
    [
        "■ ネットワーク構成（社内向け）",
        "Sakura Trading 株式会社 情報システム部 2026年11月版",
        "本書は大阪本社と横浜支店のネットワーク構成をまとめたものです。",
        "障害対応の際は、まず本書で機器の役割と経路を確認してください。",
        "■ 1. 拠点間接続",
        "大阪本社と横浜支店は IPsec VPN（帯域 1 Gbps）で常時接続しています。",
        "主回線が切れた場合は LTE のバックアップ回線に 30 秒以内に切り替わります。",
        "拠点間ルーターは osk-rt01 と ykh-rt01 です。",
    ],
    [
        "■ 2. 社内ネットワークの区分",
        "業務 LAN（VLAN 10）：社員の PC とプリンター。",
        "サーバー LAN（VLAN 20）：ファイルサーバー fs01 と業務システム。",
        "来客用 Wi-Fi（VLAN 99）：インターネットのみ。社内システムには接続できません。",
        "管理ネットワーク（VLAN 50）：踏み台サーバーは管理ネットワークからのみ利用できます。",
        "■ 3. リモート接続",
        "社外からは VPN ゲートウェイ vpn01.sakura.internal に接続します。",
        "認証は会社アカウントと登録端末のワンタイムトークンの二要素です。",
    ],
    [
        "■ 4. 障害時の連絡先",
        "平日 9時〜18時：情報システム部ヘルプデスク（内線 4100）。",
        "夜間・休日：当番の携帯電話（incident-contacts.txt を参照）。",
        "回線事業者への連絡は情報システム部が行います。各拠点から直接連絡しないでください。",
    ],
]


def network_pdf() -> None:
    _pdf(SAMPLE / "it" / "ネットワーク構成.pdf", NETWORK_PAGES, title="ネットワーク構成")


def fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    pages = [
        ["■ 出張申請の手引き", "出張の 5 営業日前までに申請してください。", "Approval by your manager is required."],
        ["■ 精算", "帰着後 10 日以内に精算します。日当は規程の表に従います。"],
    ]
    _pdf(FIXTURES / "japanese.pdf", pages, title="出張申請の手引き")
    _pdf(
        FIXTURES / "encrypted.pdf", [["■ 秘密", "この文書は暗号化されています。"]], title="秘密", encrypt="kura-secret"
    )
    # No text at all: shapes only, as a scan would have an image and no text layer.
    pdf = canvas.Canvas(str(FIXTURES / "image-only.pdf"), pagesize=A4, invariant=True)
    for i in range(8):
        pdf.rect(60 + i * 50, 600 - i * 30, 40, 20, fill=1)
    pdf.showPage()
    pdf.save()


def travel_docx() -> None:
    document = docx.Document()
    document.core_properties.title = "出張規程"
    document.core_properties.created = FIXED
    document.core_properties.modified = FIXED
    document.add_heading("出張規程", level=0)
    document.add_paragraph("本規程は Sakura Trading 株式会社の社員が業務で出張する際の申請、日当、精算を定めます。")
    document.add_heading("第1条 出張の申請", level=1)
    document.add_paragraph(
        "出張は出発の5営業日前までに、経費システム KeiHi の出張申請で上長の承認を受けます。"
        "海外出張は部長と管理本部長の承認が必要です。"
    )
    document.add_heading("第2条 日当", level=1)
    document.add_paragraph("日当は次の表のとおりです。宿泊を伴う場合は宿泊日数分を支給します。")
    table = document.add_table(rows=1, cols=3)
    for cell, text in zip(table.rows[0].cells, ["区分", "国内（1日）", "海外（1日）"], strict=True):
        cell.text = text
    for row in [("一般社員", "2,000円", "5,000円"), ("課長", "2,500円", "6,000円"), ("部長以上", "3,000円", "7,000円")]:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text
    document.add_heading("第3条 宿泊費", level=1)
    document.add_paragraph("宿泊費の上限は1泊あたり東京・大阪12,000円、その他の地域10,000円です。")
    document.add_heading("第4条 精算", level=1)
    document.add_paragraph("帰着後10日以内に KeiHi で精算します。領収書の扱いは経費精算ルールに従います。")
    document.save(SAMPLE / "handbook" / "出張規程.docx")


SLIDES = [
    ("製品ラインナップ 2027", ["Sakura Trading 株式会社", "営業本部"], "展示会とお客様向け説明会で使う資料です。"),
    (
        "包装資材シリーズ SP",
        ["SP-100 段ボール（標準サイズ）", "SP-200 緩衝材（再生紙）", "SP-300 オリジナル印刷ラベル"],
        "SP-200 は2027年4月から再生紙100%に切り替わります。",
    ),
    (
        "機械部品シリーズ MP",
        ["MP-10 ベアリング（輸入品）", "MP-20 精密シャフト", "Lead time: 2-3 weeks from Yokohama"],
        "MP-20 の納期はお客様に必ず確認してください。",
    ),
]


def products_pptx() -> None:
    presentation = Presentation()
    presentation.core_properties.title = "製品ラインナップ"
    presentation.core_properties.created = FIXED
    presentation.core_properties.modified = FIXED
    for title, bullets, notes in SLIDES:
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        body = slide.placeholders[1].text_frame
        body.text = bullets[0]
        for bullet in bullets[1:]:
            body.add_paragraph().text = bullet
        slide.notes_slide.notes_text_frame.text = notes
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])
    slide.shapes.title.text = "価格表（税別）"
    rows = [("品番", "品名", "単価"), ("SP-100", "段ボール", "120円"), ("MP-10", "ベアリング", "1,800円")]
    shape = slide.shapes.add_table(len(rows), 3, Inches(1), Inches(2), Inches(8), Inches(1.5))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            shape.table.cell(r, c).text = text
            shape.table.cell(r, c).text_frame.paragraphs[0].runs[0].font.size = Pt(14)
    presentation.save(SAMPLE / "public" / "製品ラインナップ.pptx")


ACCOUNTS = [
    ("旅費交通費", "電車・バス・タクシー・航空券"),
    ("出張日当", "出張規程の日当"),
    ("宿泊費", "出張時のホテル代"),
    ("接待交際費", "取引先との会食・贈答"),
    ("会議費", "社内外の会議の飲食"),
    ("通信費", "携帯電話・回線"),
    ("消耗品費", "10万円未満の備品"),
    ("新聞図書費", "書籍・新聞・有料記事"),
    ("研修費", "外部研修・セミナー"),
    ("支払手数料", "振込手数料"),
]


def accounts_xlsx() -> None:
    workbook = openpyxl.Workbook()
    workbook.properties.title = "経費科目一覧"
    workbook.properties.created = FIXED
    workbook.properties.modified = FIXED
    sheet = workbook.active
    sheet.title = "経費科目"
    sheet.append(["コード", "科目", "内容", "上限（円）", "承認"])
    for i in range(30):
        name, what = ACCOUNTS[i % len(ACCOUNTS)]
        department = ["", "（営業）", "（管理）"][i // len(ACCOUNTS)]
        limit = [50_000, 3_000, 12_000, 30_000, 5_000][i % 5]
        approver = "上長" if limit <= 12_000 else "部長"
        sheet.append([f"KH-{101 + i}", f"{name}{department}", what, limit, approver])
    sheet.append(["合計上限", None, None, "=SUM(D2:D31)", None])
    notes = workbook.create_sheet("注意事項")
    notes.append(["項目", "説明"])
    notes.append(["締め日", "毎月25日（経費精算ルール）"])
    notes.append(["コード不明", "経理部（内線 2200）に確認"])
    workbook.save(SAMPLE / "handbook" / "経費科目.xlsx")


FAQ_HTML = """<!doctype html>
<html lang="ja">
<head><meta charset="utf-8"><title>よくある質問 | Sakura Trading 株式会社</title>
<style>body { font-family: sans-serif; }</style>
<script>window.analytics = "do not index this";</script>
</head>
<body>
<header><a href="/">Sakura Trading</a> サイトヘッダー</header>
<nav><ul><li><a href="/">ホーム</a></li><li><a href="/products">製品</a></li><li>採用情報</li></ul></nav>
<main>
<h1>よくある質問</h1>
<p>お客様からよくいただくご質問をまとめました。</p>
<h2>注文と納期</h2>
<p>ご注文は平日15時までの受付で翌営業日に出荷します。機械部品シリーズ MP は取り寄せのため2〜3週間かかります。</p>
<h2>見積もり</h2>
<p>見積もりは営業担当または <b>sales@example.co.jp</b> までご依頼ください。通常2営業日以内に回答します。</p>
<h2>Shipping abroad</h2>
<p>We ship to Asia and North America from Yokohama. Export documents are prepared by our export support team.</p>
<table><tr><th>地域</th><th>目安</th></tr><tr><td>アジア</td><td>5〜7日</td></tr><tr><td>北米</td><td>10〜14日</td></tr></table>
</main>
<aside>関連リンク：採用情報</aside>
<footer>© Sakura Trading 株式会社 フッター</footer>
</body>
</html>
"""

KICKOFF_VTT = """WEBVTT

00:00:05.000 --> 00:00:12.000
<v 鈴木 部長>それでは2027年度の営業キックオフを始めます。

00:00:13.000 --> 00:00:25.000
<v 鈴木 部長>今年の目標は売上前年比110%、新規顧客40社です。

00:00:40.000 --> 00:00:52.000
<v Bob Tanaka>For the Yokohama branch, we will focus on export support for small manufacturers.

00:01:10.000 --> 00:01:22.000
<v 佐藤 課長>包装資材シリーズ SP の新製品は4月に発売します。展示会は5月です。

00:01:30.000 --> 00:01:40.000
<v 鈴木 部長>次回の進捗確認は1月15日です。各チームは数字を準備してください。
"""

SITES = [
    ("拠点", "住所", "電話", "人数", "担当"),
    ("大阪本社", "大阪府大阪市中央区本町1-2-3", "06-0000-1000", "300", "経営陣・管理部門・営業"),
    ("横浜支店", "神奈川県横浜市中区海岸通4-5-6", "045-000-2000", "110", "関東営業・物流調整"),
    ("横浜倉庫", "神奈川県横浜市鶴見区大黒町7-8", "045-000-2100", "10", "在庫管理・出荷"),
]


def main() -> None:
    network_pdf()
    fixtures()
    travel_docx()
    products_pptx()
    accounts_xlsx()
    (SAMPLE / "public" / "faq.html").write_text(FAQ_HTML, encoding="utf-8")
    (SAMPLE / "managers" / "キックオフ.vtt").write_text(KICKOFF_VTT, encoding="utf-8")
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(SITES)
    (SAMPLE / "handbook" / "拠点一覧.csv").write_bytes(out.getvalue().encode("cp932"))


if __name__ == "__main__":
    main()
