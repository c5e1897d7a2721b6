"""In-memory search index over catalogue entries: free text (BM25), facets, bbox and time overlap.

Everything a query touches is precomputed into numpy arrays at load time, so a query is a handful of
vectorised operations whatever the catalogue size (see benchmarks/bench_catalog.py).
"""
from __future__ import annotations

import difflib
import math
import re
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .layout import REMOTE_SUFFIX, default_catalog_path, read_tree

FACETS = ("pole", "standard_name", "variable", "platform", "instrument", "provider", "data_centre", "protocol", "keyword")
FIELD_WEIGHTS = {"title": 3.0, "keywords": 2.0, "variables": 1.5, "description": 1.0, "provider": 1.0}
BM25_K1, BM25_B = 1.2, 0.75
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset("a an and are as at by de des du for from in into is la le les of on or the to with".split())
_NO_END = np.iinfo(np.int64).max  # ongoing datasets (time_coverage_end null) and open query ends
_NO_START = np.iinfo(np.int64).min


def tokenize(text: str) -> list[str]:
    """Lower-case words; a light plural stemmer so 'temperatures' finds 'temperature'."""
    words = []
    for word in _TOKEN.findall(str(text).lower().replace("_", " ")):
        if word in _STOP:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


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


@dataclass
class SearchResult:
    entries: list[Entry]
    facet_counts: dict[str, dict[str, int]]
    scores: list[float] = field(default_factory=list)
    total: int = 0

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
        self._by_id = {e.id: i for i, e in enumerate(self.entries)}
        if len(self._by_id) != len(self.entries):
            dup = sorted({e.id for e in self.entries if sum(x.id == e.id for x in self.entries) > 1})
            raise ValueError(f"duplicate entry ids {dup}; give every source a unique name")
        self._build()

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_catalog(cls, path: str | Path | None = None) -> "CatalogIndex":
        root = Path(path) if path else default_catalog_path()
        tree = read_tree(root)
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
        n = len(self.entries)
        # Text: per-token BM25 contributions, precomputed (doc lengths never change).
        postings: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        lengths = np.zeros(n)
        for i, e in enumerate(self.entries):
            m = e.metadata
            fields = {
                "title": e.title,
                "keywords": " ".join(map(str, m.get("keywords") or [])),
                "variables": " ".join(" ".join(str(v.get(k) or "") for k in ("name", "standard_name", "long_name"))
                                      for v in m.get("variables") or []),
                "description": e.description,
                "provider": " ".join(str(m.get(k) or "") for k in ("publisher_name", "data_centre", "institution")),
            }
            fields["title"] += f" {e.name} {e.pole}"
            for fname, text in fields.items():
                for tok in tokenize(text):
                    postings[tok][i] += FIELD_WEIGHTS[fname]
                    lengths[i] += FIELD_WEIGHTS[fname]
        avg = lengths.mean() if n else 1.0
        self._vocab = sorted(postings)
        self._postings = {}
        for tok, docs in postings.items():
            idx = np.fromiter(docs.keys(), dtype=np.int64, count=len(docs))
            tf = np.fromiter(docs.values(), dtype=np.float64, count=len(docs))
            idf = math.log(1 + (n - idx.size + 0.5) / (idx.size + 0.5))
            score = idf * tf * (BM25_K1 + 1) / (tf + BM25_K1 * (1 - BM25_B + BM25_B * lengths[idx] / avg))
            self._postings[tok] = (idx, score)

        # Facets: value codes per document (multi-valued facets as (doc, code) pairs).
        self._facet_values: dict[str, list[str]] = {}
        self._facet_docs: dict[str, np.ndarray] = {}
        self._facet_codes: dict[str, np.ndarray] = {}
        self._facet_lookup: dict[str, dict[str, int]] = {}
        for facet in FACETS:
            lookup: dict[str, int] = {}
            docs, codes = [], []
            for i, e in enumerate(self.entries):
                for value in dict.fromkeys(self._facet_of(e, facet)):
                    code = lookup.setdefault(value, len(lookup))
                    docs.append(i)
                    codes.append(code)
            self._facet_lookup[facet] = lookup
            self._facet_values[facet] = list(lookup)
            self._facet_docs[facet] = np.asarray(docs, dtype=np.int64)
            self._facet_codes[facet] = np.asarray(codes, dtype=np.int64)

        # Space: up to two non-wrapping longitude intervals per entry; NaN where absent.
        self._west = np.full((n, 2), np.nan)
        self._east = np.full((n, 2), np.nan)
        self._south = np.full(n, np.nan)
        self._north = np.full(n, np.nan)
        for i, e in enumerate(self.entries):
            bbox = e.bbox
            if bbox is None:
                continue
            w, s, east, north = bbox
            for j, (a, b) in enumerate(_lon_intervals(w, east)):
                self._west[i, j], self._east[i, j] = a, b
            self._south[i], self._north[i] = s, north

        # Time: day numbers; ongoing datasets end at +inf.
        self._start = np.full(n, _NO_START, dtype=np.int64)
        self._end = np.full(n, _NO_END, dtype=np.int64)
        self._has_time = np.zeros(n, dtype=bool)
        for i, e in enumerate(self.entries):
            start, end = e.time_coverage
            try:
                s_day, e_day = _day(start), _day(end)
            except ValueError:
                continue
            if s_day is not None:
                self._start[i], self._has_time[i] = s_day, True
            if e_day is not None:
                self._end[i], self._has_time[i] = e_day, True

    @staticmethod
    def _facet_of(e: Entry, facet: str) -> list[str]:
        m = e.metadata
        if facet == "pole":
            return [e.pole]
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
        return [e.id for e in self.entries]

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
                    idx, contribution = self._postings[key]
                    scores[idx] += contribution  # doc ids are unique within a posting list
                    hit[idx] = True
                matched += hit
            mask &= matched == len(tokens)  # every word must match somewhere
            order = np.flatnonzero(mask)
            order = order[np.argsort(-scores[order], kind="stable")]
        else:
            order = np.flatnonzero(mask)
        total = int(order.size)
        counts = self._counts(mask)
        if limit is not None:
            order = order[: max(int(limit), 0)]
        return SearchResult([self.entries[i] for i in order], counts, scores[order].tolist(), total)

    def facet_counts(self) -> dict[str, dict[str, int]]:
        return self._counts(np.ones(len(self.entries), dtype=bool))

    def _expand(self, tok: str) -> list[str]:
        """The token itself if indexed, else indexed words it prefixes (search-as-you-type)."""
        if tok in self._postings:
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

    def _counts(self, mask: np.ndarray) -> dict[str, dict[str, int]]:
        out = {}
        for facet in FACETS:
            docs, codes = self._facet_docs[facet], self._facet_codes[facet]
            counts = np.bincount(codes[mask[docs]], minlength=len(self._facet_values[facet]))
            values = self._facet_values[facet]
            out[facet] = {values[c]: int(counts[c]) for c in np.argsort(-counts, kind="stable") if counts[c]}
        return out


def _lon_intervals(west: float, east: float) -> list[tuple[float, float]]:
    """A longitude range as non-wrapping intervals: west > east crosses the antimeridian."""
    if west <= east:
        return [(west, east)]
    return [(west, 180.0), (-180.0, east)]
