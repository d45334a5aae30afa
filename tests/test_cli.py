"""``jixiao parse``: the JSON contract, and bad input that must not stop a run."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from indexer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "corpus" / "002_19f2a4c4a62c75e5.txt"
FIXTURES = ROOT / "tests" / "fixtures"

FILING_KEYS = {"source", "title", "province", "city", "county", "adcode", "year", "department"}
PROJECT_KEYS = {"name", "code", "department", "amount_wan", "goal", "indicators"}
INDICATOR_KEYS = {
    "level1", "level2", "level1_raw", "level2_raw", "name", "description",
    "value", "op", "low", "high", "unit",
}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict], list[str]]:
    status = main(["parse", *args])
    out, err = capsys.readouterr()
    filings = [json.loads(line) for line in out.splitlines() if line.strip()]
    return status, filings, [line for line in err.splitlines() if line.strip()]


def test_json_lines_follow_the_contract(capsys: pytest.CaptureFixture[str]) -> None:
    status, filings, errors = run(capsys, str(SEED), "--json")
    assert status == 0 and errors == []
    (filing,) = filings
    assert FILING_KEYS | {"projects", "sections"} <= filing.keys()
    assert filing["source"] == str(SEED)
    project = filing["projects"][0]
    assert project.keys() >= PROJECT_KEYS
    indicator = project["indicators"][0]
    assert indicator.keys() >= INDICATOR_KEYS
    cost = next(i for i in project["indicators"] if i["value"] == "260元/人/年")
    assert (cost["level1"], cost["level2"], cost["level1_raw"], cost["level2_raw"]) == (
        "产出指标", "成本指标", "1-产出指标", "14-成本指标",
    )  # fmt: skip
    assert (cost["op"], cost["low"], cost["high"], cost["unit"]) == ("=", 260.0, 260.0, "元/人/年")


def test_output_is_utf8_not_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    main(["parse", str(SEED), "--json"])
    assert "平罗县" in capsys.readouterr().out


def test_folder_is_read_recursively(capsys: pytest.CaptureFixture[str]) -> None:
    status, filings, _ = run(capsys, str(ROOT / "corpus"), "--json")
    assert status == 0
    assert len(filings) == len(list((ROOT / "corpus").glob("*.txt")))


def _zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b"\0" * (1 << 20)
            for _ in range(300):  # 300 MB of zeros, a few hundred KB packed
                member.write(chunk)


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each bad file, with a word its error line must contain."""
    pdf = (FIXTURES / "002_19f2a4c4a62c75e5.pdf").read_bytes()
    cases: dict[str, tuple[Path, str]] = {}

    def add(name: str, data: bytes, reason: str) -> None:
        path = tmp / name
        path.write_bytes(data)
        cases[name] = (path, reason)

    add("empty.txt", b"", "empty")
    add("truncated.pdf", pdf[: len(pdf) // 2], "truncated")
    add("junk.txt", bytes(range(256)) * 64, "not a text file")
    add("notzip.docx", b"this is not a zip archive at all" * 10, "not a zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "no word document in here")
    add("nodoc.docx", buffer.getvalue(), "word/document.xml")
    cases["encrypted.pdf"] = (FIXTURES / "encrypted.pdf", "encrypted")
    bomb = tmp / "bomb.docx"
    _zip_bomb(bomb)
    cases["bomb.docx"] = (bomb, "zip bomb")
    big = tmp / "big.txt"
    big.write_bytes(SEED.read_bytes() * 80)  # ~1.1 MB, over a 1 MB limit
    cases["big.txt"] = (big, "limit")
    return cases


def test_each_bad_file_gets_one_clear_line_and_the_run_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = _bad_inputs(tmp_path)
    paths = [str(path) for path, _ in cases.values()]
    status, filings, errors = run(
        capsys, str(SEED), *paths, str(SEED), "--json", "--max-size-mb", "1"
    )
    assert status != 0
    assert [f["source"] for f in filings] == [str(SEED), str(SEED)]
    assert not any("Traceback" in line for line in errors)
    for name, (path, reason) in cases.items():
        lines = [line for line in errors if f"{path}:" in line]
        assert len(lines) == 1, (name, errors)
        assert reason in lines[0], (name, lines[0])
    # with --json, scripts read stderr as one "jixiao: FILE: REASON" line per failed file
    assert len(errors) == len(cases)
    assert main(["parse", str(SEED), *paths, "--max-size-mb", "1"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert errors[-1] == f"jixiao: {len(cases)} of {len(cases) + 1} files failed"  # for people


def test_size_limit_comes_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(SEED.read_bytes() * 80)
    monkeypatch.setenv("JIXIAO_MAX_FILE_MB", "1")
    status, filings, errors = run(capsys, str(big), "--json")
    assert status == 1 and filings == []
    assert "over the 1 MB limit" in errors[0]
    monkeypatch.setenv("JIXIAO_MAX_FILE_MB", "5")
    status, filings, errors = run(capsys, str(big), "--json")
    assert status == 0 and len(filings) == 1


def test_missing_file_and_empty_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, errors = run(capsys, str(tmp_path / "nope.txt"))
    assert status == 1 and "nope.txt: cannot open" in errors[0]
    status, _, errors = run(capsys, str(tmp_path))
    assert status == 1 and "no .pdf, .docx or .txt files" in errors[0]


def test_human_summary_without_json(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["parse", str(SEED)])
    out = capsys.readouterr().out
    assert status == 0
    assert "平罗县司法局" in out and "640221" in out and "10 projects" in out


@pytest.mark.parametrize("command", ["parse", "index"])
def test_bad_size_limit_in_the_environment_is_one_line(
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("JIXIAO_MAX_FILE_MB", "abc")
    extra = ["--store", str(tmp_path / "store")] if command == "index" else []
    assert main([command, str(SEED), *extra]) == 2
    assert capsys.readouterr().err.strip() == "jixiao: JIXIAO_MAX_FILE_MB is not a number: 'abc'"


@pytest.mark.parametrize("command", ["parse", "index"])
def test_a_size_limit_must_be_positive(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    extra = ["--store", str(tmp_path / "store")] if command == "index" else []
    for bad in ("-1", "0", "nan", "inf", "1e400"):
        with pytest.raises(SystemExit) as exited:
            main([command, str(SEED), *extra, "--max-size-mb", bad])
        assert exited.value.code == 2
        assert "--max-size-mb: must be a number more than 0" in capsys.readouterr().err
        monkeypatch.setenv("JIXIAO_MAX_FILE_MB", bad)
        assert main([command, str(SEED), *extra]) == 2
        assert "JIXIAO_MAX_FILE_MB must be a number more than 0" in capsys.readouterr().err
        monkeypatch.delenv("JIXIAO_MAX_FILE_MB")


def test_an_embedding_cache_that_cannot_open_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    monkeypatch.setenv("JIXIAO_CACHE", str(blocked / "cache.sqlite"))
    assert main(["index", str(SEED), "--store", str(tmp_path / "store")]) == 2
    err = capsys.readouterr().err
    assert "embedding cache" in err and "cannot be opened" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "store").exists()  # nothing opened before the cache


def test_a_damaged_pdf_is_one_line_without_the_library_s_own_warnings(tmp_path: Path) -> None:
    import random
    import subprocess
    import sys

    data = bytearray((FIXTURES / "003_5dd4e37a73cf10c8.pdf").read_bytes())
    rng = random.Random(1)
    for _ in range(2000):  # damage the cross-reference table pdfminer then repairs, noisily
        data[rng.randrange(200, len(data))] = rng.randrange(256)
    damaged = tmp_path / "damaged.pdf"
    damaged.write_bytes(bytes(data))
    # a process of its own: pytest's log capture would hide what pdfminer prints
    jixiao = str(Path(sys.executable).parent / "jixiao")
    done = subprocess.run([jixiao, "parse", str(damaged), "--json"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [f"jixiao: {damaged}: PDF is truncated or corrupt"]


def test_indexing_only_missing_files_creates_no_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    assert main(["index", str(tmp_path / "nope.txt"), "--store", str(store)]) == 1
    assert "nope.txt: cannot open" in capsys.readouterr().err
    assert not store.exists()


def test_a_rebuild_of_the_embedded_store_is_refused_before_anything_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JIXIAO_ES_URL", raising=False)
    filing = tmp_path / "filing.txt"
    filing.write_text("项目名称 社区矫正", encoding="utf-8")
    store = tmp_path / "store"
    assert main(["index", str(filing), "--store", str(store), "--rebuild"]) == 2
    assert "--rebuild needs Elasticsearch" in capsys.readouterr().err
    assert not store.exists()


def test_hidden_files_and_folders_are_left_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from indexer.reading import expand_paths

    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    for name in (".git/x.txt", ".hidden.txt", "sub/filing.txt", "filing.txt"):
        (tmp_path / name).write_text("项目名称")
    found = [p.relative_to(tmp_path).as_posix() for p in expand_paths([tmp_path])]
    assert found == ["filing.txt", "sub/filing.txt"]
    # named by itself, a hidden file is read
    assert expand_paths([tmp_path / ".hidden.txt"]) == [tmp_path / ".hidden.txt"]
