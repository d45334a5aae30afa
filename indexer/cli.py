"""The ``jixiao`` command line (contract: ``shared/notes/interfaces.md``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from indexer.errors import ReadError
from indexer.reading import expand_paths, max_bytes_from_env, parse_file


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jixiao`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("jixiao: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0  # `jixiao parse … | head` closed the pipe: not an error


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jixiao", description="Search Chinese budget performance filings (绩效目标表)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parse = commands.add_parser(
        "parse",
        help="read filings and print projects, indicators and narrative",
        description="Read PDF, DOCX and TXT filings; print one JSON object per filing.",
    )
    parse.add_argument("paths", nargs="+", type=Path, metavar="FILE", help="files or folders")
    parse.add_argument("--json", action="store_true", help="JSON Lines output (one filing a line)")
    parse.add_argument(
        "--max-size-mb",
        type=float,
        default=None,
        help="skip files larger than this (default 50, or JIXIAO_MAX_FILE_MB)",
    )
    parse.set_defaults(run=_run_parse)
    return parser


def _run_parse(args: argparse.Namespace) -> int:
    try:
        limit = (
            int(args.max_size_mb * 1024 * 1024)
            if args.max_size_mb is not None
            else max_bytes_from_env()
        )
    except ReadError as err:
        print(f"jixiao: {err}", file=sys.stderr)
        return 2
    failed = 0
    files = expand_paths(args.paths)
    if not files:
        print("jixiao: no .pdf, .docx or .txt files found", file=sys.stderr)
        return 1
    for path in files:
        try:
            filing = parse_file(path, limit)
        except ReadError as err:
            failed += 1
            print(f"jixiao: {path}: {err}", file=sys.stderr)
            continue
        except Exception as err:  # noqa: BLE001 - one bad file must not stop the run
            failed += 1
            print(f"jixiao: {path}: could not parse ({type(err).__name__}: {err})", file=sys.stderr)
            continue
        for warning in filing.warnings:
            print(f"jixiao: {path}: warning: {warning}", file=sys.stderr)
        if args.json:
            print(json.dumps(filing.to_json(), ensure_ascii=False), flush=True)
        else:
            print(_summary(filing.to_json()), flush=True)
    if failed:
        print(f"jixiao: {failed} of {len(files)} files failed", file=sys.stderr)
    return 1 if failed else 0


def _summary(filing: dict) -> str:
    """One human line a filing: where, who, when, how much was found."""
    region = " ".join(p for p in (filing["province"], filing["city"], filing["county"]) if p)
    indicators = sum(len(p["indicators"]) for p in filing["projects"])
    return (
        f"{filing['source']}: {filing['department'] or '?'} · {region or '?'} "
        f"({filing['adcode'] or '?'}) · {filing['year'] or '?'} · "
        f"{len(filing['projects'])} projects, {indicators} indicators, "
        f"{len(filing['sections'])} narrative passages"
    )


if __name__ == "__main__":
    sys.exit(main())
