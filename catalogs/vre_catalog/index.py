"""In-memory search index over catalogue entries: free text (BM25), facets, bbox and time overlap.

Everything a query touches is precomputed into numpy arrays at load time, so a query is a handful of
vectorised operations whatever the catalogue size (see benchmarks/bench_catalog.py).
"""
from __future__ import annotations

import difflib
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from .layout import REMOTE_SUFFIX, default_catalog_path, read_tree

FACETS = ("pole", "standard_name", "variable", "platform", "instrument", "provider", "data_centre", "protocol", "keyword",
          "sample")  # sample: real / synthetic / staged (issue 14)
FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.0, "variables": 1.5, "description": 1.0, "provider": 1.0}
BM25_K1, BM25_B = 1.2, 0.75
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at by de des du for from in into is la le les of on or the to with".split())
_NO_END = np.iinfo(np.int64).max  # ongoing datasets (time_coverage_end null) and open query ends
_NO_START = np.iinfo(np.int64).min


def _stem(word: str) -> str:
    """'' for stop words; a light plural stemmer so 'temperatures' finds 'temperature'."""
    if word in _STOP:
        return ""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case words, stop words dropped, plurals folded."""
    return [t for t in map(_stem, _TOKEN.findall(str(text).lower().replace("_", " "))) if t]


def _days(values: list, missing: int) -> np.ndarray:
    """Vectorised :func:`_day`; unparsable or absent dates become ``missing``."""
    text = [str(v)[:10] if v not in (None, "") else "NaT" for v in values]
    try:
        days = np.array(text, dtype="datetime64[D]")
    except ValueError:  # a bad date somewhere: parse one by one, skipping the bad ones
        days = np.array([_safe_day(t) for t in text], dtype="datetime64[D]")
    out = days.astype(np.int64)
    out[np.isnat(days)] = missing
    return out


def _safe_day(text: str):
    try:
        return np.datetime64(text, "D")
    except ValueError:
        return np.datetime64("NaT")


def _day(value) -> int | None:
    """ISO date/datetime string (or date) -> days since 1970-01-01; None stays None."""
    if value is None or value == "":
        return None
    text = str(value)
    try:
        return int(np.datetime64(text[:10], "D").astype(np.int64))
    except ValueError:
        raise ValueError(f"invalid date {value!r}; use ISO 8601, e.g. 2020-01-31") from None


@dataclass
class Entry:
    """One dataset of the catalogue (its sample and, when present, its ``_remote`` twin)."""

    id: str
    pole: str
    name: str
    description: str
    metadata: dict
    catalog_path: Path | None = None
    has_remote: bool = False

    @property
    def title(self) -> str:
        return self.metadata.get("title", self.name)

    @property
    def variables(self) -> list[dict]:
        return [
            {k: v.get(k) for k in ("name", "standard_name", "units", "long_name")}
            for v in self.metadata.get("variables") or []
        ]

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        m = self.metadata
        keys = ("geospatial_lon_min", "geospatial_lat_min", "geospatial_lon_max", "geospatial_lat_max")
        if any(m.get(k) is None for k in keys):
            return None
        return tuple(float(m[k]) for k in keys)  # (west, south, east, north)

    @property
    def time_coverage(self) -> tuple[str | None, str | None]:
        return self.metadata.get("time_coverage_start"), self.metadata.get("time_coverage_end")

    @property
    def protocol(self) -> str | None:
        return (self.metadata.get("access") or {}).get("protocol")

    @property
    def provider(self) -> str | None:
        return self.metadata.get("publisher_name")

    @property
    def sample_kind(self) -> str | None:
        """What the default source holds: "real", "synthetic" or "staged" (None for harvested records)."""
        return (self.metadata.get("sample") or {}).get("kind")

    def source_name(self, source: str = "sample") -> str:
        if source not in ("sample", "remote"):
            raise ValueError(f"source must be 'sample' or 'remote', not {source!r}")
        if source == "remote" and not self.has_remote:
            raise ValueError(f"{self.id} has no remote source; open the sample instead")
        return self.name + (REMOTE_SUFFIX if source == "remote" else "")

    def code(self, var: str = "ds", source: str = "sample") -> str:
        """The one line that opens this entry with plain intake."""
        path = str(self.catalog_path or default_catalog_path())
        return f"{var} = intake.open_catalog({path!r}).{self.pole}.{self.source_name(source)}.read()"

    def intake_source(self, source: str = "sample"):
        if self.catalog_path is None:
            raise ValueError(f"{self.id} was not loaded from a catalogue file; nothing to open")
        return _open_catalog(str(self.catalog_path))[self.pole][self.source_name(source)]

    def open(self, source: str = "sample"):
        """Read the data through intake: an xarray.Dataset or a pandas.DataFrame (a dict for JSON APIs)."""
        return self.intake_source(source).read()

    def __repr__(self) -> str:
        return f"<Entry {self.id}: {self.title}>"


@lru_cache(maxsize=8)
def _open_catalog(path: str):
    import intake

    return intake.open_catalog(path)


class _StoredEntries(Sequence):
    """The entries of a cached index: one pickled tuple each, end to end in one byte string, made an
    :class:`Entry` when first read.

    Unpickling 100,000 metadata dicts took 5 s, which a notebook pays before the browser shows; one byte
    string (memory-mapped from the cache) and its offsets load in a few milliseconds, and a screen reads a few
    hundred entries.
    """

    __slots__ = ("_blob", "_offsets", "_made", "catalog_path")

    def __init__(self, blob: np.ndarray, offsets: np.ndarray, catalog_path: Path | None = None):
        self._blob, self._offsets, self._made, self.catalog_path = blob, offsets, {}, catalog_path

    @classmethod
    def of(cls, entries) -> "_StoredEntries":
        if isinstance(entries, cls):
            return entries
        import pickle

        docs = [pickle.dumps((e.id, e.pole, e.name, e.description, e.metadata, e.has_remote,
                              None if e.catalog_path is None else str(e.catalog_path)), protocol=5)
                for e in entries]
        offsets = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum([len(d) for d in docs], out=offsets[1:])
        return cls(np.frombuffer(b"".join(docs), dtype=np.uint8), offsets)  # an array: mapped, not copied, from the cache

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        i = range(len(self))[i]  # negative indices, IndexError
        entry = self._made.get(i)
        if entry is None:
            import pickle

            a, b = self._offsets[i], self._offsets[i + 1]
            ident, pole, name, description, metadata, has_remote, path = pickle.loads(memoryview(self._blob)[a:b])
            # Opened where the catalogue is now (a read-only mount in a user's container), not where it was indexed.
            path = self.catalog_path or (None if path is None else Path(path))
            entry = self._made[i] = Entry(ident, pole, name, description, metadata, path, has_remote)
        return entry

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __reduce__(self):
        return _StoredEntries, (self._blob, self._offsets)


class _Hits(Sequence):
    """The entries of a result, in rank order, looked up only when read (100,000 hits cost nothing until listed)."""

    __slots__ = ("_all", "_order")

    def __init__(self, entries: list[Entry], order: np.ndarray):
        self._all, self._order = entries, order

    def __len__(self) -> int:
        return int(self._order.size)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self._all[j] for j in self._order[i].tolist()]
        return self._all[int(self._order[i])]

    def __iter__(self):
        return (self._all[j] for j in self._order.tolist())

    def __eq__(self, other) -> bool:
        return list(self) == list(other) if isinstance(other, (list, tuple, Sequence)) else NotImplemented

    def __repr__(self) -> str:
        return f"<{len(self)} entries>"


class SearchResult:
    """Matching entries (``entries``, best first), their ``scores``, the ``total`` and ``facet_counts``."""

    def __init__(self, entries, facet_counts: dict[str, dict[str, int]], scores=(), total: int | None = None):
        self.entries = entries
        self.facet_counts = facet_counts
        self._scores = scores
        self.total = len(entries) if total is None else total

    @property
    def scores(self) -> list[float]:
        return self._scores.tolist() if isinstance(self._scores, np.ndarray) else list(self._scores)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.entries]


class CatalogIndex:
    """Search over a catalogue; build with :meth:`from_catalog` or :meth:`from_entries`."""

    def __init__(self, entries: list[Entry]):
        self.entries = list(entries)
        self._ids = [e.id for e in self.entries]
        self._by_id = {ident: i for i, ident in enumerate(self._ids)}
        if len(self._by_id) != len(self.entries):
            dup = sorted({e.id for e in self.entries if sum(x.id == e.id for x in self.entries) > 1})
            raise ValueError(f"duplicate entry ids {dup}; give every source a unique name")
        self._build()

    def __getstate__(self):
        """Pickled (the index cache) with its entries as compact records (see :class:`_StoredEntries`)."""
        return {**self.__dict__, "entries": _StoredEntries.of(self.entries)}

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_catalog(cls, path: str | Path | None = None, cache: bool = True) -> "CatalogIndex":
        """Index the catalogue at ``path`` (default: :func:`default_catalog_path`).

        The built index is cached (pickle) next to the catalogue when that directory is writable, else in
        ``~/.cache/vre_catalog``; the cache is used only while every catalogue file keeps its size and mtime.
        """
        root = (Path(path) if path else default_catalog_path()).resolve()
        fingerprint = _fingerprint(root) if cache else None
        if fingerprint:
            cached = _read_cache(root, fingerprint)
            if cached is not None:
                if isinstance(cached.entries, _StoredEntries):
                    cached.entries.catalog_path = root
                return cached
        index = cls._build_from_tree(read_tree(root))
        if fingerprint:
            _write_cache(root, fingerprint, index)
        return index

    @classmethod
    def _build_from_tree(cls, tree) -> "CatalogIndex":
        entries = []
        for pole in tree.poles:
            names = set(pole.sources)
            for name, spec in pole.sources.items():
                if name.endswith(REMOTE_SUFFIX) and name[: -len(REMOTE_SUFFIX)] in names:
                    continue
                spec = spec or {}
                entries.append(Entry(
                    id=f"{pole.pole}.{name}", pole=pole.pole, name=name,
                    description=str(spec.get("description") or ""),
                    metadata=dict(spec.get("metadata") or {}), catalog_path=tree.root,
                    has_remote=f"{name}{REMOTE_SUFFIX}" in names,
                ))
        return cls(entries)

    @classmethod
    def from_entries(cls, records: Iterable[dict]) -> "CatalogIndex":
        """Build from plain metadata dicts (keys as in the YAML metadata, plus ``id`` or ``name``, and ``description``)."""
        entries = []
        for i, rec in enumerate(records):
            rec = dict(rec)
            pole = rec.get("pole", "unknown")
            ident = rec.pop("id", None) or f"{pole}.{rec.get('name', f'entry_{i}')}"
            name = ident.split(".", 1)[-1]
            entries.append(Entry(id=ident, pole=pole, name=name, description=str(rec.pop("description", "")),
                                 metadata=rec, has_remote=bool(rec.pop("has_remote", False))))
        return cls(entries)

    def _build(self) -> None:
        """Flat arrays from one pass over the entries; numpy turns them into postings, facets, bbox, time."""
        n = len(self.entries)
        words: list[str] = []  # every word of every field, in document order
        counts: list[int] = []  # words per (document, field)
        field_weights = [FIELD_WEIGHTS[f] for f in ("title", "keywords", "variables", "description", "provider")]
        facet_values: dict[str, list[list[str]]] = {f: [] for f in FACETS}
        west = np.full((n, 2), np.nan)
        east = np.full((n, 2), np.nan)
        south = np.full(n, np.nan)
        north = np.full(n, np.nan)
        starts: list[str | None] = []
        ends: list[str | None] = []
        findall = _TOKEN.findall
        for i, e in enumerate(self.entries):
            m = e.metadata
            variables = m.get("variables") or []
            for text in (
                f"{e.title} {e.name} {e.pole}",
                " ".join(map(str, m.get("keywords") or [])),
                " ".join(f"{v.get('name') or ''} {v.get('standard_name') or ''} {v.get('long_name') or ''}" for v in variables),
                e.description,
                f"{m.get('publisher_name') or ''} {m.get('data_centre') or ''} {m.get('institution') or ''}",
            ):
                found = findall(text.lower().replace("_", " "))
                words.extend(found)
                counts.append(len(found))
            for facet in FACETS:
                facet_values[facet].append(list(dict.fromkeys(self._facet_of(e, facet))))
            bbox = e.bbox
            if bbox is not None:
                w, s_, e_, n_ = bbox
                for j, (a, b) in enumerate(_lon_intervals(w, e_)):
                    west[i, j], east[i, j] = a, b
                south[i], north[i] = s_, n_
            start, end = e.time_coverage
            starts.append(start)
            ends.append(end)
        self._west, self._east, self._south, self._north = west, east, south, north
        self._start, self._end, self._has_time = _days(starts, _NO_START), _days(ends, _NO_END), np.zeros(n, dtype=bool)
        self._has_time = (self._start != _NO_START) | (self._end != _NO_END)

        # Words -> token ids through a per-distinct-word table (stop words -> -1), then drop stop words.
        vocab: dict[str, int] = {}
        word_id: dict[str, int] = {}
        for word in set(words):
            tok = _stem(word)
            word_id[word] = vocab.setdefault(tok, len(vocab)) if tok else -1
        tok = np.fromiter(map(word_id.__getitem__, words), dtype=np.int64, count=len(words))
        per_field = np.asarray(counts, dtype=np.int64)
        doc = np.repeat(np.repeat(np.arange(n, dtype=np.int64), len(field_weights)), per_field)
        wts = np.repeat(np.tile(np.asarray(field_weights), n), per_field)
        keep = tok >= 0
        tok, doc, wts = tok[keep], doc[keep], wts[keep]

        # Facets: (document, value code) pairs.
        self._facet_lookup, self._facet_values, self._facet_docs, self._facet_codes = {}, {}, {}, {}
        for facet, per_doc in facet_values.items():
            lookup: dict[str, int] = {}
            codes = [lookup.setdefault(v, len(lookup)) for values in per_doc for v in values]
            self._facet_lookup[facet] = lookup
            self._facet_values[facet] = list(lookup)
            # int64 (numpy's index type): int32 index arrays are converted at every query (text p95 x2 at 100k)
            self._facet_docs[facet] = np.repeat(np.arange(n, dtype=np.int64), [len(v) for v in per_doc]) if n else np.zeros(0, dtype=np.int64)
            self._facet_codes[facet] = np.asarray(codes, dtype=np.int64)
        # Where each document's values start in its facet's (document-ordered) pairs: counting the values of a
        # few matching documents gathers them instead of scanning every pair.
        self._facet_starts = {f: np.searchsorted(self._facet_docs[f], np.arange(n + 1)) for f in FACETS}
        self._facet_totals: dict[str, np.ndarray] = {}
        self._all_counts = None

        # Postings in CSR form: for token t, docs[indptr[t]:indptr[t+1]] with their BM25 contributions.
        lengths = np.bincount(doc, weights=wts, minlength=n) if n else np.zeros(0)
        avg = lengths.mean() if n and lengths.mean() > 0 else 1.0
        key = tok * max(n, 1) + doc
        order = np.argsort(key, kind="stable")
        uniq, first = np.unique(key[order], return_index=True)
        tf = np.add.reduceat(wts[order], first) if uniq.size else np.zeros(0)
        p_tok, p_doc = uniq // max(n, 1), uniq % max(n, 1)
        df = np.bincount(p_tok, minlength=len(vocab))
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
        self._p_doc = p_doc
        self._p_score = idf[p_tok] * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * lengths[p_doc] / avg))
        self._indptr = np.searchsorted(p_tok, np.arange(len(vocab) + 1))
        self._vocab_ids = vocab
        self._vocab = sorted(vocab)


    def _postings(self, tok: str) -> tuple[np.ndarray, np.ndarray]:
        t = self._vocab_ids[tok]
        a, b = self._indptr[t], self._indptr[t + 1]
        return self._p_doc[a:b], self._p_score[a:b]

    @staticmethod
    def _facet_of(e: Entry, facet: str) -> list[str]:
        m = e.metadata
        if facet == "pole":  # harvested catalogues are named after their source; their entries say their pole
            return [m.get("pole") or e.pole]
        if facet == "standard_name":
            return [v["standard_name"] for v in m.get("variables") or [] if v.get("standard_name")]
        if facet == "variable":
            return [v["name"] for v in m.get("variables") or [] if v.get("name")]
        if facet in ("platform", "instrument"):
            value = m.get(facet) or []
            return [str(x) for x in (value if isinstance(value, list) else [value])]
        if facet == "keyword":
            return [str(k).lower() for k in m.get("keywords") or []]
        if facet == "provider":
            return [m["publisher_name"]] if m.get("publisher_name") else []
        if facet == "data_centre":
            return [m["data_centre"]] if m.get("data_centre") else []
        if facet == "protocol":
            return [e.protocol] if e.protocol else []
        if facet == "sample":
            return [e.sample_kind] if e.sample_kind else []
        raise KeyError(facet)

    # ---- lookup -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __contains__(self, ident: str) -> bool:
        return ident in self._by_id

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def __getitem__(self, ident: str) -> Entry:
        try:
            return self.entries[self._by_id[ident]]
        except KeyError:
            close = difflib.get_close_matches(str(ident), self._by_id, n=3, cutoff=0.5)
            if not close:  # try the bare name against every pole
                bare = str(ident).split(".")[-1]
                close = [i for i in self._by_id if bare and bare in i][:3]
            hint = f"did you mean {', '.join(close)}?" if close else "list the ids with CatalogIndex.ids or `vre catalog search`"
            raise KeyError(f"unknown catalogue entry {ident!r}; {hint}") from None

    # ---- search -------------------------------------------------------------------------------
    def search(self, text: str | None = None, facets: dict[str, Iterable[str]] | None = None,
               bbox: tuple[float, float, float, float] | None = None,
               time: tuple[str | None, str | None] | None = None, limit: int | None = None) -> SearchResult:
        n = len(self.entries)
        mask = np.ones(n, dtype=bool)
        for facet, wanted in (facets or {}).items():
            mask &= self._facet_mask(facet, wanted)
        if bbox is not None:
            mask &= self._bbox_mask(bbox)
        if time is not None:
            mask &= self._time_mask(time)
        scores = np.zeros(n)
        tokens = tokenize(text) if text else []
        if tokens:
            matched = np.zeros(n, dtype=np.int64)
            for tok in tokens:
                hit = np.zeros(n, dtype=bool)
                for key in self._expand(tok):
                    idx, contribution = self._postings(key)
                    scores[idx] += contribution  # doc ids are unique within a posting list
                    hit[idx] = True
                matched += hit
            mask &= matched == len(tokens)  # every word must match somewhere
            order = np.flatnonzero(mask)
            order = order[np.argsort(-scores[order], kind="stable")]
        else:
            order = np.flatnonzero(mask)
        total = int(order.size)
        counts = self._counts(mask, order)
        if limit is not None:
            order = order[: max(int(limit), 0)]
        return SearchResult(_Hits(self.entries, order), counts, scores[order], total)

    def facet_counts(self) -> dict[str, dict[str, int]]:
        return self._counts(np.ones(len(self.entries), dtype=bool), None)

    def _expand(self, tok: str) -> list[str]:
        """The token itself if indexed, else indexed words it prefixes (search-as-you-type)."""
        if tok in self._vocab_ids:
            return [tok]
        start = bisect_left(self._vocab, tok)
        out = []
        for word in self._vocab[start:start + 64]:
            if not word.startswith(tok):
                break
            out.append(word)
        return out

    def _facet_mask(self, facet: str, wanted) -> np.ndarray:
        if facet not in self._facet_lookup:
            raise ValueError(f"unknown facet {facet!r}; use one of {', '.join(FACETS)}")
        if isinstance(wanted, str):
            wanted = [wanted]
        lookup = self._facet_lookup[facet]
        if facet == "keyword":
            wanted = [w.lower() for w in wanted]
        codes = [lookup[w] for w in wanted if w in lookup]
        mask = np.zeros(len(self.entries), dtype=bool)
        if codes:
            sel = np.isin(self._facet_codes[facet], codes)
            mask[self._facet_docs[facet][sel]] = True
        return mask

    def _bbox_mask(self, bbox) -> np.ndarray:
        try:
            w, s, e, north = (float(x) for x in bbox)
        except (TypeError, ValueError):
            raise ValueError("bbox must be (west, south, east, north) in degrees") from None
        if not (-90 <= s <= north <= 90) or not (-180 <= w <= 180 and -180 <= e <= 180):
            raise ValueError(f"bbox {bbox} out of range; longitudes in [-180, 180], south <= north in [-90, 90]")
        lat_ok = (self._south <= north) & (self._north >= s)
        lon_ok = np.zeros(len(self.entries), dtype=bool)
        with np.errstate(invalid="ignore"):
            for qa, qb in _lon_intervals(w, e):
                lon_ok |= ((self._west <= qb) & (self._east >= qa)).any(axis=1)
        return lat_ok & lon_ok

    def _time_mask(self, time) -> np.ndarray:
        start, end = time
        s_day, e_day = _day(start), _day(end)
        if s_day is not None and e_day is not None and s_day > e_day:
            raise ValueError(f"time range starts after it ends ({start} > {end}); swap them")
        s_day = _NO_START if s_day is None else s_day
        e_day = _NO_END if e_day is None else e_day
        return self._has_time & (self._start <= e_day) & (self._end >= s_day)

    def _counts(self, mask: np.ndarray, hits: np.ndarray | None) -> "FacetCounts":
        """Facet value counts over the matching documents (``hits``: their indices, None = from ``mask``),
        computed per facet when first read (the browser shows four of the nine)."""
        if hits is None:
            hits = np.flatnonzero(mask)
        if hits.size == len(self.entries):
            if self._all_counts is None:
                self._all_counts = FacetCounts(lambda facet: self._facet_count(facet, mask, hits))
            return self._all_counts
        return FacetCounts(lambda facet: self._facet_count(facet, mask, hits))

    def _facet_count(self, facet: str, mask: np.ndarray, hits: np.ndarray) -> dict[str, int]:
        """Counts of one facet over ``hits``: gather the values of few hits; mask every pair for many; for
        nearly all documents, subtract the values of the few others from the counts over every document."""
        codes, values = self._facet_codes[facet], self._facet_values[facet]
        n = len(self.entries)
        full = self._facet_totals.get(facet)
        if full is None:
            full = self._facet_totals[facet] = np.bincount(codes, minlength=len(values))
        if hits.size == n:
            counts = full
        elif hits.size * 10 <= n:
            counts = np.bincount(codes[self._pairs_of(facet, hits)], minlength=len(values))
        elif hits.size * 10 >= 9 * n:
            counts = full - np.bincount(codes[self._pairs_of(facet, np.flatnonzero(~mask))], minlength=len(values))
        else:
            counts = np.bincount(codes[mask[self._facet_docs[facet]]], minlength=len(values))
        nonzero = np.flatnonzero(counts)
        ranked = nonzero[np.argsort(-counts[nonzero], kind="stable")]
        return dict(zip([values[c] for c in ranked.tolist()], counts[ranked].tolist()))

    def _pairs_of(self, facet: str, docs: np.ndarray) -> np.ndarray:
        """Positions of the (document, value) pairs of ``docs`` in the facet's document-ordered pairs."""
        starts = self._facet_starts[facet]
        first, lengths = starts[docs], starts[docs + 1] - starts[docs]
        return np.repeat(first - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()))


class FacetCounts(Mapping):
    """facet -> {value: count}, most frequent first; each facet is counted when first read."""

    def __init__(self, count):
        self._count, self._done = count, {}

    def __getitem__(self, facet: str) -> dict[str, int]:
        if facet not in FACETS:
            raise KeyError(facet)
        if facet not in self._done:
            self._done[facet] = self._count(facet)
        return self._done[facet]

    def __iter__(self):
        return iter(FACETS)

    def __len__(self) -> int:
        return len(FACETS)

    def __getstate__(self):  # pickled with the index cache: store the numbers, not the closure
        return {"done": {f: self[f] for f in FACETS}}

    def __setstate__(self, state):
        self._done, self._count = state["done"], None

    def __repr__(self) -> str:
        return repr(dict(self))


CACHE_VERSION = 6  # 2: per-document facet offsets, lazy facet counts; 3: sample facet; 4: entries as compact
#   records, fingerprint relative to the catalogue folder (the same cache serves a read-only mount elsewhere);
#   5: arrays stored beside the pickle and memory-mapped (see _write_cache); 6: int64 postings and facets again
CACHE_NAME = ".vre-catalog-index.pkl"
_CACHE_MAGIC = b"VRE-CATALOG-INDEX\n"


def _fingerprint(root: Path) -> list | None:
    """(path relative to the root's folder, size, mtime) of the root catalogue and of every sub-catalogue it
    names; None if unreadable.  Relative, so a cache built on the host is valid where the folder is mounted."""
    import os

    from .layout import read_yaml, sub_catalog_path

    try:
        files = [root]
        for spec in read_yaml(root)["sources"].values():
            sub = sub_catalog_path(spec, root.parent)
            if sub is not None:
                files.append(sub.resolve())
        return [(os.path.relpath(f, root.parent), f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    except Exception:  # noqa: BLE001 - no cache then; building will report the real error
        return None


def _cache_paths(root: Path) -> list[Path]:
    import hashlib
    import os

    user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vre_catalog"
    return [root.parent / CACHE_NAME, user_cache / f"{hashlib.sha1(str(root).encode()).hexdigest()}.pkl"]


def _trusted(path: Path) -> bool:
    """Only unpickle files written by us or by root, and writable by nobody else."""
    import os

    st = path.stat()
    return st.st_uid in (0, os.getuid()) and not st.st_mode & 0o022


def _read_cache(root: Path, fingerprint: list):
    import json
    import mmap
    import pickle

    for path in _cache_paths(root):
        try:
            if not path.is_file() or not _trusted(path):
                continue
            with open(path, "rb") as f:
                if f.read(len(_CACHE_MAGIC)) != _CACHE_MAGIC:
                    continue
                header = json.loads(f.readline())
                if header.get("version") != CACHE_VERSION or header.get("fingerprint") != json.loads(json.dumps(fingerprint)):
                    continue
                # The arrays are views of the mapped file, read when a query touches them: loading a 100,000-entry
                # index costs the small objects only (the map outlives the file's closing; pages are shared).
                view = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
            start, length = header["pickle"]
            return pickle.loads(view[start:start + length], buffers=[view[a:a + n] for a, n in header["buffers"]])
        except Exception:  # noqa: BLE001 - a stale or broken cache is ignored
            continue
    return None


def _write_cache(root: Path, fingerprint: list, index) -> Path | None:
    """One file: magic, a JSON header line (version, fingerprint, where the parts are), the pickled index, then
    its arrays' bytes (pickle protocol 5 out-of-band buffers, 64-byte aligned) for :func:`_read_cache` to map."""
    import json
    import os
    import pickle
    import tempfile

    buffers: list = []
    body = pickle.dumps(index, protocol=5, buffer_callback=buffers.append)
    raw = [b.raw() for b in buffers]
    for path in _cache_paths(root):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vre-index-")
            with os.fdopen(fd, "wb") as f:
                # Offsets depend on the header's length, which depends on the offsets: pad the header line.
                header = {"version": CACHE_VERSION, "fingerprint": fingerprint, "pickle": [0, len(body)], "buffers": []}
                size = len(json.dumps(header)) + 40 * (len(raw) + 2) + 64
                offset = len(_CACHE_MAGIC) + size
                header["pickle"] = [offset, len(body)]
                offset += len(body)
                for buf in raw:
                    offset += -offset % 64
                    header["buffers"].append([offset, buf.nbytes])
                    offset += buf.nbytes
                line = json.dumps(header).encode()
                assert len(line) < size, "cache header padding too small"
                f.write(_CACHE_MAGIC + line.ljust(size - 1) + b"\n")
                f.write(body)
                for buf, (at, _n) in zip(raw, header["buffers"]):
                    f.write(b"\0" * (at - f.tell()))
                    f.write(buf)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            return path
        except OSError:
            continue
    return None


def _lon_intervals(west: float, east: float) -> list[tuple[float, float]]:
    """A longitude range as non-wrapping intervals: west > east crosses the antimeridian."""
    if west <= east:
        return [(west, east)]
    return [(west, 180.0), (-180.0, east)]
