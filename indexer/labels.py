"""The vocabulary of performance tables: indicator levels and column headings.

Filings word the same thing many ways ("1-产出指标", "产出指标(50分)", "效果指标",
"21-经济效益"); everything here maps those to the canonical labels of the
interfaces note while the raw words are kept by the caller.
"""

from __future__ import annotations

import re

LEVEL1 = ("产出指标", "效益指标", "满意度指标", "成本指标")
LEVEL2 = (
    "数量指标",
    "质量指标",
    "时效指标",
    "成本指标",
    "经济效益指标",
    "社会效益指标",
    "生态效益指标",
    "可持续影响指标",
    "服务对象满意度指标",
)

# Checked in order: the first stem found in the cleaned label wins, so longer,
# more specific stems come first ("服务对象满意度" before "满意度").
_LEVEL1_STEMS = (
    ("满意度", "满意度指标"),
    ("产出", "产出指标"),
    ("效益", "效益指标"),
    ("效果", "效益指标"),
    ("成本", "成本指标"),
)
_LEVEL2_STEMS = (
    ("服务对象满意", "服务对象满意度指标"),
    ("满意度", "服务对象满意度指标"),
    ("经济效益", "经济效益指标"),
    ("社会效益", "社会效益指标"),
    ("生态效益", "生态效益指标"),
    ("可持续", "可持续影响指标"),
    ("数量", "数量指标"),
    ("质量", "质量指标"),
    ("时效", "时效指标"),
    ("进度", "时效指标"),
    ("成本", "成本指标"),
)

_CODE_PREFIX = re.compile(r"^\s*[0-9A-Za-z]{1,4}\s*[-－.、．]\s*")
_SCORE_SUFFIX = re.compile(r"[（(]\s*\d+(?:\.\d+)?\s*分\s*[）)]\s*$")
_SPACES = re.compile(r"\s+")


def clean_label(raw: str) -> str:
    """Strip codes ("14-"), scores ("(50分)") and spaces from a level label."""
    text = _SPACES.sub("", raw or "")
    text = _CODE_PREFIX.sub("", text)
    return _SCORE_SUFFIX.sub("", text)


def _canonical(raw: str | None, stems: tuple[tuple[str, str], ...]) -> str | None:
    if not raw or not raw.strip():
        return None
    text = clean_label(raw)
    if len(text) > 16:  # a sentence, not a label
        return None
    for stem, label in stems:
        if stem in text:
            return label
    return None


def canonical_level1(raw: str | None) -> str | None:
    """Canonical first-level label for ``raw``, or None when it names none."""
    return _canonical(raw, _LEVEL1_STEMS)


def canonical_level2(raw: str | None) -> str | None:
    """Canonical second-level label for ``raw``, or None when it names none."""
    return _canonical(raw, _LEVEL2_STEMS)


def is_level_label(text: str) -> bool:
    """True when ``text`` reads as a level label of either kind."""
    cleaned = clean_label(text)
    return (
        bool(cleaned)
        and cleaned.endswith(("指标", "效益", "影响", "满意度"))
        and (canonical_level1(text) is not None or canonical_level2(text) is not None)
    )


# Column roles of an indicator table, recognised from its heading row.
COLUMN_ROLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("level1", ("一级指标",)),
    ("level2", ("二级指标",)),
    ("name", ("三级指标", "指标名称", "绩效指标名称")),
    ("op", ("指标方向", "指标性质", "运算符号", "符号")),
    ("unit", ("度量单位", "计量单位", "指标单位")),
    ("basis", ("指标值确定依据", "确定依据", "备注", "评分标准", "分值", "权重")),
    (
        "description",
        (
            "绩效指标描述",
            "指标描述",
            "指标内容",
            "绩效标准",
            "指标解释",
            "指标值说明",
            "指标说明",
            "（说明）",
            "(说明)",
        ),
    ),
    (
        "value",
        (
            "指标值及单位",
            "指标值",
            "绩效值",
            "目标值",
            "年度指标值",
            "产出值",
            "数量值",
            "标准值",
            "预期值",
        ),
    ),
)


def column_role(heading: str) -> str | None:
    """The role of an indicator-table column from its heading text."""
    text = _SPACES.sub("", heading or "")
    if not text:
        return None
    for role, names in COLUMN_ROLES:
        if any(name in text for name in names):
            return role
    return None


def heading_start(cells: list[str]) -> int:
    """Where an indicator table's heading begins in a row that opens with a project
    header label ("项目名称 | 法律援助经费 | 一级指标 | 二级指标 …"); 0 when it does not."""
    if not cells or project_field(cells[0]) is None or not is_indicator_header(cells):
        return 0
    return next((i for i, cell in enumerate(cells) if column_role(cell)), 0)


def is_indicator_header(cells: list[str]) -> bool:
    """True for the heading row of an indicator table (一级指标 | 二级指标 | 三级指标 …)."""
    roles = {column_role(c) for c in cells}
    return "level1" in roles and ("level2" in roles or "name" in roles)


# Labels of the project header block, mapped to the project field they fill.
PROJECT_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("code", ("项目编码", "项目编号", "项目代码")),
    ("name", ("项目名称", "专项资金名称", "项目支出名称", "专项名称")),
    ("department", ("主管部门", "预算部门", "主管单位")),
    # the filer named above the tables ("填报单位（盖章）：…") counts as an implementing unit
    ("unit", ("实施单位", "执行单位", "填报单位", "单位名称", "预算单位", "部门名称", "编报单位")),
    (
        "amount",
        (
            "项目年度金额",
            "年度本级预算金额",
            "年度资金总额",
            "年度金额",
            "预算数",
            "资金总额",
            "项目金额",
            "年度预算数",
            "本年预算金额",
            "预算金额",
            "项目预算",
            "项目总金额",
            "项目资金",
            "申报金额",
            "预算安排",
        ),
    ),
    ("period", ("项目期限", "项目支出实施期", "实施期限", "项目周期")),
    (
        "goal",
        (
            "年度总体绩效目标",
            "本年度绩效目标",
            "年度绩效目标",
            "绩效目标",
            "总体目标",
            "年度总体目标",
            "年度目标",
            "项目绩效目标",
        ),
    ),
    ("purpose", ("资金用途", "项目概况", "项目内容")),
)


def project_field(label: str) -> str | None:
    """The project field a header-block label fills, or None."""
    text = _SPACES.sub("", label or "")
    if not text or len(text) > 14:
        return None
    for fld, names in PROJECT_FIELDS:
        if any(text.startswith(name) or text == name for name in names):
            return fld
    return None
