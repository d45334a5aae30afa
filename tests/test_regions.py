"""Tests for indexer.regions: codes, filer names, and combining them."""

from __future__ import annotations

import re

import pytest

from indexer import regions
from indexer.regions import (
    STEM_STOPLIST,
    Region,
    former_names,
    region_from_code,
    region_from_name,
    resolve_region,
    short_region_name,
)

# The five seed filings: (filer, project codes, expected region).
SEEDS = [
    ("临西县司法局", ["13053523P00000110252K"], Region("河北省", "邢台市", "临西县", "130535")),
    ("乐亭县司法局", ["13022524P000R2410016N"], Region("河北省", "唐山市", "乐亭县", "130225")),
    ("平罗县司法局", [], Region("宁夏回族自治区", "石嘴山市", "平罗县", "640221")),
    ("承德市司法局", ["13080021E8ZS3LW79FSG0"], Region("河北省", "承德市", None, "130800")),
    ("临武县司法局", [], Region("湖南省", "郴州市", "临武县", "431025")),
]


@pytest.mark.parametrize(("filer", "codes", "expected"), SEEDS)
def test_seed_filings(filer: str, codes: list[str], expected: Region) -> None:
    assert resolve_region([filer], codes) == expected


@pytest.mark.parametrize(("filer", "codes", "expected"), SEEDS)
def test_seed_names_alone(filer: str, codes: list[str], expected: Region) -> None:
    assert region_from_name(filer) == expected


@pytest.mark.parametrize(
    ("code", "adcode", "county"),
    [
        ("13053523P0000011025 2K", "130535", "临西县"),
        ("13080021E8ZS3LW79FSG0", "130800", None),  # first six digits are the city itself
        ("13022524P000R2410016N", "130225", "乐亭县"),
        ("640221", "640221", "平罗县"),
        ("13089999X", "130800", None),  # 130899 is no division: fall back to 1308 → 承德市
    ],
)
def test_region_from_code(code: str, adcode: str, county: str | None) -> None:
    region = region_from_code(code)
    assert region is not None
    assert region.adcode == adcode
    assert region.county == county


@pytest.mark.parametrize("code", ["", "ABC123", "9", "990000", "99999912"])
def test_region_from_code_rejects_non_divisions(code: str) -> None:
    assert region_from_code(code) is None


def test_old_code_maps_to_successor() -> None:
    # 130521 was 邢台县 until 2020; a 项目编码 from before then still resolves.
    assert region_from_code("13052119A0001") == Region("河北省", "邢台市", "信都区", "130503")


def test_renamed_county_resolves_to_current_division() -> None:
    expected = Region("河北省", "邢台市", "信都区", "130503")
    assert region_from_name("邢台县司法局") == expected
    assert resolve_region(["邢台县司法局"], []) == expected
    assert {"邢台县", "桥西区"} <= set(former_names("130503"))


def test_renamed_in_place_needs_context() -> None:
    # 邢台's 桥东区 is now 襄都区 (same code); 张家口 still has a 桥东区.
    assert region_from_name("邢台市桥东区司法局") == Region("河北省", "邢台市", "襄都区", "130502")
    assert region_from_name("张家口市桥东区司法局").adcode == "130702"
    # Both are in Hebei: without a hint only the province is certain.
    assert region_from_name("桥东区司法局") == Region("河北省", None, None, "130000")


def test_ambiguous_county_without_hint() -> None:
    # 新华区 exists in 石家庄, 沧州, 平顶山 …: no county, and no common province.
    region = resolve_region(["新华区司法局"], [])
    assert region.county is None
    assert region.adcode is None


def test_ambiguous_county_with_code_hint() -> None:
    assert resolve_region(["新华区司法局"], ["13090221P0001"]) == Region(
        "河北省", "沧州市", "新华区", "130902"
    )
    assert resolve_region(["新华区司法局"], ["13010521P0001"]).adcode == "130105"


def test_ambiguous_county_with_explicit_hint() -> None:
    hint = Region("河南省", None, None, "410000")
    region = region_from_name("新华区司法局", hint)
    assert region is not None
    assert (region.province, region.city, region.county) == ("河南省", "平顶山市", "新华区")
    # Province in the name narrows as well.
    assert region_from_name("河北省新华区").county is None
    assert region_from_name("河北省新华区", Region("河北省", "沧州市", None, "130900")).adcode == (
        "130902"
    )


def test_code_only() -> None:
    assert resolve_region([], ["13022524P000R2410016N"]) == Region(
        "河北省", "唐山市", "乐亭县", "130225"
    )
    assert resolve_region(["某某单位"], ["64022119X"]).county == "平罗县"


def test_not_a_place() -> None:
    assert region_from_name("司法局") is None
    assert region_from_name("公安局") is None
    assert region_from_name("中山大学") is None
    assert resolve_region(["司法局"], [], "部门预算绩效文本") == Region(None, None, None, None)
    assert resolve_region([], []) == Region()


def test_name_wins_over_conflicting_code() -> None:
    # A code prefix that happens to be another division does not override the filer.
    region = resolve_region(["平罗县司法局"], ["13053523P0000011025"])
    assert region.adcode == "640221"


def test_city_level_filer_is_not_deepened_by_code() -> None:
    region = resolve_region(["邢台市司法局"], ["13053523P0000011025"])
    assert region == Region("河北省", "邢台市", None, "130500")


def test_only_given_text_is_used() -> None:
    # A narrative mentioning places is not a filer name: nothing starts with a place.
    narrative = "为推进平罗县、临西县和承德市的法治宣传，本单位开展……"
    assert resolve_region([narrative], []) == Region()
    # The title is used only when given, and only its start.
    assert resolve_region([], [], "承德市司法局 2021 年部门预算绩效文本").adcode == "130800"
    assert resolve_region([], [], "关于临西县的说明").adcode is None


@pytest.mark.parametrize(
    ("text", "adcode"),
    [
        ("018-平罗县司法局", "640221"),
        ("承德市司法局 2021 年部门预算绩效文本", "130800"),
        ("2021年承德市司法局", "130800"),
        ("河北省邢台市临西县司法局", "130535"),
        ("中共临西县委宣传部", "130535"),
        ("临西司法局", "130535"),  # suffix dropped, unique stem, department follows
        ("公安县公安局", "421022"),
    ],
)
def test_name_forms(text: str, adcode: str) -> None:
    region = region_from_name(text)
    assert region is not None
    assert region.adcode == adcode


def test_municipality_convention() -> None:
    assert region_from_name("北京市司法局") == Region("北京市", "北京市", None, "110000")
    assert region_from_name("北京市海淀区司法局") == Region("北京市", "北京市", "海淀区", "110108")
    assert region_from_code("500229") == Region("重庆市", "重庆市", "城口县", "500229")
    # 渝北区 is missing from the source package and re-added by the build script.
    assert region_from_name("重庆市渝北区财政局").adcode == "500112"


def test_province_level_names() -> None:
    assert region_from_name("宁夏回族自治区财政厅") == Region(
        "宁夏回族自治区", None, None, "640000"
    )
    assert region_from_name("河北省司法厅") == Region("河北省", None, None, "130000")
    # A province directly administers 仙桃市: no prefecture.
    assert region_from_name("仙桃市财政局") == Region("湖北省", None, "仙桃市", "429004")


def test_data_file_loads() -> None:
    regions._table.cache_clear()
    table = regions._table()
    assert len(table.names) > 3000
    assert table.names["130535"] == "临西县"


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("唐山市", "唐山"),
        ("临西县", "临西"),
        ("北京市", "北京"),
        ("香港特别行政区", "香港"),
        ("宁夏回族自治区", "宁夏"),
        ("湘西土家族苗族自治州", "湘西"),
        # banners are written whole: nobody writes 巴林左 or 鄂温克族自治
        ("巴林左旗", None),
        ("准格尔旗", None),
        ("鄂温克族自治旗", None),
        # compound suffixes go whole (they left 浦东新, 六枝特, 峰峰矿, 神农架林)
        ("浦东新区", "浦东"),
        ("六枝特区", "六枝"),
        ("峰峰矿区", "峰峰"),
        ("白云鄂博矿区", "白云鄂博"),
        ("神农架林区", "神农架"),
        ("万柏林区", "万柏林"),  # 林 is its own here
        ("大柴旦行政区", "大柴旦"),
        ("苏州工业园区", None),  # 苏州 is the city's
        # peoples are read whole, the place before them too (they left 黔西, 杜尔, 西双)
        ("黔西南布依族苗族自治州", "黔西南"),
        ("杜尔伯特蒙古族自治县", "杜尔伯特"),
        ("西双版纳傣族自治州", "西双版纳"),
        ("伊犁哈萨克自治州", "伊犁"),  # a people named without 族
        ("木垒哈萨克自治县", "木垒"),
        ("东乡族自治县", None),  # named after its people alone
        # a stem shared with a division of another name goes to the higher level, or to
        # none of the same level
        ("海南省", "海南"),
        ("海南藏族自治州", None),
        ("海南区", None),
        ("朝阳市", "朝阳"),
        ("朝阳区", None),
        ("朝阳县", None),
        ("本溪满族自治县", None),
        ("吉林市", None),
        ("宽城区", None),
        ("宽城满族自治县", None),
        # everyday words
        ("惠民县", None),
        ("路桥区", None),
        ("城区", None),
    ],
)
def test_short_region_names(name: str, short: str | None) -> None:
    assert short_region_name(name) == short


def test_short_region_names_over_the_whole_table() -> None:
    names = set(regions._table().names.values())
    shorts = {name: short for name in names if (short := short_region_name(name))}
    assert len(shorts) > 0.8 * len(names)
    peoples = rf"(?:(?:{regions._PEOPLES})族?)*自治[区州县]"
    suffixes = r"特别行政区|行政区|工业园区|新区|矿区|特区|林区|地区|[省市县区盟]"
    holders: dict[str, list[str]] = {}
    for name, short in shorts.items():
        holders.setdefault(short, []).append(name)
        assert len(short) >= 2 and name.startswith(short) and short not in STEM_STOPLIST
        assert re.fullmatch(f"{suffixes}|{peoples}", name[len(short) :]), name
        assert short not in names  # no other division's full name
    assert not [name for name in shorts if name.endswith("旗")]
    # one division (or several of one name: 鼓楼区) per short form
    assert [names for names in holders.values() if len(names) > 1] == []
