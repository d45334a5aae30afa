"""The shapes that flow through the pipeline: read → blocks → filing.

Readers turn a file into a :class:`RawDocument` (paragraphs and tables in
reading order); the splitter turns that into a :class:`Filing`, whose
``to_json`` is exactly one line of ``jixiao parse --json``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Paragraph:
    """A run of prose between tables."""

    text: str
    page: int | None = None
    # a paragraph as its author typed it (a DOCX w:p), not one line of a paragraph that a
    # PDF or text export wrapped at the page width: it ends where it ends
    whole: bool = False
    # the outline level its author's style gives it (a DOCX heading style or outline
    # level, 0 = top), None for body text or a format that does not say
    outline: int | None = None


@dataclass
class Table:
    """A table as rows of cell texts; a merged cell repeats nothing and reads as ``""``."""

    rows: list[list[str]]
    page: int | None = None  # where the table starts
    # the page of each row, for a table continued over pages (None: all on ``page``)
    row_pages: list[int | None] | None = None
    # the cells as the file has them where a reader repaired ``rows`` for reading (a text
    # export's wrap spaces taken out of labels and names); a target value is kept as filed
    # (None: ``rows`` are as filed)
    as_filed: list[list[str]] | None = None

    def page_of(self, index: int) -> int | None:
        """The page row ``index`` is on."""
        return self.row_pages[index] if self.row_pages else self.page

    def filed_row(self, index: int) -> list[str]:
        """Row ``index`` as the file has it."""
        return self.as_filed[index] if self.as_filed else self.rows[index]


Block = Paragraph | Table


@dataclass
class RawDocument:
    """What a reader found in one file, before any interpretation."""

    source: str
    blocks: list[Block]
    low_confidence: bool = False  # True when some text came from OCR
    warnings: list[str] = field(default_factory=list)


@dataclass
class Indicator:
    level1: str | None
    level2: str | None
    level1_raw: str | None
    level2_raw: str | None
    name: str
    description: str | None
    value: str | None
    op: str | None = None
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    change: str | None = None  # "increase" / "decrease": a change against a baseline
    page: int | None = None
    low_confidence: bool = False


@dataclass
class Project:
    name: str | None
    code: str | None = None
    department: str | None = None
    amount_wan: float | None = None
    period: str | None = None
    goal: str | None = None
    purpose: str | None = None
    page: int | None = None
    indicators: list[Indicator] = field(default_factory=list)


@dataclass
class Section:
    heading: str | None  # the heading path ("一、… › （一）…"); None before any heading
    text: str
    page: int | None = None


@dataclass
class Filing:
    source: str
    title: str | None = None
    province: str | None = None
    city: str | None = None
    county: str | None = None
    adcode: str | None = None
    year: int | None = None
    department: str | None = None
    projects: list[Project] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    low_confidence: bool = False
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The ``jixiao parse --json`` object (see ``shared/notes/interfaces.md``)."""
        return asdict(self)
