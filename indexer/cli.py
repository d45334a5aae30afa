"""The ``jixiao`` command line (contract: ``shared/notes/interfaces.md``)."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from indexer.errors import CacheUnavailable, ModelUnavailable, ReadError
from indexer.reading import expand_paths, max_bytes_from_env, parse_file
from indexer.search import MODES


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jixiao`` console script; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("jixiao: interrupted", file=sys.stderr)
        return 130
    except (ModelUnavailable, CacheUnavailable) as err:
        print(f"jixiao: {err}", file=sys.stderr)
        return 2
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
        type=_megabytes,
        default=None,
        help="skip files larger than this (default 50, or JIXIAO_MAX_FILE_MB)",
    )
    parse.set_defaults(run=_run_parse)

    index = commands.add_parser(
        "index",
        help="index filings into the store (re-indexing unchanged files does nothing)",
        description="Index PDF, DOCX and TXT files and folders (recursively) for search.",
    )
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    _store_options(index)
    index.add_argument("--max-size-mb", type=_megabytes, default=None, help="skip larger files")
    index.add_argument(
        "--rebuild",
        action="store_true",
        help="Elasticsearch: read every file into new indices, then swap the alias at once "
        "(filings of files not named are dropped)",
    )
    index.set_defaults(run=_run_index)

    search = commands.add_parser(
        "search",
        help="search the index",
        description="Hybrid (keyword + semantic) search with filters and facet counts.",
        epilog='Operators, in every mode: "社区矫正 经费" (or “…”, 「…」) needs the words in '
        "that order; -经费 leaves out passages with the word; 安置帮教 OR 社区矫正 (or |) "
        "takes either. A query of exclusions alone browses the rest; one starting with - "
        "comes last, after --: jixiao search --json -- -经费",
    )
    search.add_argument("query", help="the query, e.g. '社区矫正 成本指标' or '社区矫正 -经费'")
    search.add_argument("--json", action="store_true", help="print the result as one JSON object")
    search.add_argument("--mode", choices=MODES, default="hybrid")
    search.add_argument("--size", type=int, default=10, help="hits per page (1-100)")
    search.add_argument("--page", type=int, default=1)
    search.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="repeat: same field means OR, different fields AND",
    )
    _store_options(search)
    search.set_defaults(run=_run_search)

    evaluate = commands.add_parser(
        "eval",
        help="score search quality on the judged queries (nDCG@10, Recall@10, MRR per mode)",
        description="Run bench/relevance/queries.json against an index of corpus/ in every mode.",
    )
    evaluate.add_argument("--queries", type=Path, help="judged queries (JSON)")
    evaluate.add_argument("--json", action="store_true", help="print all scores as JSON")
    evaluate.add_argument(
        "--unpooled",
        action="store_true",
        help="score with the first judgments only, not those added by pooling",
    )
    _store_options(evaluate)
    evaluate.set_defaults(run=_run_eval)

    serve = commands.add_parser(
        "serve",
        help="serve the search portal (gunicorn) on 127.0.0.1:8000",
        description="Serve the portal and /api/search with gunicorn.",
    )
    _store_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=8, help="threads per worker (default 8)")
    serve.set_defaults(run=_run_serve)
    return parser


def _store_options(command: argparse.ArgumentParser) -> None:
    where = command.add_mutually_exclusive_group()
    where.add_argument("--store", type=Path, help="embedded store folder (default data/index)")
    where.add_argument(
        "--es", metavar="URL", help="Elasticsearch URL, e.g. http://elastic:pw@localhost:9200"
    )
    command.add_argument(
        "--model", help="sentence-transformers model path or id (default: e5-small + adapter)"
    )


def _run_index(args: argparse.Namespace) -> int:
    from indexer.embeddings import Embedder, EmbeddingCache
    from indexer.pipeline import RebuildStopped, index_files
    from indexer.store.factory import embedded_store_dir, open_store

    files = expand_paths(args.paths)
    folders = [path for path in args.paths if path.is_dir()]
    if not files:
        print("jixiao: no .pdf, .docx or .txt files found", file=sys.stderr)
        if not folders:
            return 1  # an emptied folder still goes on: its filings are removed
    limit = _size_limit(args)
    if limit is None:
        return 2
    if files and not folders and not any(path.exists() for path in files):
        for path in files:  # nothing to index: no store is created for it
            print(f"jixiao: {path}: cannot open (no such file)", file=sys.stderr)
        return 1
    embedder = Embedder(args.model)
    folder = embedded_store_dir(args.store, args.es)
    if args.rebuild and folder is not None:
        print(
            "jixiao: --rebuild needs Elasticsearch (--es URL); for the embedded store, "
            "index into a new --store folder and serve that one",
            file=sys.stderr,
        )
        return 2
    if folder is not None and not (folder / "jixiao.sqlite").exists():
        embedder.dims()  # a new store needs the model: fail on it before creating the store
    cache = EmbeddingCache(_cache_path())
    try:
        with _store_errors():
            store = open_store(args.store, args.es, create=True)
            try:
                summary = index_files(
                    files, store, embedder, cache, limit, folders=folders, rebuild=args.rebuild
                )
            except RebuildStopped as err:
                print(f"jixiao: {err}", file=sys.stderr)
                return 1
            finally:
                store.close()
            for path, warning in summary.warnings:
                print(f"jixiao: {path}: warning: {warning}", file=sys.stderr)
            for path, reason in summary.failed:
                print(f"jixiao: {path}: {reason}", file=sys.stderr)
            print(f"jixiao index: {summary.line()}")
            return 1 if summary.failed else 0
        return 2
    finally:
        cache.close()


def _run_search(args: argparse.Namespace) -> int:
    from indexer.embeddings import Embedder
    from indexer.search import QueryError, Searcher, make_request, parse_filters
    from indexer.store.factory import open_store

    try:
        pairs = []
        for item in args.filter:
            name, sep, value = item.partition("=")
            if not sep or not name or not value:
                raise QueryError("filter", f"--filter takes FIELD=VALUE, not {item!r}")
            pairs.append((name.strip(), value.strip()))
        request = make_request(args.query, args.mode, args.size, args.page, parse_filters(pairs))
    except QueryError as err:
        print(f"jixiao: {err}", file=sys.stderr)
        return 2
    with _store_errors():
        store = open_store(args.store, args.es)
        try:
            searcher = Searcher(store, Embedder(args.model))
            if request.uses_vectors:
                _warn(searcher.check_model())
            result = searcher.search(request)
        finally:
            store.close()
        if args.json:
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(_search_text(result))
        return 0
    return 2


def _run_eval(args: argparse.Namespace) -> int:
    from indexer.embeddings import Embedder
    from indexer.eval_runner import QUERIES, format_table, run_eval
    from indexer.search import Searcher
    from indexer.store.factory import open_store

    with _store_errors():
        store = open_store(args.store, args.es)
        try:
            searcher = Searcher(store, Embedder(args.model))
            _warn(searcher.check_model())
            results = run_eval(searcher, args.queries or QUERIES, pooled=not args.unpooled)
        except ValueError as err:  # a judgment names no passage: index corpus/ first
            print(f"jixiao: {err}", file=sys.stderr)
            return 2
        finally:
            store.close()
        print(json.dumps(results, ensure_ascii=False) if args.json else format_table(results))
        return 0
    return 2


def _run_serve(args: argparse.Namespace) -> int:
    from webapp.serve import serve

    if not 1 <= args.workers <= 64 or not 1 <= args.threads <= 64:
        print("jixiao: --workers and --threads must be between 1 and 64", file=sys.stderr)
        return 2
    store = str(args.store) if args.store else None
    serve(store, args.es, args.host, args.port, args.workers, args.threads, args.model)
    return 0


def _warn(message: str | None) -> None:
    if message:
        print(f"jixiao: warning: {message}", file=sys.stderr)


@contextmanager
def _store_errors() -> Iterator[None]:
    """A missing, corrupt or unreachable store is one line on stderr, not a traceback."""
    from indexer.store.base import StoreError

    try:
        yield
    except StoreError as err:
        print(f"jixiao: {err}", file=sys.stderr)


def _cache_path() -> Path:
    return Path(os.environ.get("JIXIAO_CACHE") or "data/cache/embeddings.sqlite")


def _search_text(result: dict) -> str:
    head = f"{result['total']} matches for {result['query']!r}"
    lines = [f"{head} ({result['mode']}, {result['took_ms']} ms)"]
    if result.get("expansions"):
        lines.append(f"also looked for: {' '.join(result['expansions'])}")
    for number, hit in enumerate(result["hits"], start=1 + (result["page"] - 1) * result["size"]):
        doc = hit["doc"]
        where = " ".join(x for x in (doc["province"], doc["city"], doc["county"]) if x)
        lines.append(f"{number:>3}. [{hit['kind']}] {hit['text'][:80]}")
        lines.append(
            f"     {doc['department'] or ''} · {where} · {doc['year'] or ''} · {doc['source']}"
        )
    return "\n".join(lines)


def _megabytes(raw: str) -> float:
    """``--max-size-mb``: a positive number (argparse reports anything else)."""
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {raw!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number more than 0, not {raw}")
    return value


def _size_limit(args: argparse.Namespace) -> int | None:
    """Bytes allowed per file: ``--max-size-mb``, else ``JIXIAO_MAX_FILE_MB``; None if invalid."""
    if args.max_size_mb is not None:
        return int(args.max_size_mb * 1024 * 1024)
    try:
        return max_bytes_from_env()
    except ReadError as err:
        print(f"jixiao: {err}", file=sys.stderr)
        return None


def _run_parse(args: argparse.Namespace) -> int:
    limit = _size_limit(args)
    if limit is None:
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
    if failed and not args.json:
        # for people only: with --json, stderr holds exactly one line per failed file
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
