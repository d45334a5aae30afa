"""Text filings: encodings detected, and layouts beyond the five seeds read the same way."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from indexer.errors import ReadError
from indexer.model import Paragraph, RawDocument, Table
from indexer.readers.text import decode_text, text_to_blocks
from indexer.reading import parse_file
from indexer.splitter import split_document

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "002_19f2a4c4a62c75e5.txt"


def _rows(filing_json: dict) -> list[tuple]:
    return [
        (i["level2"], i["name"], i["value"])
        for p in filing_json["projects"]
        for i in p["indicators"]
    ]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: t.encode("gb18030"),
        lambda t: t.encode("gbk", errors="ignore"),
        lambda t: codecs.BOM_UTF8 + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # with BOM
        lambda t: t.encode("utf-16-le"),  # without BOM
        lambda t: t.encode("utf-16-be"),
    ],
    ids=["gb18030", "gbk", "utf-8-bom", "utf-16", "utf-16-le", "utf-16-be"],
)
@pytest.mark.parametrize("seed", sorted((ROOT / "corpus").glob("*.txt")), ids=lambda p: p.name[:3])
def test_encodings_are_detected(tmp_path: Path, encode, seed: Path) -> None:
    """Chinese-heavy UTF-16 without a BOM has few NULs (one per line break or digit)."""
    text = seed.read_text(encoding="utf-8")
    if text.encode("gbk", errors="ignore").decode("gbk") != text and encode(text) == text.encode(
        "gbk", errors="ignore"
    ):
        pytest.skip("the filing has characters GBK lacks")
    path = tmp_path / "seed.txt"
    path.write_bytes(encode(text))
    assert decode_text(path.read_bytes()).replace("\ufeff", "") == text
    assert _rows(parse_file(path).to_json()) == _rows(parse_file(seed).to_json())


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"   \n\n", "empty"), (bytes(range(256)) * 8, "not a text file")],
)
def test_undecodable_text_is_refused(data: bytes, reason: str) -> None:
    with pytest.raises(ReadError, match=reason):
        decode_text(data)


def _filing(rows: list[list[str]]) -> dict:
    doc = RawDocument(source="test", blocks=[Table(rows=rows)])
    return split_document(doc).to_json()


@pytest.mark.parametrize(
    ("above", "row", "amount"),
    [
        ([], ["项目年度金额（元）", "260000"], 26.0),  # the unit in the label
        ([], ["预算数(元)", "260,000.00"], 26.0),
        ([], ["资金总额（万元）", "26"], 26.0),
        ([], ["年度金额", "260000元"], 26.0),
        ([["单位：元"]], ["年度金额", "260000"], 26.0),  # a unit line above the table
        ([["单位：元"]], ["年度金额", "26万元"], 26.0),  # the value's own unit wins
        ([], ["年度金额", "9" * 400 + "元"], None),  # past a float's range: not a number
    ],
)
def test_amounts_in_yuan_become_wan(
    above: list[list[str]], row: list[str], amount: float | None
) -> None:
    filing = _filing(
        [
            *above,
            ["项目名称", "社区矫正经费", "主管部门", "某某区司法局"],
            row,
            ["一级指标", "二级指标", "三级指标", "指标值"],
            ["产出指标", "数量指标", "矫正对象人数", "≥120人"],
        ]
    )
    assert filing["projects"][0]["amount_wan"] == (
        pytest.approx(amount) if amount is not None else None
    )


def test_text_before_any_heading_has_a_null_heading() -> None:
    sections = parse_file(ROOT / "corpus" / "004_18f1d064e5796ee8.txt").to_json()["sections"]
    assert sections[0]["heading"] is None
    assert all(section["heading"] != "" for section in sections)


def test_scores_in_labels_and_cost_as_first_level() -> None:
    filing = _filing(
        [
            ["项目名称", "社区矫正经费", "主管部门", "某某区司法局"],
            ["年度金额", "350000元"],
            ["一级指标", "二级指标", "三级指标", "指标值"],
            ["产出指标(50分)", "数量指标(20分)", "矫正对象人数", "≥120人"],
            ["成本指标(20分)", "经济成本指标", "人均培训费用", "≤350元/人"],
            ["效益指标（20分）", "社会效益指标", "再犯罪率", "≤0.2%"],
        ]
    )
    (project,) = filing["projects"]
    assert project["amount_wan"] == pytest.approx(35.0)  # 元 converted to 万元
    levels = [(i["level1"], i["level2"], i["level1_raw"]) for i in project["indicators"]]
    assert levels == [
        ("产出指标", "数量指标", "产出指标(50分)"),
        ("成本指标", "成本指标", "成本指标(20分)"),
        ("效益指标", "社会效益指标", "效益指标（20分）"),
    ]


def test_operator_number_and_unit_in_cells_of_their_own() -> None:
    filing = _filing(
        [
            ["项目名称", "普法宣传"],
            ["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位"],
            ["产出指标", "数量指标", "宣传场次", "≥", "10", "场"],
            ["", "质量指标", "知晓率", "大于等于", "98", "%"],
        ]
    )
    indicators = filing["projects"][0]["indicators"]
    assert [(i["value"], i["op"], i["low"], i["unit"]) for i in indicators] == [
        ("≥10场", ">=", 10.0, "场"),
        ("大于等于98%", ">=", 98.0, "%"),
    ]


def test_other_value_headings_are_understood() -> None:
    filing = _filing(
        [
            ["项目名称", "法律援助"],
            ["一级指标", "二级指标", "三级指标", "数量值"],
            ["产出指标", "数量指标", "案件数", "≥150件"],
        ]
    )
    indicator = filing["projects"][0]["indicators"][0]
    assert (indicator["value"], indicator["op"], indicator["low"]) == ("≥150件", ">=", 150.0)


def test_amount_in_yuan_from_the_unit_line() -> None:
    text = "单位：元\n项目名称\t办公楼维修\n项目年度金额\t1835900\n"
    text += "一级指标\t二级指标\t三级指标\t指标值\n产出指标\t数量指标\t维修面积\t≥2500平方米\n"
    filing = split_document(RawDocument(source="t", blocks=text_to_blocks(text))).to_json()
    assert filing["projects"][0]["amount_wan"] == pytest.approx(183.59)


def test_cell_per_line_layout_with_wrapped_cell() -> None:
    text = "\n".join(
        [
            "\t项目名称", "\t普法经费", "",
            "\t本年度", "绩效指标", "\t一级指标", "\t二级指标", "\t三级指标", "\t指标值", "",
            "\t", "\t产出指标", "\t数量指标", "\t宣传场次", "\t≥10次", "",
            "\t", "\t", "\t质量指标", "\t知晓率", "\t≥95%", "",
        ]
    )  # fmt: skip
    filing = split_document(RawDocument(source="t", blocks=text_to_blocks(text))).to_json()
    assert _rows(filing) == [("数量指标", "宣传场次", "≥10次"), ("质量指标", "知晓率", "≥95%")]


def test_unknown_level_label_is_kept_raw() -> None:
    filing = _filing(
        [
            ["项目名称", "试点"],
            ["一级指标", "二级指标", "三级指标", "指标值"],
            ["产出指标", "覆盖指标", "覆盖乡镇", "≥5个"],
        ]
    )
    indicator = filing["projects"][0]["indicators"][0]
    assert (indicator["level2"], indicator["level2_raw"]) == ("覆盖指标", "覆盖指标")


# -- shapes found by the parser QA pass (2026-11-23) ---------------------------------


TABLE = "一级指标\t二级指标\t三级指标\t指标值\n产出指标\t数量指标\t案件数\t≥300件\n"


def _parsed_text(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "filing.txt"
    path.write_text(text, encoding="utf-8")
    return parse_file(path).to_json()


@pytest.mark.parametrize(
    "line",
    [
        "项目名称 测试 一级指标 二级指标",
        "项目名称  法律援助经费  一级指标  二级指标  三级指标  指标值",
    ],
)
def test_a_header_and_the_table_heading_on_one_line_are_read_as_two(
    tmp_path: Path, line: str
) -> None:
    """Such a line once sent the wrapped-text reader round the same line for ever."""
    filing = _parsed_text(tmp_path, f"2024年临西县司法局项目支出绩效目标表\n{line}\n")
    assert filing["projects"][0]["name"] in ("测试", "法律援助经费")
    spaced = _parsed_text(
        tmp_path,
        f"2024年临西县司法局项目支出绩效目标表\n{line}\n产出指标  数量指标  案件数  ≥300件\n",
    )
    if "指标值" in line:
        (indicator,) = spaced["projects"][0]["indicators"]
        assert (indicator["name"], indicator["low"], indicator["unit"]) == ("案件数", 300, "件")


def test_notes_after_the_last_wrapped_table_leave_it_as_it_was(tmp_path: Path) -> None:
    seed = ROOT / "corpus" / "000_c108e284426fe8e6.txt"
    notes = (
        "\n\n填报说明：\n\n1.本表由项目实施单位填报，经主管部门审核后报同级财政部门。\n\n"
        "联系人：王明 联系电话：0319-8888888\n"
    )
    with_notes = _parsed_text(tmp_path, seed.read_text(encoding="utf-8").rstrip("\n") + notes)
    assert _rows(with_notes) == _rows(parse_file(seed).to_json())


def _paragraph_project(name: str, amount: str, indicator: str, value: str) -> list:
    """A project typed as "项目名称：…" and "项目金额：…" paragraphs over its table."""
    heading = ["一级指标", "二级指标", "三级指标", "指标值"]
    return [
        Paragraph(f"项目名称：{name}"),
        Paragraph(f"项目金额：{amount}"),
        Table(rows=[heading, ["产出指标", "数量指标", indicator, value]]),
    ]


def test_project_headers_typed_as_paragraphs_start_their_projects() -> None:
    doc = RawDocument(
        source="test",
        blocks=[
            Paragraph("2024年临西县司法局项目支出绩效目标表"),
            *_paragraph_project("法律援助经费", "26.5万元", "案件数", "≥300件"),
            *_paragraph_project("普法宣传经费", "12万元", "宣传场次", "≥20场"),
        ],
    )
    projects = split_document(doc).to_json()["projects"]
    assert [(p["name"], p["amount_wan"], len(p["indicators"])) for p in projects] == [
        ("法律援助经费", 26.5, 1),
        ("普法宣传经费", 12.0, 1),
    ]


@pytest.mark.parametrize(
    "top",
    [
        "2024年河北省邢台市信都区司法局项目支出绩效目标表",
        "2024年项目支出绩效目标表\n填报单位：邢台市信都区司法局",
        "2024年项目支出绩效目标表\n填报单位（盖章）：邢台市信都区司法局",
        "2024年项目支出绩效目标表\n单位名称：邢台市信都区司法局",
        "2024年项目支出绩效目标表\n预算单位：邢台市信都区司法局          金额单位：万元",
        "2024年项目支出绩效目标表\n部门名称：邢台市信都区司法局",
        "2024年项目支出绩效目标表\n主管部门：邢台市信都区司法局",
        "邢台市信都区司法局\n2024年项目支出绩效目标表",
        "2024年邢台市信都区司法局部门预算\n项目支出绩效目标表",
    ],
)
def test_the_filer_is_found_where_filings_name_it(tmp_path: Path, top: str) -> None:
    filing = _parsed_text(
        tmp_path,
        f"{top}\n项目名称\t测试项目\n项目年度金额（万元）\t60\n" + TABLE,
    )
    assert filing["department"] in ("邢台市信都区司法局", "河北省邢台市信都区司法局")
    assert (filing["county"], filing["year"]) == ("信都区", 2024)


@pytest.mark.parametrize(
    ("title", "department"),
    [
        ("中共临西县委政法委员会2023年部门预算", "中共临西县委政法委员会"),
        ("中共临西县委宣传部部门预算绩效目标", "中共临西县委宣传部"),
        ("中共临武县委全面依法治县委员会办公室部门预算", "中共临武县委全面依法治县委员会办公室"),
        ("临武县妇女联合会2024年预算", "临武县妇女联合会"),
        ("临西县第一中学部门预算", "临西县第一中学"),
    ],
)
def test_a_title_s_organisation_is_read_whole(tmp_path: Path, title: str, department: str) -> None:
    filing = _parsed_text(
        tmp_path,
        f"{title}\n项目名称\t测试项目\n" + TABLE,
    )
    assert filing["department"] == department


@pytest.mark.parametrize(
    "cell", ["临西县司法局 130535", "[130535]临西县司法局", "临西县司法局（130535）"]
)
def test_unit_codes_beside_a_department_are_left_out(tmp_path: Path, cell: str) -> None:
    filing = _parsed_text(
        tmp_path,
        f"项目支出绩效目标表\n项目名称\t测试项目\n主管部门及代码\t{cell}\n" + TABLE,
    )
    assert filing["projects"][0]["department"] == "临西县司法局"


@pytest.mark.parametrize(
    ("label", "field"),
    [
        *[
            (label, "amount")
            for label in (
                "年度预算数（万元）",
                "项目预算（万元）",
                "预算金额（万元）",
                "项目资金（万元）",
                "本年预算金额",
            )
        ],
        *[(label, "goal") for label in ("年度总体目标", "年度目标", "项目绩效目标")],
    ],
)
def test_more_header_labels(tmp_path: Path, label: str, field: str) -> None:
    value = "60" if field == "amount" else "完成全年工作任务。"
    filing = _parsed_text(
        tmp_path,
        f"项目支出绩效目标表\n项目名称\t测试项目\n{label}\t{value}\n" + TABLE,
    )
    project = filing["projects"][0]
    assert (project["amount_wan"] == 60.0) if field == "amount" else (project["goal"] == value)


@pytest.mark.parametrize(
    ("columns", "cells", "description", "value"),
    [
        # a description column beside the target is not the target
        ("指标值说明\t指标值", "全年累计\t≥1200人", "全年累计", "≥1200人"),
        ("指标值（说明）\t指标值", "全年累计\t≥1200人", "全年累计", "≥1200人"),
        # a year's target column wins over the whole period's
        ("实施期指标值\t年度指标值", "≥2000件\t≥600件", None, "≥600件"),
    ],
)
def test_which_column_holds_the_target(
    tmp_path: Path, columns: str, cells: str, description: str | None, value: str
) -> None:
    filing = _parsed_text(
        tmp_path,
        f"项目支出绩效目标表\n项目名称\t甲\n一级指标\t二级指标\t三级指标\t{columns}\n"
        f"产出指标\t数量指标\t培训人数\t{cells}\n",
    )
    (indicator,) = filing["projects"][0]["indicators"]
    assert (indicator["description"], indicator["value"]) == (description, value)


def test_old_mac_line_endings_are_line_endings(tmp_path: Path) -> None:
    text = "2024年临西县司法局项目支出绩效目标表\n项目名称\t法律援助经费\n" + TABLE
    filing = _parsed_text(tmp_path, text.replace("\n", "\r"))
    assert [p["name"] for p in filing["projects"]] == ["法律援助经费"]
    assert len(filing["projects"][0]["indicators"]) == 1


@pytest.mark.parametrize("year", ["二〇二四", "２０２４"])
def test_a_title_year_in_chinese_numerals_or_full_width(tmp_path: Path, year: str) -> None:
    filing = _parsed_text(
        tmp_path, f"{year}年临西县司法局项目支出绩效目标表\n项目名称\t2023年遗留案件补助\n" + TABLE
    )
    assert filing["year"] == 2024


def test_a_filer_line_above_the_narrative_keeps_the_narrative() -> None:
    doc = RawDocument(
        source="test",
        blocks=[
            Paragraph("2024年部门整体支出绩效目标"),
            Paragraph("填报单位：临西县司法局"),
            Paragraph("一、部门职责"),
            Paragraph("负责全县社区矫正、人民调解和法律援助工作，组织开展普法宣传。"),
        ],
    )
    filing = split_document(doc).to_json()
    assert filing["department"] == "临西县司法局" and filing["projects"] == []
    assert any("社区矫正" in section["text"] for section in filing["sections"])


def test_indicator_headings_that_are_not_read_as_a_table_are_reported() -> None:
    lines = [
        "项目支出绩效目标表",
        "一级指标 二级指标 三级指标 指标值",
        "产出指标 数量指标 案件数 ≥300件",
    ]
    filing = split_document(RawDocument("test", [Paragraph(line) for line in lines])).to_json()
    assert filing["projects"] == []
    assert any("no rows read as a table" in warning for warning in filing["warnings"])


def test_columns_aligned_with_spaces_are_columns(tmp_path: Path) -> None:
    text = (
        "2024年临西县司法局项目支出绩效目标表\n"
        "项目名称        法律援助经费\n"
        "一级指标      二级指标          三级指标            指标值\n"
        "产出指标      数量指标          法律援助案件数      ≥300件\n"
        "产出指标      成本指标          案件补贴标准        2500元/次\n"
        "满意度指标    服务对象满意度指标  参训人员满意度      100%\n"
    )
    (project,) = _parsed_text(tmp_path, text)["projects"]
    assert project["name"] == "法律援助经费"
    got = [(i["level2"], i["name"], i["op"], i["low"], i["unit"]) for i in project["indicators"]]
    assert got == [
        ("数量指标", "法律援助案件数", ">=", 300, "件"),
        ("成本指标", "案件补贴标准", "=", 2500, "元/次"),
        ("服务对象满意度指标", "参训人员满意度", "=", 100, "%"),
    ]


def test_a_project_named_in_the_narrative_is_narrative() -> None:
    """ "项目名称：…" followed by prose, not by a table, stays text (it once became an
    empty project that hid the narrative after it)."""
    doc = RawDocument(
        source="test",
        blocks=[
            Paragraph("2024年临西县司法局部门预算说明"),
            Paragraph("一、重点项目说明"),
            Paragraph("项目名称：法律援助经费"),
            Paragraph("该项目用于保障困难群众获得法律援助。"),
            Paragraph("二、绩效目标表"),
            *_paragraph_project("法律援助经费", "26.5万元", "案件数", "≥300件"),
        ],
    )
    filing = split_document(doc).to_json()
    assert [(p["name"], p["amount_wan"]) for p in filing["projects"]] == [("法律援助经费", 26.5)]
    text = " ".join(section["text"] for section in filing["sections"])
    assert "项目名称：法律援助经费" in text and "保障困难群众" in text


def test_a_full_width_year_before_the_filer(tmp_path: Path) -> None:
    filing = _parsed_text(
        tmp_path, "２０２４年度临西县司法局项目支出绩效目标表\n项目名称\t测试\n" + TABLE
    )
    assert (filing["year"], filing["department"]) == (2024, "临西县司法局")


QA = ROOT / "tests" / "fixtures" / "qa"


def _sections(filing_json: dict) -> list[tuple[str | None, str]]:
    return [(s["heading"], s["text"]) for s in filing_json["sections"]]


def test_prose_after_a_project_table_is_narrative() -> None:
    """QA's narr_after_table.txt: the headed prose under the table was dropped."""
    filing = parse_file(QA / "narr_after_table.txt").to_json()
    assert [len(p["indicators"]) for p in filing["projects"]] == [2]
    assert _sections(filing) == [
        ("一、总体绩效目标", "这是一段叙述，刑满释放人员安置帮教工作全面推进。"),
        ("二、保障措施", "加强组织领导，落实经费保障。"),
    ]


def _project_table(name: str) -> Table:
    return Table(
        rows=[
            ["项目名称", name, "", ""],
            ["一级指标", "二级指标", "三级指标", "指标值"],
            ["产出指标", "数量指标", "案件数", "≥300件"],
        ]
    )


def test_titles_sign_offs_and_notes_between_tables_are_not_narrative() -> None:
    blocks = [
        Paragraph("1、法律援助经费绩效目标表"),
        _project_table("法律援助经费"),
        Paragraph("填表人：          联系电话：          填报日期："),
        Paragraph("填报单位：（盖章）"),
        Paragraph("填报说明："),
        Paragraph("1.本表由项目实施单位填报，经主管部门审核后报同级财政部门。"),
        Paragraph("联系人：王明"),
        Paragraph("- 3 -"),
        Paragraph("第 4 页 共 9 页"),
        Paragraph("附件5-2"),
        Paragraph("6.冀财政法〔2022〕29 号下达 2022 年第二批中央政法转移支付资金绩"),
        Paragraph("效目标表"),
        Paragraph("5、法律职业资格考试成绩目标表"),
        Paragraph("填报单位：临武县司法局"),
        _project_table("普法宣传经费"),
        Paragraph("注：本表金额单位为万元。"),
        Paragraph("一、总体绩效目标"),
        Paragraph("全面推进刑满释放人员安置帮教工作。"),
    ]
    filing = split_document(RawDocument("test", blocks)).to_json()
    assert [p["name"] for p in filing["projects"]] == ["法律援助经费", "普法宣传经费"]
    assert _sections(filing) == [("一、总体绩效目标", "全面推进刑满释放人员安置帮教工作。")]


def test_prose_after_a_table_does_not_inherit_the_heading_before_it() -> None:
    blocks = [
        Paragraph("三、工作保障措施"),
        Paragraph("落实经费保障。"),
        _project_table("法律援助经费"),
        Paragraph("本项目资金专款专用。"),
    ]
    filing = split_document(RawDocument("test", blocks)).to_json()
    assert _sections(filing) == [
        ("三、工作保障措施", "落实经费保障。"),
        (None, "本项目资金专款专用。"),
    ]


def test_a_target_value_is_the_filing_s_text_only_trimmed() -> None:
    """A converter's wrap space comes out of a name ("服务对象 满意度"), not out of a
    target: the contract's value is the filing's own text, whitespace-trimmed."""
    text = (
        "项目名称\t普法宣传\n"
        "一级指标\t二级指标\t三级指标\t指标值\n"
        "产出指标\t数量指标\t案件 数量\t 同比 下降 5 % \n"
        "\t质量指标\t结案率\t≥95%\n"
        "满意度指标\t服务对象 满意度\t群众满意度\t≥ 90  百分比\n"
    )
    filing = split_document(RawDocument(source="t", blocks=text_to_blocks(text))).to_json()
    assert _rows(filing) == [
        ("数量指标", "案件数量", "同比 下降 5 %"),
        ("质量指标", "结案率", "≥95%"),
        ("服务对象满意度指标", "群众满意度", "≥ 90  百分比"),
    ]
    first = filing["projects"][0]["indicators"][0]
    assert (first["op"], first["low"], first["unit"], first["change"]) == ("=", 5, "%", "decrease")
