"""Catalogue search benchmark: 10,000 and 100,000 generated entries.

Measures, for vre_catalog.CatalogIndex and for the baseline (a plain linear scan over intake's own
entries, i.e. what a notebook would do with ``for name in cat: cat[name].metadata ...``):
  - load time (YAML files -> searchable index; intake.open_catalog + reading every entry's metadata)
  - index build time from metadata dicts and its memory (tracemalloc) and cache size
  - p50 / p95 latency of text, facet and bbox+time queries; a query is what the browser shows: the search,
    the counts of its four facets and the first 200 results (also printed: with all nine facets counted)
  - the DatasetBrowser's first render on the loaded index
and prints the figures and the ratios.  Targets: p95 <= 20 ms per query, load <= 1 s, first render <= 1 s.

    python benchmarks/bench_catalog.py [--entries 10000 100000] [--queries 200] [--baseline-queries 20]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import yaml

from vre_catalog import CatalogIndex
from vre_catalog.index import tokenize

BROWSER_FACETS = ("pole", "variable", "platform", "provider")  # vre_widgets._catalog.FACETS (no widget import here)

POLES = ["odatis", "aeris", "theia", "formater"]
WORDS = ("ocean sea temperature salinity oxygen chlorophyll current wave ice snow soil moisture vegetation biomass "
         "land cover forest aerosol ozone carbon dioxide methane cloud rain wind pressure humidity radiation seismic "
         "earthquake gnss displacement gravity magnetic topography bathymetry river lake glacier drought flood "
         "reanalysis satellite profile mooring float station radar lidar model climate trend anomaly daily monthly").split()
STANDARD_NAMES = ["sea_water_temperature", "sea_water_salinity", "sea_surface_temperature", "air_temperature",
                  "mass_concentration_of_chlorophyll_a_in_sea_water", "surface_snow_area_fraction", "wind_speed",
                  "precipitation_amount", "mole_fraction_of_carbon_dioxide_in_air", "sea_floor_depth_below_geoid",
                  "volume_fraction_of_condensed_water_in_soil", "atmosphere_optical_thickness_due_to_ambient_aerosol_particles",
                  "mole_concentration_of_dissolved_molecular_oxygen_in_sea_water", "relative_humidity", "air_pressure",
                  "surface_altitude", "eastward_sea_water_velocity", "northward_sea_water_velocity",
                  "sea_surface_height_above_geoid", "normalized_difference_vegetation_index"]
PLATFORMS = ["profiling float", "mooring", "research vessel", "satellite", "ground station", "aircraft", "glider",
             "tide gauge", "GNSS permanent station", "broadband seismic station", "numerical model", "buoy"]
PROVIDERS = [f"Data centre {c}" for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
PROTOCOLS = ["erddap", "opendap", "http", "zarr", "stac", "fdsn", "api", "thredds"]


def make_records(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        pole = POLES[i % 4]
        w = rng.uniform(-180, 175)
        e = w + rng.uniform(0.1, 60)
        if e > 180:
            e -= 360  # crosses the antimeridian
        s = rng.uniform(-90, 80)
        n_ = min(90.0, s + rng.uniform(0.1, 40))
        y0 = rng.randint(1950, 2020)
        y1 = None if rng.random() < 0.3 else min(2025, y0 + rng.randint(0, 40))
        names = rng.sample(STANDARD_NAMES, rng.randint(1, 4))
        records.append({
            "id": f"{pole}.dataset_{i:05d}", "pole": pole,
            "title": " ".join(rng.sample(WORDS, 5)).capitalize(),
            "description": " ".join(rng.choice(WORDS) for _ in range(30)),
            "keywords": rng.sample(WORDS, 6),
            "variables": [{"name": sn.split("_")[-1][:8] + str(k), "standard_name": sn, "units": "1", "long_name": sn.replace("_", " ")}
                          for k, sn in enumerate(names)],
            "platform": rng.sample(PLATFORMS, rng.randint(1, 2)), "instrument": ["instrument"],
            "publisher_name": rng.choice(PROVIDERS), "data_centre": rng.choice(PROVIDERS),
            "geospatial_lon_min": round(w, 3), "geospatial_lon_max": round(e, 3),
            "geospatial_lat_min": round(s, 3), "geospatial_lat_max": round(n_, 3),
            "time_coverage_start": f"{y0}-01-01", "time_coverage_end": None if y1 is None else f"{y1}-12-31",
            "access": {"protocol": rng.choice(PROTOCOLS), "url": "https://example.org/data"},
        })
    return records


def write_catalog(records: list[dict], root: Path) -> Path:
    """The records as a root catalogue + 4 pole catalogues, like the real ones (csv driver sources)."""
    per_pole: dict[str, dict] = {p: {} for p in POLES}
    for rec in records:
        md = {k: v for k, v in rec.items() if k not in ("id", "description")}
        per_pole[rec["pole"]][rec["id"].split(".", 1)[1]] = {
            "description": rec["description"], "driver": "csv",
            "args": {"urlpath": "{{ CATALOG_DIR }}/samples/none.csv"}, "metadata": md}
    for pole, sources in per_pole.items():
        (root / f"{pole}.yaml").write_text(yaml.dump({"metadata": {"version": 1}, "sources": sources}, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False))
    (root / "catalog.yaml").write_text(yaml.safe_dump({"metadata": {"version": 1}, "sources": {
        p: {"driver": "yaml_file_cat", "args": {"path": f"{{{{ CATALOG_DIR }}}}/{p}.yaml"}} for p in POLES}}))
    return root / "catalog.yaml"


def make_queries(rng: random.Random, n: int):
    text = [" ".join(rng.sample(WORDS, rng.randint(1, 2))) for _ in range(n)]
    facet = [{"pole": [rng.choice(POLES)], "standard_name": [rng.choice(STANDARD_NAMES)]} if i % 2 else
             {"platform": [rng.choice(PLATFORMS)], "protocol": [rng.choice(PROTOCOLS)]} for i in range(n)]
    spacetime = []
    for _ in range(n):
        w = rng.uniform(-180, 170)
        e = w + rng.uniform(5, 40)
        if e > 180:
            e -= 360
        s = rng.uniform(-80, 60)
        y = rng.randint(1960, 2020)
        spacetime.append(((w, s, e, s + rng.uniform(5, 30)), (f"{y}-01-01", None if rng.random() < 0.3 else f"{y + rng.randint(0, 10)}-12-31")))
    return text, facet, spacetime


# ---- baseline: a linear scan over intake's own entries ---------------------------------------------------
def baseline_entries(cat):
    """What a user has without an index: walk intake's catalogue entry by entry (``walk`` + ``describe``, the
    cheapest public path: it does not instantiate the data sources)."""
    for pole in cat:
        for name, entry in cat[pole].walk(depth=1).items():
            info = entry.describe()
            yield f"{pole}.{name}", info.get("description") or "", info.get("metadata") or {}


def _lon_overlap(a, b, c, d):
    def parts(w, e):
        return [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in parts(a, b) for y0, y1 in parts(c, d))


def baseline_search(cat, text=None, facets=None, bbox=None, time_range=None):
    words = tokenize(text) if text else []
    hits = []
    for ident, description, md in baseline_entries(cat):
        if words:
            blob = " ".join([md.get("title", ""), description, " ".join(md.get("keywords", [])),
                             " ".join(v.get("standard_name") or "" for v in md.get("variables", []))]).lower()
            if not all(w in blob for w in words):
                continue
        if facets:
            ok = True
            for facet, wanted in facets.items():
                values = {"pole": [md.get("pole")], "standard_name": [v.get("standard_name") for v in md.get("variables", [])],
                          "platform": md.get("platform", []), "protocol": [md.get("access", {}).get("protocol")]}[facet]
                ok &= bool(set(values) & set(wanted))
            if not ok:
                continue
        if bbox:
            w, s, e, n = bbox
            if not (md["geospatial_lat_min"] <= n and md["geospatial_lat_max"] >= s and
                    _lon_overlap(md["geospatial_lon_min"], md["geospatial_lon_max"], w, e)):
                continue
        if time_range:
            start, end = time_range
            if end and md["time_coverage_start"] > end:
                continue
            if start and md["time_coverage_end"] and md["time_coverage_end"] < start:
                continue
        hits.append(ident)
    return hits


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def timed(fn, items):
    out = []
    for item in items:
        t0 = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def index_memory(records) -> tuple[float, int]:
    """(MiB allocated while building the index, as tracemalloc counts it (numpy included), bytes pickled)."""
    import pickle
    import tracemalloc

    tracemalloc.start()
    idx = CatalogIndex.from_entries(records)
    size = tracemalloc.get_traced_memory()[0]  # what stays allocated with the index alive
    tracemalloc.stop()
    return size / 2**20, len(pickle.dumps(idx, protocol=5))


def browser_first_render(idx) -> float:
    """Seconds to construct the DatasetBrowser on a loaded index: widgets, first search, facet lists, 200 results
    (no kernel here: benchmarks/bench_widgets.py adds the comm traffic of a real one)."""
    try:
        from vre_widgets import DatasetBrowser
    except ImportError:  # the user extra is not installed
        return float("nan")
    DatasetBrowser(index=CatalogIndex.from_entries(make_records(20)), namespace={}, auto_preview=False).close()  # imports
    t0 = time.perf_counter()
    browser = DatasetBrowser(index=idx, namespace={}, auto_preview=False)
    elapsed = time.perf_counter() - t0
    browser.close()
    return elapsed


def run(entries: int, queries: int, baseline_queries: int) -> dict:
    import intake

    records = make_records(entries)
    rng = random.Random(7)
    text_q, facet_q, st_q = make_queries(rng, queries)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_catalog(records, Path(tmp))
        t0 = time.perf_counter()
        idx = CatalogIndex.from_catalog(path, cache=False)
        load_cold = time.perf_counter() - t0  # YAML parsing + index build
        CatalogIndex.from_catalog(path)  # writes the cache
        t0 = time.perf_counter()
        idx = CatalogIndex.from_catalog(path)
        load_ours = time.perf_counter() - t0  # what every later session pays
        t0 = time.perf_counter()
        CatalogIndex.from_entries(records)
        build_only = time.perf_counter() - t0
        memory, pickled = index_memory(records)
        first_render = browser_first_render(idx)
        t0 = time.perf_counter()
        cat = intake.open_catalog(str(path))
        n_base = sum(1 for _ in baseline_entries(cat))
        load_base = time.perf_counter() - t0
        assert len(idx) == n_base == entries

        def query(**kwargs):
            """One search as a screen shows it: the facet counts the browser lists and the first 200 results."""
            res = idx.search(**kwargs)
            for facet in BROWSER_FACETS:
                res.facet_counts[facet]
            return res.entries[:200]

        def query_all_facets(**kwargs):
            res = idx.search(**kwargs)
            return dict(res.facet_counts), res.entries[:200]

        ours = {
            "text": timed(lambda q: query(text=q), text_q),
            "facet": timed(lambda q: query(facets=q), facet_q),
            "bbox+time": timed(lambda q: query(bbox=q[0], time=q[1]), st_q),
        }
        all_facets = {
            "text": timed(lambda q: query_all_facets(text=q), text_q),
            "facet": timed(lambda q: query_all_facets(facets=q), facet_q),
            "bbox+time": timed(lambda q: query_all_facets(bbox=q[0], time=q[1]), st_q),
        }
        k = baseline_queries
        base = {
            "text": timed(lambda q: baseline_search(cat, text=q), text_q[:k]),
            "facet": timed(lambda q: baseline_search(cat, facets=q), facet_q[:k]),
            "bbox+time": timed(lambda q: baseline_search(cat, bbox=q[0], time_range=q[1]), st_q[:k]),
        }
        # Same answers (as sets) on the baseline's queries: the index is not faster by being wrong.
        for q in st_q[:k]:
            assert set(idx.search(bbox=q[0], time=q[1]).ids) == set(baseline_search(cat, bbox=q[0], time_range=q[1]))
        for q in facet_q[:k]:
            assert set(idx.search(facets=q).ids) == set(baseline_search(cat, facets=q))
    return {"entries": entries, "queries": queries, "k": k, "load_ours": load_ours, "load_cold": load_cold,
            "build_only": build_only, "memory": memory, "pickled": pickled, "first_render": first_render,
            "load_base": load_base, "ours": ours, "all_facets": all_facets, "base": base}


def report(r: dict) -> tuple[float, bool]:
    print(f"\ncatalogue: {r['entries']:,} entries in 4 pole YAML files; {r['queries']} queries per kind "
          f"({r['k']} for the baseline)")
    print(f"{'':<24}{'vre_catalog':>14}{'baseline (intake scan)':>26}{'ratio':>10}")
    print(f"{'load (s)':<24}{r['load_ours']:>14.3f}{r['load_base']:>26.3f}{r['load_base'] / r['load_ours']:>9.1f}x   (cached index vs intake open + walk)")
    print(f"{'  cold load (s)':<24}{r['load_cold']:>14.3f}{'':>36}   (YAML parse + build, first use)")
    print(f"{'  index build (s)':<24}{r['build_only']:>14.3f}{'':>36}   (from metadata dicts)")
    print(f"{'  index memory (MiB)':<24}{r['memory']:>14.1f}{'':>36}   (tracemalloc, entries + arrays; cache {r['pickled'] / 2**20:.1f} MiB)")
    print(f"{'browser first render (s)':<24}{r['first_render']:>14.3f}{'':>36}   (DatasetBrowser on the loaded index)")
    worst_p95 = 0.0
    for kind in r["ours"]:
        for q in (50, 95):
            a, b, c = percentile(r["ours"][kind], q), percentile(r["base"][kind], q), percentile(r["all_facets"][kind], q)
            worst_p95 = max(worst_p95, a) if q == 95 else worst_p95
            print(f"{f'{kind} p{q} (ms)':<24}{a:>14.2f}{b:>26.1f}{b / a:>9.0f}x   (all 9 facets counted: {c:.2f})")
    ok = worst_p95 <= 20 and r["load_ours"] <= 1.0 and not r["first_render"] > 1.0
    print(f"targets: p95 <= 20 ms -> {'met' if worst_p95 <= 20 else 'MISSED'} (worst {worst_p95:.2f} ms); "
          f"load <= 1 s -> {'met' if r['load_ours'] <= 1.0 else 'MISSED'} ({r['load_ours']:.2f} s); "
          f"first render <= 1 s -> {'met' if not r['first_render'] > 1.0 else 'MISSED'} ({r['first_render']:.2f} s)")
    return worst_p95, ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=20)
    args = parser.parse_args(argv)
    import os

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    ok = True
    for n in args.entries:
        ok &= report(run(n, args.queries, args.baseline_queries))[1]
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine inflates every figure)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
