"""The Elasticsearch store: the bodies of ``es_requests`` sent with the official client.

Two aliases per store: ``<index>`` for passages and ``<index>-filings`` for the
filings (parse JSON + content hash). Each points at one concrete, versioned index,
so a full rebuild can load new indices beside the live ones and move both aliases
in one atomic request.

Reads treat a missing index as an empty store and never create anything (a portal
may run with read-only credentials); the first write creates the indices.

Needs a running server (``JIXIAO_ES_URL``); the request bodies themselves are
unit-tested in ``tests/test_es_requests.py``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    SSLError,
    TransportError,
    UnsupportedProductError,
)
from elasticsearch import __versionstr__ as client_version

from indexer import schema
from indexer.store import es_requests as req
from indexer.store.base import (
    EncodedFiling,
    FilingRecord,
    Filters,
    KeywordResult,
    Store,
    StoreError,
)
from indexer.tokenize import Group

DEFAULT_INDEX = "jixiao-passages"
#: Passages per ``_bulk`` request: ~4 kB of vector JSON each, so a few MB a request.
BULK_PASSAGES = 500


class ElasticStore(Store):
    """Passages and filings in Elasticsearch, behind the ``Store`` interface.

    ``url`` may carry credentials (``http://elastic:PASSWORD@host:9200``); see
    :func:`client_options` for the others and for TLS. A URL without a port means
    9200 for http.
    """

    backend = "elasticsearch"

    def __init__(
        self,
        url: str,
        index: str = DEFAULT_INDEX,
        *,
        api_key: str | None = None,
        basic_auth: tuple[str, str] | None = None,
        verify_certs: bool = True,
        request_timeout: float = 30.0,
    ) -> None:
        try:
            self.index = req.check_index_name(index)
            self._replicas = req.replicas_setting(os.environ.get("JIXIAO_ES_REPLICAS"))
        except ValueError as err:
            raise StoreError(str(err)) from None
        self.filings_index = req.filings_alias(index)
        self.url, url_auth = _split_url(url)
        self._timeout = request_timeout
        options = client_options(
            self.url,
            url_auth=url_auth,
            api_key=api_key,
            basic_auth=basic_auth,
            verify_certs=verify_certs,
            request_timeout=request_timeout,
            env=os.environ,
        )
        try:
            self._client = Elasticsearch(**options)
        except ValueError as err:
            raise StoreError(f"invalid Elasticsearch URL {self.url}: {err}") from None
        self._ready = False  # indices known to exist (checked once per store)
        # Filing records written since the filings index was last refreshed: searched
        # only to list filings, it is refreshed before that, not once per record
        # (gets by id are real-time). A run of 10,000 filings saves 10,000 refreshes.
        self._filings_stale = False

    # --- errors ---------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn the client's exceptions into a one-line StoreError naming what failed."""
        try:
            yield
        except AuthenticationException:
            raise StoreError(
                f"Elasticsearch at {self.url} refused the credentials (401): give them in "
                "the URL (http://elastic:PASSWORD@host:9200) or set JIXIAO_ES_PASSWORD"
            ) from None
        except AuthorizationException as err:
            raise StoreError(
                f"Elasticsearch at {self.url}: not allowed to {action} ({_api_reason(err)})"
            ) from None
        except UnsupportedProductError:
            raise StoreError(
                f"{self.url} does not answer as an Elasticsearch server that the "
                f"Python client {client_version} supports"
            ) from None
        except ApiError as err:
            reason = _api_reason(err)
            if "media-type" in reason or "media_type" in reason:
                # A server older than the client's major refuses its compatibility headers.
                raise StoreError(
                    f"Elasticsearch at {self.url} rejected the client's request format: "
                    f"the Python client {client_version} needs an Elasticsearch 8 or 9 server"
                ) from None
            raise StoreError(f"Elasticsearch could not {action}: {reason}") from None
        except SSLError as err:
            raise StoreError(
                f"TLS error talking to Elasticsearch at {self.url}: {_transport_reason(err)}"
            ) from None
        except ConnectionTimeout:
            raise StoreError(
                f"Elasticsearch at {self.url} did not answer within {self._timeout:g} s "
                f"(trying to {action})"
            ) from None
        except ConnectionError as err:
            raise StoreError(
                f"cannot reach Elasticsearch at {self.url}: {_transport_reason(err)}"
            ) from None
        except TransportError as err:
            raise StoreError(
                f"Elasticsearch at {self.url} failed to {action}: {_transport_reason(err)}"
            ) from None

    # --- indices --------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create the passages and filings indices behind their aliases if missing."""
        if self._ready:
            return
        with self._errors("create the index"):
            for alias, body in (
                (self.index, req.index_body(replicas=self._replicas)),
                (self.filings_index, req.filings_index_body(replicas=self._replicas)),
            ):
                if self._client.indices.exists_alias(name=alias):
                    # made before a field was declared
                    if alias == self.filings_index:
                        self._client.indices.put_mapping(
                            index=alias, **req.filings_mapping_update()
                        )
                    else:
                        current = self._client.indices.get_mapping(index=alias).body
                        update = req.passages_mapping_update(current)
                        if update:
                            self._client.indices.put_mapping(index=alias, **update)
                    continue
                if self._client.indices.exists(index=alias):
                    raise StoreError(
                        f"{alias} on {self.url} is an index, not an alias; "
                        "run a full rebuild to move it behind an alias"
                    )
                try:
                    self._client.indices.create(
                        index=req.initial_index_name(alias), aliases={alias: {}}, **body
                    )
                except ApiError as err:
                    # Another indexer created it between our check and create: fine.
                    if _error_type(err) != "resource_already_exists_exception":
                        raise
        self._ready = True

    def _indices_behind(self, alias: str) -> tuple[list[str], bool]:
        """(concrete indices the alias points to, whether ``alias`` is itself an index)."""
        if self._client.indices.exists_alias(name=alias):
            return sorted(self._client.indices.get_alias(name=alias).body), False
        return [], bool(self._client.indices.exists(index=alias))

    def drop(self) -> None:
        """Delete both aliases and every index behind them (tests; starting over).

        Indices are named explicitly, never by wildcard, so stores whose names
        share a prefix with this one are left alone.
        """
        with self._errors("delete the index"):
            for alias in (self.index, self.filings_index):
                indices, concrete = self._indices_behind(alias)
                if concrete:
                    indices.append(alias)
                if indices:
                    self._client.indices.delete(index=",".join(indices), ignore_unavailable=True)
        self._ready = False

    def rebuild(self, filings: Iterable[EncodedFiling]) -> int:
        """Load every filing into new versioned indices, then swap the aliases atomically.

        ``filings`` yields what ``write_filing`` takes. Searches keep hitting the old
        indices until the swap, then see only the new ones; the old indices are then
        deleted. Writes made through the store while a rebuild runs go to the old
        indices and are lost with them, so run it with no indexer writing.
        Returns the number of passages loaded.
        """
        now = datetime.now(UTC)
        new_passages = req.versioned_index_name(self.index, now)
        new_filings = req.versioned_index_name(self.filings_index, now)
        created: list[str] = []
        loaded = 0
        swap_sent = False
        with self._errors("rebuild the index"):
            try:
                # No refreshes while loading: one segment flush at the end instead of
                # one per second of loading.
                for name, body in (
                    (new_passages, req.index_body(refresh_interval="-1", replicas=self._replicas)),
                    (
                        new_filings,
                        req.filings_index_body(refresh_interval="-1", replicas=self._replicas),
                    ),
                ):
                    self._client.indices.create(index=name, **body)
                    created.append(name)
                lines: list[dict] = []
                written = _now()
                for record, passages, vectors, views in filings:
                    _check_doc_ids(record, passages)
                    lines += req.filing_actions(new_filings, [record], written)
                    lines += req.bulk_actions(new_passages, passages, vectors, views)
                    loaded += len(passages)
                    if len(lines) >= 2 * BULK_PASSAGES:
                        self._bulk(lines)
                        lines = []
                if lines:
                    self._bulk(lines)
                both = f"{new_passages},{new_filings}"
                self._client.indices.put_settings(index=both, settings={"refresh_interval": None})
                self._client.indices.refresh(index=both)

                old_passages, concrete_p = self._indices_behind(self.index)
                old_filings, concrete_f = self._indices_behind(self.filings_index)
                swap = req.alias_swap_actions(
                    self.index, new_passages, old_passages, drop_concrete=concrete_p
                )
                swap_f = req.alias_swap_actions(
                    self.filings_index, new_filings, old_filings, drop_concrete=concrete_f
                )
                # Both aliases in one request: passages and filings change together.
                # Not retried: a swap applied before a timeout would fail its retry.
                swap_sent = True
                self._client.options(max_retries=0).indices.update_aliases(
                    actions=swap["actions"] + swap_f["actions"]
                )
            except BaseException:
                # Leave no half-built index behind, and never one an alias points to:
                # a swap that failed on our side may have been applied on the server.
                # A failure here must not hide the error that got us here.
                with suppress(Exception):
                    orphans = created
                    if swap_sent:
                        live = set(self._indices_behind(self.index)[0])
                        live |= set(self._indices_behind(self.filings_index)[0])
                        orphans = [name for name in created if name not in live]
                    if orphans:
                        self._client.indices.delete(
                            index=",".join(orphans), ignore_unavailable=True
                        )
                raise
            old = [i for i in old_passages + old_filings if i not in (new_passages, new_filings)]
            if old:
                self._client.indices.delete(index=",".join(old), ignore_unavailable=True)
        self._ready = True
        return loaded

    def _bulk(self, lines: list[dict], *, require_alias: bool = False) -> None:
        """Send ``_bulk`` lines, raising StoreError naming the first failed item.

        Writes through an alias pass ``require_alias``: it stops Elasticsearch from
        auto-creating a concrete index with a dynamic mapping under the alias's name
        if the alias was dropped meanwhile (e.g. by another process's ``drop()``).
        """
        resp = self._client.bulk(operations=lines, require_alias=require_alias)
        failed = req.bulk_errors(resp.body)
        if failed:
            more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
            raise StoreError(f"Elasticsearch refused a document: {failed[0]}{more}")

    # --- writes ---------------------------------------------------------------------

    def write_filing(
        self,
        record: FilingRecord,
        passages: list[dict],
        vectors: np.ndarray,
        views: list[np.ndarray] | None = None,
    ) -> None:
        """Replace a filing's passages and record, in four steps that converge.

        Elasticsearch has no multi-document transactions, so this is not atomic:

        1. delete the filing record (its content hash): from here until step 4 the
           filing counts as not indexed, so an indexer that dies midway redoes it;
        2. index the new passages under their ids, overwriting same-id old ones;
        3. delete the filing's passages that the new version no longer has;
        4. write the record with the new content hash.

        A search running meanwhile sees the filing's old passages, or a mix of old
        and new ones (between 2 and 3), never none of them; ``get_filing`` may
        return None between 1 and 4. Step 3 refreshes the index, so the new
        passages are searchable when this returns (``refresh=wait_for`` would wait
        up to a second per filing, and ``_delete_by_query`` offers only true/false).
        The record is read by id at once; listings refresh the filings index first.
        """
        _check_doc_ids(record, passages)
        lines = req.bulk_actions(self.index, passages, vectors, views)
        self.ensure_index()
        with self._errors("write a filing"):
            self._delete_record(record.doc_id)
            for start in range(0, len(lines), 2 * BULK_PASSAGES):
                self._bulk(lines[start : start + 2 * BULK_PASSAGES], require_alias=True)
            keep = [str(p["id"]) for p in passages]
            self._delete_passages(req.stale_passages_body(record.doc_id, keep))
            self._client.index(
                index=self.filings_index,
                id=record.doc_id,
                document=req.filing_source(record, _now()),
                require_alias=True,
            )
            self._filings_stale = True

    def _delete_record(self, doc_id: str) -> None:
        try:
            self._client.delete(index=self.filings_index, id=doc_id)
        except NotFoundError as err:
            if _error_type(err) not in (None, "index_not_found_exception"):
                raise

    def _delete_passages(self, body: dict) -> None:
        # conflicts=proceed: a passage changed by a concurrent write is skipped, not fatal.
        resp = self._client.delete_by_query(
            index=self.index, body=body, refresh=True, conflicts="proceed"
        )
        if resp.body.get("failures"):
            first = resp.body["failures"][0]
            raise StoreError(f"Elasticsearch could not delete passages: {first}")

    def delete_filing(self, doc_id: str) -> None:
        """Remove a filing's record and passages (nothing to do if absent)."""
        if not self._exists():
            return
        with self._errors("delete a filing"):
            # The record first, for the same reason as in write_filing.
            self._delete_record(doc_id)
            self._delete_passages(req.delete_by_doc_body(doc_id))
            self._filings_stale = True

    # --- reads ----------------------------------------------------------------------

    def _exists(self) -> bool:
        """Whether the passages alias exists (reads of a missing index are empty)."""
        if self._ready:
            return True
        with self._errors("look up the index"):
            return bool(self._client.indices.exists(index=self.index))

    def content_hashes(self) -> dict[str, str]:
        """doc_id → content hash of every filing."""
        return self._every_filing(req.FILING_HASHES)

    def locations(self) -> dict[str, str]:
        """doc_id → where every filing's file is (see Store.locations)."""
        return self._every_filing(req.FILING_LOCATIONS, req.filing_location)

    def _every_filing(
        self, fields: tuple, value: Callable[[Mapping], str] | None = None
    ) -> dict[str, str]:
        """doc_id → ``value`` of each filing's ``fields``, paged by ``search_after``."""
        found: dict[str, str] = {}
        after = None
        while True:
            body = req.filings_page_body(after=after, fields=fields)
            resp = self._search(body, "list the filings", self.filings_index)
            if resp is None:
                return {}
            page, after = req.parse_filings_page(resp, value)
            found.update(page)
            if len(page) < req.FILINGS_PAGE_SIZE:
                return found

    def models(self) -> dict[str, int]:
        """Encoder name → number of filings (empty when the index does not exist yet)."""
        resp = self._search(req.models_body(), "list the models", self.filings_index)
        return {} if resp is None else req.parse_models_response(resp)

    def get_filing(self, doc_id: str) -> FilingRecord | None:
        """One filing record by doc_id, or None."""
        with self._errors("read a filing"):
            try:
                resp = self._client.get(index=self.filings_index, id=doc_id)
            except NotFoundError:
                # The document or the whole index is missing: either way, no filing.
                return None
        return req.filing_from_source(resp.body["_source"])

    def get_passages(self, ids: list[str]) -> list[dict]:
        """Passages by id in the order asked, unknown ids left out, without vectors."""
        resp = self._mget(ids, source_excludes=list(schema.VECTOR_FIELDS))
        return req.parse_mget_response(resp) if resp else []

    def view_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """The views' vectors of passages (from ``_source``), for re-scoring candidates."""
        resp = self._mget(ids, source_includes=["views"])
        return req.parse_views_response(resp) if resp else {}

    def _mget(self, ids: list[str], **source: list[str]) -> Mapping | None:
        """An ``_mget`` of passages by id; None when there are none (or no index)."""
        if not ids:
            return None
        with self._errors("read passages"):
            try:
                return self._client.mget(index=self.index, ids=[str(i) for i in ids], **source).body
            except NotFoundError as err:
                if _error_type(err) == "index_not_found_exception":
                    return None
                raise

    def keyword(
        self,
        groups: Sequence[Group],
        filters: Filters,
        size: int,
        facets: list[str],
        exclude: Sequence[Group] = (),
    ) -> KeywordResult:
        """BM25 over the jieba tokens: every group matches and no excluded one, filtered,
        with facet counts."""
        body = req.keyword_search_body(groups, filters, size, facets, exclude=exclude)
        resp = self._search(body, "search")
        if resp is None:
            return KeywordResult(hits=[], total=0, facets={name: [] for name in facets})
        return self._deeper(body, resp, size)

    def _deeper(self, body: dict, resp: dict, size: int) -> KeywordResult:
        """The first page's result, with hits beyond the 10,000 one search returns read
        by ``search_after`` until ``size`` (pages of the export, a deep page number).

        Without a point in time, a filing written meanwhile can shift the deeper pages.
        """
        result = req.parse_keyword_response(resp)
        after = req.last_sort(resp)
        while after is not None and req.MAX_RESULT_WINDOW <= len(result.hits) < size:
            more = req.keyword_next_page_body(body, after, size - len(result.hits))
            page = self._search(more, "search")
            if page is None or not page["hits"]["hits"]:
                break
            result.hits.extend(req.parse_keyword_response(page).hits)
            after = req.last_sort(page)
        return result

    def knn(self, vector: np.ndarray, filters: Filters, k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest passages passing ``filters``, with cosine similarity."""
        if k < 1:
            return []
        resp = self._search(req.knn_search_body(vector, filters, k), "run a vector search")
        return [] if resp is None else req.parse_knn_response(resp)

    def _search(self, body: dict, action: str, index: str | None = None) -> dict | None:
        """Run one search on ``index`` (the passages alias by default); None when it is missing."""
        with self._errors(action):
            try:
                if index == self.filings_index and self._filings_stale:
                    self._client.indices.refresh(index=self.filings_index)
                    self._filings_stale = False
                return self._client.search(index=index or self.index, body=body).body
            except NotFoundError as err:
                if _error_type(err) == "index_not_found_exception":
                    return None
                raise

    def count(self) -> int:
        """Passages stored (0 when the index does not exist yet)."""
        with self._errors("count passages"):
            try:
                return int(self._client.count(index=self.index)["count"])
            except NotFoundError as err:
                if _error_type(err) == "index_not_found_exception":
                    return 0
                raise

    def stamp(self) -> str:
        """Filings stored and the latest time one was written ("" with no index yet)."""
        resp = self._search(req.stamp_body(), "look up the index's state", self.filings_index)
        return "" if resp is None else req.parse_stamp_response(resp)

    def close(self) -> None:
        """Close the client's connections."""
        self._client.close()


# --- helpers --------------------------------------------------------------------------


def _now() -> int:
    """Microseconds since the epoch: when a filing record is written."""
    return time.time_ns() // 1000


def client_options(
    url: str,
    *,
    url_auth: tuple[str, str] | None = None,
    api_key: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    verify_certs: bool = True,
    request_timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> dict:
    """The client's keyword arguments for ``url`` (credentials already split out).

    Credentials, first found wins: ``api_key``, ``basic_auth``, the URL's,
    ``JIXIAO_ES_API_KEY``, then the user ``elastic`` with ``JIXIAO_ES_PASSWORD`` or
    ``ELASTIC_PASSWORD``. For https, ``JIXIAO_ES_CA_CERTS`` (the CA file a default
    Elasticsearch 8+ install writes to ``config/certs/http_ca.crt``) or
    ``JIXIAO_ES_FINGERPRINT`` (its SHA-256) verify a self-signed certificate.
    """
    env = env or {}
    options: dict = {
        "hosts": [url],
        "request_timeout": request_timeout,
        # Retries cover a node restarting; a server that is down fails in seconds.
        "max_retries": 2,
        "retry_on_timeout": True,
    }
    if api_key is None and basic_auth is None and url_auth is None:
        api_key = env.get("JIXIAO_ES_API_KEY") or None
    if api_key is not None:
        options["api_key"] = api_key
    elif basic_auth is not None or url_auth is not None:
        options["basic_auth"] = basic_auth or url_auth
    elif password := env.get("JIXIAO_ES_PASSWORD") or env.get("ELASTIC_PASSWORD"):
        options["basic_auth"] = ("elastic", password)
    if url.startswith("https:"):
        options["verify_certs"] = verify_certs
        if ca_certs := env.get("JIXIAO_ES_CA_CERTS"):
            options["ca_certs"] = ca_certs
        if fingerprint := env.get("JIXIAO_ES_FINGERPRINT"):
            options["ssl_assert_fingerprint"] = fingerprint
    return options


def _check_doc_ids(record: FilingRecord, passages: Sequence[dict]) -> None:
    """Every passage must belong to the filing: stale ones are found by ``doc_id``."""
    for passage in passages:
        if passage.get("doc_id") != record.doc_id:
            raise ValueError(
                f"passage {passage.get('id')!r} has doc_id {passage.get('doc_id')!r}, "
                f"not the filing's {record.doc_id!r}"
            )


def _split_url(url: str) -> tuple[str, tuple[str, str] | None]:
    """(URL without credentials, (user, password) from it or None).

    Messages show the URL without its password; a user without a password takes
    the password from the environment.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StoreError(f"Elasticsearch URL must look like http://host:9200, not {_redact(url)!r}")
    try:
        port = parts.port or (9200 if parts.scheme == "http" else 443)
    except ValueError:
        raise StoreError(f"invalid port in Elasticsearch URL {_redact(url)!r}") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    clean = urlunsplit((parts.scheme, f"{host}:{port}", parts.path.rstrip("/"), "", ""))
    auth = None
    if parts.username:
        password = parts.password
        if password is None:
            password = os.environ.get("JIXIAO_ES_PASSWORD") or os.environ.get(
                "ELASTIC_PASSWORD", ""
            )
        auth = (unquote(parts.username), unquote(password))
    return clean, auth


def _redact(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _error_type(err: ApiError) -> str | None:
    """Elasticsearch's error type (``index_not_found_exception``…) from an API error."""
    body = err.body if isinstance(err.body, dict) else {}
    error = body.get("error")
    return error.get("type") if isinstance(error, dict) else None


def _api_reason(err: ApiError) -> str:
    """One line from an API error: its type and reason, else the HTTP status."""
    body = err.body if isinstance(err.body, dict) else {}
    reason = req.response_error(body)
    if reason:
        return reason.splitlines()[0]
    return f"HTTP {err.meta.status}" if err.meta is not None else str(err.message)


def _transport_reason(err: TransportError) -> str:
    """A short reason for a connection-level failure (the client's text is long)."""
    text = str(err.message)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if any(
        s in lowered
        for s in ("name or service not known", "failed to resolve", "nodename nor servname")
    ):
        return "unknown host"
    if "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "certificate" in lowered:
        return (
            "certificate not trusted (set JIXIAO_ES_CA_CERTS to the server's CA file, "
            "or JIXIAO_ES_FINGERPRINT to its SHA-256 fingerprint)"
        )
    return text.splitlines()[0] if text else type(err).__name__
