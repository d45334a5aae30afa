"""Load benchmark of ``/api/search``: N concurrent clients for a fixed time, local only.

    .venv/bin/python bench/load.py --serve data/index            # starts jixiao serve itself
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000    # a server already running

Each client is a thread with one keep-alive ``http.client`` connection that sends
``GET /api/search`` back to back, cycling through the judged queries of
``bench/relevance/queries.json`` (56 queries, each client starting at a different
one) in the three modes (hybrid, keyword, semantic in turn), a quarter of them with a
filter. The run is bounded in time (``--seconds``) and in requests
(``--max-requests``). Prints throughput, latency percentiles and errors (any
non-200 answer or failed connection). Only 127.0.0.1 / localhost are accepted.

The portal keeps the last 512 query vectors per worker (``webapp.portal``), so once
every query was seen a semantic or hybrid request no longer pays for encoding it;
``--fresh`` appends a counter to every query to measure the uncached path.

With ``--serve`` it also reads the server's memory from ``/proc/PID/smaps_rollup``
every 2 s during the run: per process (gunicorn master, each worker) RSS, PSS
(shared pages divided among the processes that map them), private and shared
memory at the end of the run, and the peak of the whole server's PSS.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlparse

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "relevance" / "queries.json"
MODES = ("hybrid", "keyword", "semantic")
FILTERS = ({"kind": "indicator"}, {"level2": "成本指标"}, {"year": "2025"}, {"province": "河北省"})
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class Tally:
    """What the clients saw; appended to under a lock."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def fail(self, reason: str) -> None:
        with self.lock:
            self.failures.append(reason)


def load_queries() -> list[str]:
    return [q["query"] for q in json.loads(QUERIES.read_text(encoding="utf-8"))]


def request_paths(queries: list[str], start: int, fresh: bool) -> Iterator[str]:
    """Endless ``/api/search?...`` paths for one client."""
    number = start
    while True:
        query = queries[number % len(queries)]
        if fresh:
            query = f"{query} {number}"
        params = {"q": query, "mode": MODES[number % len(MODES)], "size": 10}
        if number % 4 == 0:
            params.update(FILTERS[(number // 4) % len(FILTERS)])
        yield "/api/search?" + urlencode(params)
        number += 1


def client(
    host: str,
    port: int,
    paths: Iterator[str],
    deadline: float,
    budget: threading.Semaphore,
    tally: Tally,
) -> None:
    """Send requests until the deadline or the shared request budget runs out."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    while time.monotonic() < deadline and budget.acquire(blocking=False):
        path = next(paths)
        started = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            tally.add(time.perf_counter() - started, response.status)
        except (OSError, http.client.HTTPException) as err:
            tally.fail(f"{type(err).__name__}: {err}")
            connection.close()
            connection = http.client.HTTPConnection(host, port, timeout=60)
    connection.close()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


def run(url: str, clients: int, seconds: float, max_requests: int, fresh: bool) -> dict:
    """The load run; returns the summary numbers."""
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS:
        raise SystemExit(f"load.py: only local servers, not {parsed.hostname!r}")
    host, port = parsed.hostname, parsed.port or 80
    queries = load_queries()
    tally = Tally()
    budget = threading.Semaphore(max_requests)
    started = time.monotonic()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=client,
            args=(host, port, request_paths(queries, i * 7, fresh), deadline, budget, tally),
        )
        for i in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ok = tally.statuses.get(200, 0)
    errors = sum(n for status, n in tally.statuses.items() if status != 200) + len(tally.failures)
    lat = [x * 1000 for x in tally.latencies]
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(tally.latencies) + len(tally.failures),
        "ok": ok,
        "errors": errors,
        "statuses": tally.statuses,
        "failures": tally.failures[:5],
        "throughput_rps": round(len(tally.latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(lat, 0.50), 1) if lat else None,
        "p95_ms": round(percentile(lat, 0.95), 1) if lat else None,
        "p99_ms": round(percentile(lat, 0.99), 1) if lat else None,
        "max_ms": round(max(lat), 1) if lat else None,
        "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
    }


GIB = 1024**3
MEMORY_FIELDS = ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean", "Shared_Dirty")


def process_memory(pid: int) -> dict[str, int]:
    """Bytes by field of ``/proc/PID/smaps_rollup`` (MEMORY_FIELDS); empty if it is gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name in MEMORY_FIELDS:
            out[name] = int(value.split()[0]) * 1024
    return out


def server_processes(master: int) -> list[tuple[str, int]]:
    """The gunicorn master and its workers, as (label, pid)."""
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        children = []
    return [("master", master)] + [(f"worker {i + 1}", int(p)) for i, p in enumerate(children)]


class MemorySampler(threading.Thread):
    """Samples the server's memory every ``every`` seconds until stopped."""

    def __init__(self, master: int, every: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.master, self.every = master, every
        self.stopped = threading.Event()
        self.peak_pss = 0
        self.last: list[tuple[str, dict[str, int]]] = []

    def sample(self) -> None:
        rows = [(label, process_memory(pid)) for label, pid in server_processes(self.master)]
        self.last = [(label, m) for label, m in rows if m]
        self.peak_pss = max(self.peak_pss, sum(m["Pss"] for _, m in self.last))

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            self.sample()

    def stop(self) -> dict:
        """Stop, take a last sample, and return the summary (GiB)."""
        self.stopped.set()
        self.join()
        self.sample()

        def gib(value: int) -> float:
            return round(value / GIB, 2)

        processes = {
            label: {
                "rss": gib(m["Rss"]),
                "pss": gib(m["Pss"]),
                "private": gib(m["Private_Clean"] + m["Private_Dirty"]),
                "shared": gib(m["Shared_Clean"] + m["Shared_Dirty"]),
            }
            for label, m in self.last
        }
        total = gib(sum(m["Pss"] for _, m in self.last))
        return {"processes": processes, "pss_total": total, "pss_peak": gib(self.peak_pss)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(store: Path, workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    """``jixiao serve`` on a free local port; waits until /healthz answers 200."""
    port = free_port()
    command = [
        str(Path(sys.executable).parent / "jixiao"),
        "serve",
        "--store",
        str(store),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    log = open(os.environ.get("JIXIAO_LOAD_LOG", os.devnull), "w")  # noqa: SIM115
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"load.py: jixiao serve exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server, f"http://127.0.0.1:{port}"
        except OSError:
            pass
        time.sleep(1)
    stop_server(server)
    raise SystemExit("load.py: jixiao serve did not answer /healthz within 300 s")


def stop_server(server: subprocess.Popen) -> None:
    """Stop the gunicorn started here (its own process group) and wait for it."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def warm_up(url: str, seconds: float) -> None:
    """Each worker loads its model at boot; a few requests settle the caches of the OS."""
    run(url, 2, seconds, 40, fresh=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running portal, e.g. http://127.0.0.1:8000")
    where.add_argument("--serve", type=Path, metavar="STORE", help="start jixiao serve on STORE")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=2, help="with --serve")
    parser.add_argument("--threads", type=int, default=8, help="with --serve")
    parser.add_argument("--fresh", action="store_true", help="never repeat a query")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 256 or not 0 < args.seconds <= 3600:
        parser.error("--clients 1-256 and --seconds up to 3600")
    server = sampler = None
    url = args.url
    try:
        if args.serve:
            server, url = start_server(args.serve, args.workers, args.threads)
        warm_up(url, 5)
        if server is not None:
            sampler = MemorySampler(server.pid)
            sampler.start()
        result = run(url, args.clients, args.seconds, args.max_requests, args.fresh)
        if sampler is not None:
            result["memory_gib"] = sampler.stop()
    finally:
        if server is not None:
            stop_server(server)
    result["fresh_queries"] = args.fresh
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        head = ("clients", "seconds", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms")
        print("| " + " | ".join((*head, "errors")) + " |")
        print("|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {result['clients']} | {result['seconds']} | {result['requests']} | "
            f"{result['throughput_rps']} | {result['p50_ms']} | {result['p95_ms']} | "
            f"{result['p99_ms']} | {result['max_ms']} | {result['errors']} |"
        )
        if result["failures"]:
            print("failures:", *result["failures"], sep="\n  ")
        if "memory_gib" in result:
            memory = result["memory_gib"]
            print("\n| process | RSS GiB | PSS GiB | private GiB | shared GiB |")
            print("|---|---|---|---|---|")
            for label, m in memory["processes"].items():
                print(f"| {label} | {m['rss']} | {m['pss']} | {m['private']} | {m['shared']} |")
            total, peak = memory["pss_total"], memory["pss_peak"]
            print(f"whole server PSS: {total} GiB at the end, peak {peak} GiB")
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
