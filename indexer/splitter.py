"""Turn a read document (paragraphs and tables) into a filing.

The splitter knows the vocabulary of performance tables, not any one layout:
a project starts where a header block names it (项目名称 / 项目编码 …), an
indicator table starts at its heading row (一级指标 | 二级指标 | …) and its
columns are assigned by heading, so the same code reads tab rows, DOCX tables,
PDF tables and text recovered from wrapped PDF exports.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter

from indexer import labels
from indexer.model import Filing, Indicator, Paragraph, Project, RawDocument, Table
from indexer.narrative import sections_from_paragraphs
from indexer.regions import resolve_region
from indexer.targets import parse_target

_SPACES = re.compile(r"\s+")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?")
_UNIT_LINE = re.compile(r"单位[:：]\s*(万元|元|千元|亿元)")
_MONEY_SCALE = {"万元": 1.0, "元": 1e-4, "千元": 1e-1, "亿元": 1e4}  # to 万元
_LABEL_UNIT = re.compile(r"[（(]\s*(?:单位[:：]\s*)?(万元|千元|亿元|元)\s*[)）]")  # 年度金额（元）
_ENUM_PREFIX = re.compile(r"^\s*(?:\d{1,2}\s*[、.．]|[（(]\d{1,2}[)）])\s*(?=\D)")
_ORG_CODE = re.compile(r"^\s*\d{2,9}\s*[-－]?\s*")
_YEAR = re.compile(r"(20\d{2})\s*年")
_CJK = r"\u4e00-\u9fff"
_FIRST_LEVEL_ONLY = ("产出指标", "效益指标", "效果指标", "满意度指标")
_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_ORG_ENDINGS = "委员会|联合会|办公室|中学|小学|学校|宣传部|组织部|统战部|局|委|院|厅|中心"
_LABELLED = re.compile(r"^([^:：\s]{2,16})\s*[:：]\s*(\S.*)$")  # "项目名称：法律援助经费"
_SIGN_OFF = re.compile(r"审核意见|股室意见|填报人|联系电话|签字|盖章|^日期$")
# Prose between and after the project tables that is the tables' furniture, not narrative:
# a table's title (also wrapped over two lines), "附件5-2", a page's number, and the notes
# (填报说明 …) that end a table, up to the next numbered heading.
_TABLE_TITLE = re.compile(r"(绩效|目标)\S{0,6}表\s*$")
_ATTACHMENT = re.compile(r"^附件\s*[\d一二三四五六七八九十]*(?:\s*[-－—.]\s*\d+)*\s*[:：]?$")
_PAGE_LINE = re.compile(
    r"^[-—\s]*(?:\d{1,4}|第\s*\d{1,4}\s*页\s*[，,]?\s*(?:共\s*\d{1,4}\s*页)?)[-—\s]*$"
)
_NOTES = re.compile(r"^(?:填报说明|填表说明|说明|注|备注)\s*(?:[:：]|$)")
_CONTACT = re.compile(r"联系人|填表人")
_NUMBERED_HEADING = re.compile(
    r"^(?:第[一二三四五六七八九十]+部分|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十]+[）)])"
)


def split_document(doc: RawDocument) -> Filing:
    """Split a read document into metadata, projects with indicators, and narrative."""
    state = _State()
    for block in doc.blocks:
        if isinstance(block, Table):
            for index, row in enumerate(block.rows):
                state.table_row(row, block.page_of(index), block.filed_row(index))
        else:
            state.paragraph(block)
    state.release_held()
    state.end_prose_run()
    projects = [p for p in state.projects if p.indicators or p.name or p.code]
    filing = Filing(source=doc.source, projects=projects, low_confidence=doc.low_confidence)
    filing.warnings = list(doc.warnings)
    if not projects and _names_indicator_tables(doc):
        filing.warnings.append(
            "indicator table headings found but no rows read as a table (a scan, or a table "
            "without ruling lines): its text is kept as prose"
        )
    filing.title = _title(doc)
    filing.department = _department(projects, filing.title, [*state.units, *_org_lines(doc)])
    for project in projects:
        project.department = _clean_org(project.department) or filing.department
        if project.amount_wan is not None and state.scale_for(project) != 1:
            project.amount_wan = round(project.amount_wan * state.scale_for(project), 6)
        if doc.low_confidence:
            for indicator in project.indicators:
                indicator.low_confidence = True
    region = resolve_region(
        [name for name in [filing.department, *state.units] if name],
        [p.code for p in projects if p.code],
        filing.title,
    )
    filing.province, filing.city, filing.county, filing.adcode = (
        region.province,
        region.city,
        region.county,
        region.adcode,
    )
    filing.year = _year(filing.title, projects, doc)
    ends_document = (
        bool(doc.blocks) and bool(state.narrative) and doc.blocks[-1] is state.narrative[-1]
    )
    filing.sections = sections_from_paragraphs(state.narrative, state.restarts, ends_document)
    return filing


class _State:
    """Walks rows and paragraphs in order, building projects as it goes."""

    def __init__(self) -> None:
        self.projects: list[Project] = []
        self.units: list[str] = []  # implementing units named in header blocks
        self.narrative: list[Paragraph] = []
        self.restarts: set[int] = set()  # narrative indices where prose after a table begins
        self._prose_run: list[Paragraph] = []  # paragraphs since the last table, after one
        # labelled paragraphs ("项目名称：…") waiting to see whether a table follows them
        self._held: list[tuple[str, str, Paragraph]] = []
        self.roles: dict[int, str] | None = None  # column index → role, inside an indicator table
        self.level1_raw: str | None = None
        self.level2_raw: str | None = None
        self.money_scale = 1.0  # 元 filings: amounts × 1/10000
        self._scales: dict[int, float] = {}
        self._after_budget_row = False
        self._goal_open = False

    # -- projects -------------------------------------------------------
    @property
    def project(self) -> Project | None:
        return self.projects[-1] if self.projects else None

    def scale_for(self, project: Project) -> float:
        return self._scales.get(id(project), 1.0)

    def _new_project(self, page: int | None) -> Project:
        project = Project(name=None, page=page)
        self.projects.append(project)
        self._scales[id(project)] = self.money_scale
        self.roles = None
        self.level1_raw = self.level2_raw = None
        return project

    # -- rows -------------------------------------------------------------
    def table_row(self, row: list[str], page: int | None, filed: list[str] | None = None) -> None:
        """Read one row; ``filed`` is the row as the file has it (default ``row``), where
        a target value is taken from: the contract's value is the filing's text, trimmed."""
        cells = [_SPACES.sub(" ", c or "").strip() for c in row]
        filed = [(c or "").strip() for c in (row if filed is None else filed)]
        if not any(cells):
            return
        self.end_prose_run()
        held, self._held = self._held, []
        for label, value, block in held:  # a table follows: they were its header
            self.table_row([label, value], block.page)
        self._unit_from_cells(cells)
        if cut := labels.heading_start(cells):
            # a header row and the table's heading in one row: read them as two
            self.table_row(cells[:cut], page)
            cells, filed = cells[cut:], filed[cut:]
        if labels.is_indicator_header(cells):
            self._goal_open = False
            if self.project is None:
                self._new_project(page)
            self.roles = _roles(cells)
            return
        fields = _header_fields(cells)
        if fields:
            self._header_row(fields, cells, page)
            return
        if self._goal_open and self.project is not None and not cells[0] and self.project.goal:
            # The goal went on in the next row, under an empty label cell.
            self.project.goal += " " + " ".join(c for c in cells if c)
            return
        self._goal_open = False
        if self._after_budget_row and self.project is not None:
            self._after_budget_row = False
            texts = [c for c in cells if c]
            if len(texts) == 1 and not self.project.purpose and len(texts[0]) > 4:
                self.project.purpose = texts[0]
                return
        if self.roles is not None and self.project is not None:
            self._indicator_row(cells, filed, page)

    def release_held(self) -> None:
        """Prose came before a table: the held "项目名称：…" lines were narrative."""
        for _, _, block in self._held:
            if not self.projects:
                self.narrative.append(block)
        self._held = []

    def end_prose_run(self) -> None:
        """A table (or the end) closes the prose that followed the last table: keep its
        narrative, with a heading path of its own."""
        kept = prose_between_tables(self._prose_run)
        self._prose_run = []
        if kept:
            self.restarts.add(len(self.narrative))
            self.narrative.extend(kept)

    def _unit_from_cells(self, cells: list[str]) -> None:
        for cell in cells:
            match = _UNIT_LINE.search(cell)
            if match:
                self.money_scale = _MONEY_SCALE[match.group(1)]
            elif cell and self.roles is None and _ORG_CODE.match(cell) and _looks_like_org(cell):
                self.units.append(_clean_org(cell) or cell)

    def _header_row(
        self, fields: list[tuple[str, str]], cells: list[str], page: int | None
    ) -> None:
        starts = {"name", "code"}
        project = self.project
        for field, value in fields:
            if field in starts and (
                project is None or project.indicators or getattr(project, field) is not None
            ):
                project = self._new_project(page)
            if project is None:
                project = self._new_project(page)
            _set_field(project, field, value, self)
        self._after_budget_row = any("资金用途" in c for c in cells)
        self._goal_open = fields[-1][0] == "goal"

    def _indicator_row(self, cells: list[str], filed: list[str], page: int | None) -> None:
        assert self.roles is not None and self.project is not None
        if any(_SIGN_OFF.search(c) for c in cells):
            self.roles = None  # the sign-off block under the table: 审核意见, 日期 …
            return
        columns = _realigned(cells, self.roles) or _by_role(cells, self.roles)
        got = {role: cells[index] for role, index in columns.items()}
        if "value" in columns:
            got["value"] = filed[columns["value"]]
        if "level1" in got:
            if self.level1_raw != got["level1"]:
                self.level2_raw = None
            self.level1_raw = got["level1"]
        if "level2" in got:
            self.level2_raw = got["level2"]
        name = got.get("name")
        if not name:
            return  # a row holding only level labels, or an empty continuation
        value = _compose_value(got)
        target = parse_target(value)
        self.project.indicators.append(
            Indicator(
                level1=labels.canonical_level1(self.level1_raw) or self.level1_raw,
                level2=labels.canonical_level2(self.level2_raw) or self.level2_raw,
                level1_raw=self.level1_raw,
                level2_raw=self.level2_raw,
                name=name,
                description=got.get("description"),
                value=value,
                op=target.op,
                low=target.low,
                high=target.high,
                unit=target.unit,
                change=target.change,
                page=page,
            )
        )

    # -- paragraphs -------------------------------------------------------
    def paragraph(self, block: Paragraph) -> None:
        text = block.text.strip()
        match = _UNIT_LINE.search(text)
        if match:
            self.money_scale = _MONEY_SCALE[match.group(1)]
            # "预算单位：某某局      金额单位：万元": the filer may share the line
            text = re.sub(r"(金额|计量)?$", "", text[: match.start()]).strip()
            if not text:
                return
        labelled = _LABELLED.match(text)
        field = labels.project_field(labelled[1]) if labelled else None
        if self.project is None and field in ("unit", "department"):
            # "填报单位：某某局" above everything: the filer, not a project yet (a project
            # here would end the narrative that may follow)
            self.units.append(_clean_org(labelled[2]) or labelled[2])
            return
        if field in ("name", "code") or (field and self._held):
            # "项目名称：法律援助经费" typed as a paragraph: a header row if a table comes
            # before any prose (then it is replayed), else narrative that names a project
            self._held.append((labelled[1], labelled[2], block))
            return
        if (
            field
            and self.project is not None
            and not self.project.indicators
            and self.roles is None
        ):
            self.table_row([labelled[1], labelled[2]], block.page)  # more of its header
            return
        self.release_held()
        if match or (not self.projects and re.search(r"绩效目标表\s*$", text)):
            return  # a unit line, or the first table's title
        if self.projects:
            # after a table: titles, sign-offs and notes are sifted out when the run ends
            self._prose_run.append(block)
            return
        self.narrative.append(block)


def prose_between_tables(run: list[Paragraph]) -> list[Paragraph]:
    """The narrative among paragraphs that follow a project table: its title lines, sign-offs,
    notes (填报说明 … up to the next numbered heading), 附件 labels, filer lines and page
    numbers are the tables' furniture and are left out."""
    kept: list[Paragraph] = []
    in_notes = False
    texts = [block.text.strip() for block in run]
    for index, text in enumerate(texts):
        if _NOTES.match(text):
            in_notes = True
            continue
        if in_notes and _NUMBERED_HEADING.match(text):
            in_notes = False
        following = texts[index + 1] if index + 1 < len(texts) else ""
        if not in_notes and not _is_table_furniture(text, following):
            kept.append(run[index])
    return kept


def _is_table_furniture(text: str, following: str) -> bool:
    """Whether a line after a table belongs to the tables rather than to the narrative;
    ``following`` is the next line (a title may wrap onto it: "…资金绩" + "效目标表")."""
    if _TABLE_TITLE.search(text) and len(text) <= 80:
        return True
    wrapped_title = (
        0 < len(following) <= 6
        and _TABLE_TITLE.search(following)
        and not text.endswith(("。", "；", "！", "？"))
        and len(text) <= 80
    )
    if wrapped_title or _ATTACHMENT.match(text) or _PAGE_LINE.match(text):
        return True
    if _SIGN_OFF.search(text) or _CONTACT.search(text):
        return True
    labelled = _LABELLED.match(text)
    # "填报单位：临武县司法局" over the next table: the filer, not prose
    return bool(labelled) and labels.project_field(labelled[1]) in ("unit", "department")


def _roles(cells: list[str]) -> dict[int, str]:
    """Column index → role; the first column of each role, except that a year's target
    column (年度指标值) wins over the whole period's (实施期指标值) beside it."""
    roles: dict[int, str] = {}
    for index, cell in enumerate(cells):
        role = labels.column_role(cell)
        if role == "value" and "年度" in cell and "value" in roles.values():
            del roles[next(i for i, r in roles.items() if r == "value")]
        if role and role not in roles.values():
            roles[index] = role
    return roles


def _by_role(cells: list[str], roles: dict[int, str]) -> dict[str, int]:
    """Role → the index of its cell, by the heading's columns."""
    got = {role: index for index, role in roles.items() if index < len(cells) and cells[index]}
    # Shifted rows put the value past the last heading: take the last stray cell.
    if "value" not in got:
        stray = [i for i, c in enumerate(cells) if c and i not in roles]
        if stray:
            got["value"] = stray[-1]
    return got


def _level_kinds(cell: str) -> set[str]:
    """The level columns ``cell`` could stand in: 成本指标 fits both, 产出指标 the first."""
    cleaned = labels.clean_label(cell)
    # An indicator name may end in 满意度 too; a label out of place must look like one.
    coded = cleaned != _SPACES.sub("", cell)
    if not cell or not labels.is_level_label(cell) or not (coded or cleaned.endswith("指标")):
        return set()
    kinds = set()
    if labels.canonical_level2(cell) and cleaned not in _FIRST_LEVEL_ONLY:
        kinds.add("level2")
    if labels.canonical_level1(cell) and (cleaned in labels.LEVEL1 or "level2" not in kinds):
        kinds.add("level1")
    return kinds


def _realigned(cells: list[str], roles: dict[int, str]) -> dict[str, int] | None:
    """Re-read a row whose cells slid out of their columns, by what each cell says;
    role → the index of its cell.

    Text exports drop empty cells, so "22-社会效益 | | 规范执法程序 | 规范执行" puts a
    level-2 label under 一级指标. Level labels are recognisable; the other cells keep
    their order: name, then description (when the table has one), then value.
    """
    kinds = {index: _level_kinds(cell) for index, cell in enumerate(cells)}
    if not any(k and roles.get(i) not in k for i, k in kinds.items()):
        return None
    got: dict[str, int] = {}
    rest: list[int] = []
    for index, cell in enumerate(cells):
        free = [k for k in ("level1", "level2") if k in kinds[index] and k not in got]
        if free:
            got[roles[index] if roles.get(index) in free else free[-1]] = index
        elif cell:
            rest.append(index)
    order = [r for r in ("name", "description", "value") if r in roles.values()]
    if len(rest) < len(order) and "description" in order:
        order.remove("description")
    for role, index in zip(order, rest, strict=False):
        got[role] = index
    return got


def _header_fields(cells: list[str]) -> list[tuple[str, str]]:
    """(field, value) pairs from a header-block row: a label cell, then its value cell."""
    fields: list[tuple[str, str]] = []
    index = 0
    while index < len(cells):
        field = labels.project_field(cells[index])
        if field is None:
            index += 1
            continue
        value = ""
        label = cells[index]
        inline = _inline_value(cells[index], field)
        if inline:
            value = inline
        elif field == "goal":
            # A goal is the rest of its row, however many cells it was typed into.
            value = " ".join(c for c in cells[index + 1 :] if c)
            index = len(cells)
        else:
            for nxt in range(index + 1, len(cells)):
                if labels.project_field(cells[nxt]) is not None:
                    break
                if cells[nxt]:
                    value = cells[nxt]
                    index = nxt
                    break
        unit = _LABEL_UNIT.search(label) if field == "amount" else None
        if unit and value and not re.search(r"[万千亿]?元", value):
            value += unit.group(1)  # the label says the unit: 项目年度金额（元） | 260000
        fields.append((field, value))
        index += 1
    return fields


def _inline_value(cell: str, field: str) -> str:
    """The value written in the label cell itself ("项目名称 公共法律服务", "预算数 0.80")."""
    for fld, names in labels.PROJECT_FIELDS:
        if fld != field:
            continue
        compact = cell.strip()
        for name in names:
            if compact.startswith(name) and len(compact) > len(name):
                rest = compact[len(name) :].strip(" ：:")
                if rest and not rest.startswith(("及", "（", "(")):
                    return rest
    return ""


def _set_field(project: Project, field: str, value: str, state: _State) -> None:
    value = value.strip()
    if not value:
        return
    if field == "code":
        project.code = project.code or _SPACES.sub("", value)
    elif field == "name":
        project.name = project.name or _ENUM_PREFIX.sub("", value).strip()
    elif field == "department":
        project.department = project.department or _clean_org(value)
    elif field == "unit":
        state.units.append(_clean_org(value) or value)
    elif field == "amount":
        if project.amount_wan is None:
            project.amount_wan, stated = _amount(value)
            if stated:  # in 万元 already: a 单位 line above does not apply to it
                state._scales[id(project)] = 1.0
    elif field == "period":
        project.period = project.period or value
    elif field == "goal":
        project.goal = project.goal or value
    elif field == "purpose":
        project.purpose = project.purpose or value


def _amount(value: str) -> tuple[float | None, bool]:
    """(the amount in 万元, whether the value stated its unit) from a cell like
    "260,000元", "0.8万元" or "80"."""
    compact = value.replace(" ", "")
    match = _NUMBER.search(compact)
    if not match:
        return None, False
    number = float(match.group(0).replace(",", ""))
    if not math.isfinite(number):
        return None, False
    rest = compact[match.end() :]
    for unit in ("万元", "千元", "亿元", "亿", "元"):
        if rest.startswith(unit):
            return round(number * _MONEY_SCALE.get(unit, 1e4), 6), True
    return number, False


def _compose_value(got: dict[str, str]) -> str | None:
    """The target as written; operator, number and unit may sit in cells of their own."""
    value = got.get("value")
    if value is None:
        return None
    op, unit = got.get("op", ""), got.get("unit", "")
    if op and not re.match(r"^[<>=≥≤≧≦]", value) and re.match(r"^[<>=≥≤≧≦大小不等]", op):
        value = f"{op}{value}"
    if unit and unit not in value:
        value = f"{value}{unit}"
    return value


def _looks_like_org(text: str) -> bool:
    return bool(re.search(r"(局|委|办|院|厅|中心|所|站|部|会)(本级)?$", text.strip()))


def _clean_org(text: str | None) -> str | None:
    """ "018-平罗县司法局" / "315001乐亭县司法局本级" → the organisation's own name."""
    if not text:
        return None
    name = _ORG_CODE.sub("", _SPACES.sub("", text))
    # a unit code in brackets or after the name: "[130535]临西县司法局", "临西县司法局（130535）"
    name = re.sub(r"^[\[【（(]\d{3,9}[\]】）)]", "", name)
    name = re.sub(r"[\[【（(]?\d{3,9}[\]】）)]?$", "", name)
    name = re.sub(r"(本级|机关)$", "", name)
    return name or None


def _department(projects: list[Project], title: str | None, units: list[str]) -> str | None:
    """The filer: the department most header blocks name, else the title's organisation."""
    votes: Counter[str] = Counter()
    for project in projects:
        if project.department:
            votes[_clean_org(project.department) or ""] += 2
    for unit in units:
        cleaned = _clean_org(unit)
        if cleaned and _looks_like_org(cleaned):
            votes[cleaned] += 1
    if title and (org := _title_org(title)):
        votes[org] += 1
    votes.pop("", None)
    return votes.most_common(1)[0][0] if votes else None


def _title_org(title: str) -> str | None:
    """The organisation a title starts with, after its year: "2024年邢台市信都区司法局项目…"
    → 邢台市信都区司法局. A party committee reads on to its own office: 中共临西县委政法委员会,
    not 中共临西县委."""
    text = re.sub(r"^20\d{2}\s*年度?", "", _SPACES.sub("", _year_digits(title)))
    match = re.match(rf"^[{_CJK}]{{2,24}}?(?:{_ORG_ENDINGS})", text)
    if match is None:
        return None
    name = match.group(0)
    if re.search(r"[省市县区]委$", name):
        more = re.match(rf"^[{_CJK}]{{0,12}}?(?:{_ORG_ENDINGS})", text[len(name) :])
        if more:
            name += more.group(0)
    if text[len(name) :].startswith("办公室"):  # …委员会办公室
        name += "办公室"
    return name


def _names_indicator_tables(doc: RawDocument) -> bool:
    """Whether the document's prose names an indicator table's columns (一级指标 … 二级指标)."""
    prose = "\n".join(block.text for block in doc.blocks if isinstance(block, Paragraph))
    return "一级指标" in prose and "二级指标" in prose


def _org_lines(doc: RawDocument) -> list[str]:
    """Short lines at the top that are an organisation's name alone (the filer written
    above the title)."""
    found = []
    for block in doc.blocks[:5]:
        text = _SPACES.sub("", block.text) if isinstance(block, Paragraph) else ""
        if (
            re.fullmatch(rf"[{_CJK}]{{4,24}}", text)
            and re.search(f"(?:{_ORG_ENDINGS})$", text)
            and labels.project_field(text) is None  # not "主管部门 某某局"
        ):
            found.append(text)
    return found


def _title(doc: RawDocument) -> str | None:
    """The first heading that names the document type."""
    for block in doc.blocks[:40]:
        if not isinstance(block, Paragraph):
            continue
        # an OCR'd page comes as one block of lines: its first line may be the title
        for raw in (block.text, block.text.strip().split("\n", 1)[0]):
            text = _SPACES.sub(" ", raw).strip()
            if len(text) > 60 or re.match(r"^(第[一二三四五六七八九十]+部分|附件)", text):
                continue
            if re.search(r"绩效(目标|文本)|预算", text):
                return text
    return None


def _year_digits(text: str) -> str:
    """Full-width digits and a year in Chinese numerals (二〇二四年) as ASCII digits."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(
        r"[二〇零一三四五六七八九]{4}(?=\s*年)",
        lambda m: m.group(0).translate(_CN_DIGITS),
        text,
    )


def _year(title: str | None, projects: list[Project], doc: RawDocument) -> int | None:
    """Budget year: the title's, else the code's year digits, else the years projects name."""
    if title and (match := _YEAR.search(_year_digits(title))):
        return int(match.group(1))
    votes: Counter[int] = Counter()
    for project in projects:
        code = project.code or ""
        if re.match(r"^\d{8}", code) and 15 <= int(code[6:8]) <= 40:
            votes[2000 + int(code[6:8])] += 3
        for text in (project.name or "", project.goal or ""):
            for match in _YEAR.finditer(text):
                votes[int(match.group(1))] += 1
    if not votes:
        for block in doc.blocks:
            if isinstance(block, Paragraph):
                for match in _YEAR.finditer(block.text):
                    votes[int(match.group(1))] += 1
    return votes.most_common(1)[0][0] if votes else None
