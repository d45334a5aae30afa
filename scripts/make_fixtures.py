"""Render seed filings into realistic DOCX and PDF fixtures for the reader tests.

Run by hand when the fixtures need to change (the tests only read the results):

    PYTHONPATH=. .venv/bin/python scripts/make_fixtures.py

Needs python-docx (a project dependency), Pillow (comes with pdfplumber) and, on the
system, ``libreoffice`` (Debian ``libreoffice-writer-nogui``) with ``fonts-noto-cjk``,
``pdftoppm`` (``poppler-utils``) and ``qpdf``.

What it writes into ``tests/fixtures/``:

* ``<seed>.docx`` – the seed's projects from its gold annotation (``tests/gold/<seed>.json``)
  laid out like a real 绩效目标表: title, filer line, (for 003) narrative headings and
  paragraphs from ``corpus/<seed>.txt``, then per project a header block (项目名称, 项目编码,
  主管部门, 项目年度金额, 年度总体绩效目标, merged across columns) and an indicator table whose
  header row repeats on every page (``w:tblHeader``) and whose 一级/二级指标 cells are merged
  vertically over their groups.
* ``<seed>.pdf`` – that DOCX converted by LibreOffice; tables flow over page breaks.
* ``scanned_page.pdf`` – page 1 of the 003 PDF rasterised (no text layer).
* ``encrypted.pdf`` – page 1 of the 002 PDF encrypted with a user password.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from itertools import groupby
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ["002_19f2a4c4a62c75e5", "003_5dd4e37a73cf10c8", "004_18f1d064e5796ee8"]
FONT = "Noto Sans CJK SC"
TEXT_WIDTH_CM = 16.0  # A4 minus 2.5 cm margins


def set_fonts(doc: Document) -> None:
    """Make every style we use render with the CJK font (LibreOffice honours w:eastAsia)."""
    for name in ("Normal", "Title", "Heading 1", "Heading 2"):
        style = doc.styles[name]
        style.font.name = FONT
        rpr = style.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = OxmlElement("w:rFonts")
            rpr.append(rfonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            rfonts.set(qn(attr), FONT)
        # Theme fonts would override the explicit ones in headings.
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            rfonts.attrib.pop(qn(attr), None)
    doc.styles["Normal"].font.size = Pt(10.5)


def mark_header_row(row) -> None:
    """Flag a row as a repeating header row, so LibreOffice repeats it after a page break."""
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def new_table(doc: Document, nrows: int, widths_cm: list[float]):
    """A bordered table with fixed column widths (the same grid for every block)."""
    table = doc.add_table(rows=nrows, cols=len(widths_cm))
    table.style = "Table Grid"
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths_cm, strict=True):
            cell.width = Cm(width)
    return table


def fmt_amount(amount: float | None) -> str:
    """Amounts as a filing prints them: 26, 14.00 stays 14, 0.8."""
    return "" if amount is None else f"{amount:g}"


def add_project(doc: Document, project: dict, with_desc: bool) -> None:
    """One project: a header block table, then the indicator table directly below it."""
    widths = [2.6, 2.8, 4.0, 3.8, 2.8] if with_desc else [2.8, 3.2, 6.6, 3.4]
    ncols = len(widths)
    last = ncols - 1

    head = new_table(doc, 5, widths)
    header_rows = [
        ("项目名称", project.get("name") or ""),
        ("项目编码", project.get("code") or ""),
        ("主管部门", project.get("department") or ""),
        ("项目年度金额（万元）", fmt_amount(project.get("amount_wan"))),
        ("年度总体绩效目标", project.get("goal") or ""),
    ]
    for row, (label, value) in zip(head.rows, header_rows, strict=True):
        row.cells[0].text = label
        merged = row.cells[1].merge(row.cells[last])
        merged.text = value

    # LibreOffice joins adjacent tables, and only a table's first rows can repeat on a new
    # page; a 1 pt paragraph keeps the indicator table separate, yet the two still draw (and
    # are detected by pdfplumber) as one grid, like a real filing's single form.
    spacer = doc.add_paragraph()
    spacer.paragraph_format.space_before = spacer.paragraph_format.space_after = Pt(0)
    spacer.paragraph_format.line_spacing = Pt(1)
    spacer.add_run().font.size = Pt(1)

    inds = project["indicators"]
    body = new_table(doc, 1 + len(inds), widths)
    labels = ["一级指标", "二级指标", "三级指标"]
    labels += ["绩效指标描述", "指标值"] if with_desc else ["指标值"]
    for cell, label in zip(body.rows[0].cells, labels, strict=True):
        cell.text = label
    mark_header_row(body.rows[0])

    for i, ind in enumerate(inds, start=1):
        cells = body.rows[i].cells
        cells[2].text = ind["name"] or ""
        if with_desc:
            cells[3].text = ind.get("description") or ""
        cells[last].text = ind.get("value") or ""
    # Vertical merges like real filings: level1 over its group, level2 within it.
    start = 1
    for _, grp in groupby(inds, key=lambda ind: ind["level1_raw"]):
        grp = list(grp)
        end = start + len(grp) - 1
        merge_down(body, 0, start, end, grp[0]["level1_raw"] or "")
        s2 = start
        for _, sub in groupby(grp, key=lambda ind: ind["level2_raw"]):
            sub = list(sub)
            merge_down(body, 1, s2, s2 + len(sub) - 1, sub[0]["level2_raw"] or "")
            s2 += len(sub)
        start = end + 1


def merge_down(table, col: int, top: int, bottom: int, text: str) -> None:
    """Merge ``col`` from row ``top`` to ``bottom`` (vMerge) and put the text in once."""
    cell = table.cell(top, col)
    if bottom > top:
        cell = cell.merge(table.cell(bottom, col))
    cell.text = text


_NUM = "一二三四五六七八九十"
HEADING_RE = re.compile(rf"^(第[{_NUM}]+部分|[{_NUM}]+、|[（(][{_NUM}]+[)）])")


def narrative(txt: str) -> list[tuple[bool, str]]:
    """(is_heading, text) for the 003 narrative: from the body's 第一部分 to the first table.

    The seed text breaks paragraphs at PDF page ends; a line that does not end a sentence is
    glued to the next one.
    """
    lines = [ln.strip() for ln in txt.splitlines() if ln.strip()]
    starts = [i for i, ln in enumerate(lines) if ln == "第一部分"]
    start = starts[0] if starts else 0
    out: list[tuple[bool, str]] = []
    for ln in lines[start:]:
        if re.match(r"^1、", ln):
            break
        is_heading = bool(HEADING_RE.match(ln)) and len(ln) < 40 or ln in ("部门整体绩效目标",)
        if is_heading and ln.startswith(("（", "(")) and "。" in ln[4:-1]:
            is_heading = False  # "(二)狠抓任务落实。按照…" is a paragraph with a lead-in
        prev = out[-1] if out else None
        ends_sentence = prev is not None and prev[1].endswith(("。", "；", "！", "？"))
        if prev and not prev[0] and not is_heading and not ends_sentence:
            out[-1] = (False, prev[1] + ln)
        else:
            out.append((is_heading, ln))
    return out


def build_docx(seed: str, gold: dict, out: Path) -> None:
    """Write the DOCX for one seed."""
    doc = Document()
    set_fonts(doc)
    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.5)
    sec.top_margin = sec.bottom_margin = Cm(2.2)
    add_page_number_footer(sec)

    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(gold.get("title") or "部门项目支出预算绩效目标表")
    run.bold = True
    run.font.size = Pt(16)
    doc.add_paragraph(f"编制单位：{gold.get('department') or ''}")

    if seed.startswith("003"):
        txt = (ROOT / "corpus" / f"{seed}.txt").read_text(encoding="utf-8")
        for is_heading, text in narrative(txt):
            if is_heading:
                doc.add_heading(text, level=2)
            else:
                doc.add_paragraph(text)

    with_desc = any(ind.get("description") for p in gold["projects"] for ind in p["indicators"])
    for n, project in enumerate(gold["projects"], start=1):
        doc.add_paragraph(f"{n}、{project.get('name') or ''}绩效目标表")
        doc.add_paragraph("单位：万元")
        add_project(doc, project, with_desc)
    doc.save(out)


def add_page_number_footer(section) -> None:
    """A centred PAGE field in the footer, as real filings have (the reader must drop it)."""
    para = section.footer.paragraphs[0]
    para.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = para.add_run()
    for tag, text in (("begin", None), (None, " PAGE "), ("end", None)):
        if tag:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), tag)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)


def to_pdf(docx_path: Path, out_dir: Path) -> Path:
    """Convert with LibreOffice headless (a private profile so parallel runs don't clash)."""
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                "libreoffice",
                f"-env:UserInstallation=file://{profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out_dir),
                str(docx_path),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return out_dir / (docx_path.stem + ".pdf")


def make_scanned(pdf: Path, out: Path, dpi: int = 200) -> None:
    """Rasterise page 1 and wrap the image back into a PDF that has no text layer."""
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "page"
        subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-f", "1", "-l", "1", "-gray", "-png", str(pdf), prefix],
            check=True,
        )
        png = next(Path(tmp).glob("page*.png"))
        # Bilevel keeps the file small (a fax-like scan) and tesseract reads it well.
        img = Image.open(png).point(lambda v: 255 if v > 160 else 0).convert("1")
        img.save(out, "PDF", resolution=dpi)


def make_encrypted(pdf: Path, out: Path) -> None:
    """Page 1 of ``pdf`` with a user password (AES-256), so it cannot be opened without it."""
    subprocess.run(
        [
            "qpdf",
            str(pdf),
            "--pages",
            str(pdf),
            "1",
            "--",
            "--encrypt",
            "secret",
            "owner",
            "256",
            "--",
            str(out),
        ],
        check=True,
    )


def main() -> None:
    """Build every fixture (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold-dir", type=Path, default=ROOT / "tests" / "gold")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures")
    ap.add_argument("--seeds", nargs="*", default=SEEDS)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        gold = json.loads((args.gold_dir / f"{seed}.json").read_text(encoding="utf-8"))
        docx_path = args.out / f"{seed}.docx"
        build_docx(seed, gold, docx_path)
        pdf = to_pdf(docx_path, args.out)
        print(f"{docx_path.name} {docx_path.stat().st_size} B, {pdf.name} {pdf.stat().st_size} B")
    pdf003 = args.out / "003_5dd4e37a73cf10c8.pdf"
    pdf002 = args.out / "002_19f2a4c4a62c75e5.pdf"
    if pdf003.exists():
        make_scanned(pdf003, args.out / "scanned_page.pdf")
    if pdf002.exists() and shutil.which("qpdf"):
        make_encrypted(pdf002, args.out / "encrypted.pdf")
    for extra in ("scanned_page.pdf", "encrypted.pdf"):
        path = args.out / extra
        if path.exists():
            print(f"{extra} {path.stat().st_size} B")


if __name__ == "__main__":
    main()
