"""Catalogue search benchmark: 10,000 and 100,000 generated entries, in one command.

Per size, for vre_catalog.CatalogIndex and for the baseline, a linear scan of intake's entries in the same run:
  - load: the cached index (what every session pays) against intake: ``intake.open_catalog`` and every entry's
    metadata read once through intake's public API (``cat[pole].walk(depth=1)``, ``entry.describe()``);
  - cold load (YAML parse + index build + cache write, once per catalogue change), index build from metadata dicts,
    index memory (tracemalloc) and cache size;
  - p50 / p95 of text, facet, bbox, time and combined (text + facet + bbox + time) queries; a query is what the
    browser shows: the search, the counts of its facets and the first 200 results. The baseline runs the same
    queries as a Python loop over the entries intake gave (answers compared: the index is not fast by being wrong);
  - browser first render: the DatasetBrowser built on the loaded index, and with the catalogue load; and in a real
    Chromium: JupyterLab on 127.0.0.1 (``jupyter lab``, Playwright, /usr/bin/chromium), from Shift+Enter on a cell
    ``DatasetBrowser()`` (VRE_CATALOG = the generated catalogue) to its result list and count shown, in a fresh kernel
    (imports included) and again in the same kernel (median of 3).
Targets: p95 <= 20 ms per query, first render <= 1 s.

Why the baseline reads intake once: intake (2.0.9) catalogues reload their YAML file on any access after ``ttl`` (60 s);
one pole file of 25,000 entries takes longer than that to parse with intake's pure-Python loader, so a scan that goes
back to ``cat[pole]`` per query re-parsed the whole catalogue on every query: the run of last session did not end in
48 minutes at 100,000. Reading each entry's metadata once and scanning that list is the fair linear scan.
``--intake-max N`` reads through intake only catalogues of at most N entries and extrapolates the load time above
(linear fit over N/4, N/2, N; said so in the output); the scan then runs on the same metadata read from the YAML.

    python benchmarks/bench_catalog.py [--entries 10000 100000] [--queries 200] [--baseline-queries 20]
                                       [--intake-max N] [--no-chromium]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from vre_catalog import CatalogIndex
from vre_catalog.index import FACETS, tokenize

BROWSER_FACETS = ("pole", "sample", "variable", "platform", "provider")  # vre_widgets._catalog.FACETS (no widget import here)

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


def make_queries(rng: random.Random, n: int) -> dict[str, list[dict]]:
    """``n`` CatalogIndex.search keyword sets per kind."""
    def text():
        return " ".join(rng.sample(WORDS, rng.randint(1, 2)))

    def facets(i):
        return ({"pole": [rng.choice(POLES)], "standard_name": [rng.choice(STANDARD_NAMES)]} if i % 2 else
                {"platform": [rng.choice(PLATFORMS)], "protocol": [rng.choice(PROTOCOLS)]})

    def bbox():
        w = rng.uniform(-180, 170)
        e = w + rng.uniform(5, 40)
        if e > 180:
            e -= 360
        s = rng.uniform(-80, 60)
        return (w, s, e, s + rng.uniform(5, 30))

    def time_range():
        y = rng.randint(1960, 2020)
        return (f"{y}-01-01", None if rng.random() < 0.3 else f"{y + rng.randint(0, 10)}-12-31")

    return {
        "text": [{"text": text()} for _ in range(n)],
        "facet": [{"facets": facets(i)} for i in range(n)],
        "bbox": [{"bbox": bbox()} for _ in range(n)],
        "time": [{"time": time_range()} for _ in range(n)],
        "combined": [{"text": rng.choice(WORDS), "facets": {"pole": [rng.choice(POLES)]}, "bbox": bbox(),
                      "time": time_range()} for _ in range(n)],
    }


# ---- baseline: a linear scan over intake's own entries ---------------------------------------------------
def intake_rows(path: Path) -> list[tuple[str, str, dict]]:
    """(id, description, metadata) of every entry, read once through intake's public API: the catalogue
    opened with ``intake.open_catalog``, each pole sub-catalogue walked, each entry described (no data source is
    instantiated)."""
    import intake

    cat = intake.open_catalog(str(path))
    rows = []
    for pole in list(cat):
        for name, entry in cat[pole].walk(depth=1).items():
            info = entry.describe()
            rows.append((f"{pole}.{name}", info.get("description") or "", info.get("metadata") or {}))
    return rows


def yaml_rows(path: Path) -> list[tuple[str, str, dict]]:
    """The same rows read from the YAML files directly (when intake's read is extrapolated)."""
    from vre_catalog.layout import read_tree

    return [(f"{pole.pole}.{name}", (spec or {}).get("description") or "", (spec or {}).get("metadata") or {})
            for pole in read_tree(path).poles for name, spec in pole.sources.items()]


def _lon_overlap(a, b, c, d):
    def parts(w, e):
        return [(w, e)] if w <= e else [(w, 180.0), (-180.0, e)]
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in parts(a, b) for y0, y1 in parts(c, d))


def _day(value) -> str | None:
    return None if value in (None, "") else str(value)[:10]  # YAML may give dates: compare ISO days


def baseline_search(rows, text=None, facets=None, bbox=None, time=None):
    """The ids matching all the given criteria, one Python pass over ``rows`` (what a notebook does without an index)."""
    words = tokenize(text) if text else []
    hits = []
    for ident, description, md in rows:
        if words:
            blob = " ".join([md.get("title", ""), ident.split(".", 1)[1], md.get("pole") or "", description,
                             " ".join(md.get("keywords", [])),
                             " ".join(f"{v.get('name')} {v.get('standard_name')} {v.get('long_name')}" for v in md.get("variables", [])),
                             md.get("publisher_name") or "", md.get("data_centre") or ""]).lower().replace("_", " ")
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
        if time:
            start, end = time
            if end and _day(md["time_coverage_start"]) > end:
                continue
            if start and md["time_coverage_end"] and _day(md["time_coverage_end"]) < start:
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


def browser_first_render(idx, path: Path) -> tuple[float, float]:
    """Seconds to construct the DatasetBrowser (widgets, first search, facet lists, 200 results; no kernel, so no
    comm traffic): on the loaded index, and with the catalogue loaded from its cache as ``DatasetBrowser()`` does."""
    try:
        from vre_widgets import DatasetBrowser
    except ImportError:  # the user extra is not installed
        return float("nan"), float("nan")
    DatasetBrowser(index=CatalogIndex.from_entries(make_records(20)), namespace={}, auto_preview=False).close()  # imports
    t0 = time.perf_counter()
    DatasetBrowser(index=idx, namespace={}, auto_preview=False).close()
    on_index = time.perf_counter() - t0
    t0 = time.perf_counter()
    DatasetBrowser(catalog_path=path, namespace={}, auto_preview=False).close()
    return on_index, time.perf_counter() - t0


# ---- the browser in a real Chromium ------------------------------------------------------------------------
SHOWN = """([k, total]) => {
    const w = document.querySelectorAll('.vre-dataset-browser');
    if (w.length < k) return false;
    const b = w[k - 1];
    const list = b.querySelector('.widget-select:not(.widget-select-multiple) select');
    const count = [...b.querySelectorAll('.widget-html')].some(h => h.textContent.includes(total + ' datasets'));
    return count && list && list.options.length > 0 && list.offsetParent !== null;
}"""


def chromium_first_render(path: Path, entries: int, warm_runs: int = 3) -> dict:
    """Seconds from Shift+Enter on ``DatasetBrowser()`` to its results on screen, in JupyterLab in Chromium."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from playwright.sync_api import sync_playwright
    from widgets import lab  # tests/widgets/lab.py: the project's real-JupyterLab driver

    out = {}
    with tempfile.TemporaryDirectory() as root:
        server = lab.LabServer(Path(root), env={"VRE_CATALOG": str(path)}).start()
        try:
            server.write_notebook("bench.ipynb")
            with sync_playwright() as playwright:
                browser = lab.launch_chromium(playwright)
                page = browser.new_page(viewport={"width": 1500, "height": 1300})
                blocked = lab.loopback_only(page)
                lab.open_notebook(page, server.url, "bench.ipynb", server.token)
                total = f"{entries:,}"
                times = []
                for k, code in enumerate(["from vre_widgets import DatasetBrowser\nDatasetBrowser()"]
                                         + ["DatasetBrowser()"] * warm_runs, start=1):
                    cells = page.locator(f"{lab.NOTEBOOK} .jp-CodeCell")
                    cells.nth(cells.count() - 1).locator(".cm-content").click()
                    page.keyboard.press("Control+A")
                    page.keyboard.insert_text(code)
                    t0 = time.perf_counter()
                    page.keyboard.press("Shift+Enter")
                    page.wait_for_function(SHOWN, arg=[k, total], timeout=600_000, polling=10)
                    times.append(time.perf_counter() - t0)
                    lab.wait_kernel_idle(page)
                browser.close()
                out = {"cold": times[0], "warm": statistics.median(times[1:]), "warm_all": times[1:],
                       "blocked": len(blocked)}
        finally:
            server.stop()
    return out


def _linear_extrapolation(points: list[tuple[int, float]], n: int) -> float:
    """Least-squares line through (entries, seconds), evaluated at ``n``."""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my + slope * (n - mx)


def intake_load(records, path: Path, intake_max: int | None):
    """(rows, seconds, how): intake's read of the catalogue, measured, or extrapolated above ``intake_max``."""
    if intake_max is None or len(records) <= intake_max:
        t0 = time.perf_counter()
        rows = intake_rows(path)
        return rows, time.perf_counter() - t0, "measured"
    points = []
    for n in (intake_max // 4, intake_max // 2, intake_max):
        with tempfile.TemporaryDirectory() as tmp:
            small = write_catalog(records[:n], Path(tmp))
            t0 = time.perf_counter()
            intake_rows(small)
            points.append((n, time.perf_counter() - t0))
    how = "extrapolated from " + ", ".join(f"{n:,}: {t:.1f} s" for n, t in points)
    return yaml_rows(path), _linear_extrapolation(points, len(records)), how


def run(entries: int, queries: int, baseline_queries: int, intake_max: int | None, chromium: bool) -> dict:
    records = make_records(entries)
    qs = make_queries(random.Random(7), queries)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_catalog(records, Path(tmp))
        t0 = time.perf_counter()
        CatalogIndex.from_catalog(path)  # YAML parse + build + cache write
        load_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        idx = CatalogIndex.from_catalog(path)
        load_ours = time.perf_counter() - t0  # what every later session pays
        cache_size = sum(p.stat().st_size for p in Path(tmp).glob(".vre-catalog-index*"))
        t0 = time.perf_counter()
        CatalogIndex.from_entries(records)
        build_only = time.perf_counter() - t0
        memory, _ = index_memory(records)
        render_index, render_load = browser_first_render(idx, path)
        rows, load_base, intake_how = intake_load(records, path, intake_max)
        assert len(idx) == len(rows) == entries

        def query(kwargs):
            """One search as a screen shows it: the facet counts the browser lists and the first 200 results."""
            res = idx.search(**kwargs)
            for facet in BROWSER_FACETS:
                res.facet_counts[facet]
            return res.entries[:200]

        def query_all_facets(kwargs):
            res = idx.search(**kwargs)
            return dict(res.facet_counts), res.entries[:200]

        k = baseline_queries
        ours = {kind: timed(query, q) for kind, q in qs.items()}
        all_facets = {kind: timed(query_all_facets, q) for kind, q in qs.items()}
        base = {kind: timed(lambda kw: baseline_search(rows, **kw), q[:k]) for kind, q in qs.items()}
        # Same answers (as sets) on the baseline's queries: the index is not faster by being wrong.
        for kind, q in qs.items():
            for kw in q[:k]:
                assert set(idx.search(**kw).ids) == set(baseline_search(rows, **kw)), (kind, kw)
        del rows
        browser = chromium_first_render(path, entries) if chromium else {}
    return {"entries": entries, "queries": queries, "k": k, "load_ours": load_ours, "load_cold": load_cold,
            "build_only": build_only, "memory": memory, "cache": cache_size, "render_index": render_index,
            "render_load": render_load, "load_base": load_base, "intake_how": intake_how, "ours": ours,
            "all_facets": all_facets, "base": base, "chromium": browser}


def report(r: dict) -> bool:
    print(f"\ncatalogue: {r['entries']:,} entries in 4 pole YAML files; {r['queries']} queries per kind "
          f"({r['k']} for the baseline); load average {os.getloadavg()[0]:.1f}")
    print(f"{'':<28}{'vre_catalog':>12}{'baseline (intake scan)':>26}{'ratio':>9}")
    print(f"{'load (s)':<28}{r['load_ours']:>12.3f}{r['load_base']:>26.1f}{r['load_base'] / r['load_ours']:>8.0f}x"
          f"   (cached index vs intake open + every entry's metadata, {r['intake_how']})")
    print(f"{'  cold load (s)':<28}{r['load_cold']:>12.1f}{'':>35}   (YAML parse + build + cache write, once per change)")
    print(f"{'  index build (s)':<28}{r['build_only']:>12.2f}{'':>35}   (from metadata dicts)")
    print(f"{'  index memory (MiB)':<28}{r['memory']:>12.0f}{'':>35}   (tracemalloc; cache file {r['cache'] / 2**20:.0f} MiB)")
    print(f"{'first render, Python (s)':<28}{r['render_index']:>12.3f}{'':>35}   (DatasetBrowser on the loaded index;"
          f" {r['render_load']:.2f} s with the catalogue load)")
    c = r["chromium"]
    if c:
        print(f"{'first render, Chromium (s)':<28}{c['warm']:>12.2f}{'':>35}   (JupyterLab, Shift+Enter -> results shown,"
              f" kernel with imports done, median of {', '.join(f'{t:.2f}' for t in c['warm_all'])}; fresh kernel"
              f" incl. imports {c['cold']:.2f} s; {c['blocked']} requests off loopback)")
    worst = 0.0
    for kind in r["ours"]:
        for q in (50, 95):
            a, b, every = (percentile(r[key][kind], q) for key in ("ours", "base", "all_facets"))
            if q == 95:
                worst = max(worst, a)
            print(f"{f'{kind} p{q} (ms)':<28}{a:>12.2f}{b:>26.1f}{b / a:>8.0f}x   (all {len(FACETS)} facets counted: {every:.2f})")
    render = c["warm"] if c else r["render_load"]
    ok = worst <= 20 and render <= 1.0
    print(f"targets: p95 <= 20 ms -> {'met' if worst <= 20 else 'MISSED'} (worst {worst:.2f} ms); first render <= 1 s -> "
          f"{'met' if render <= 1.0 else 'MISSED'} ({render:.2f} s, {'Chromium, warm kernel' if c else 'Python, with load'})")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=20)
    parser.add_argument("--intake-max", type=int, default=None,
                        help="read through intake only catalogues up to this size; extrapolate above (default: all)")
    parser.add_argument("--no-chromium", action="store_true", help="skip the JupyterLab + Chromium first render")
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    started = time.perf_counter()
    ok = True
    for n in args.entries:
        ok &= report(run(n, args.queries, args.baseline_queries, args.intake_max, not args.no_chromium))
    print(f"load average {os.getloadavg()[0]:.1f} at the end, {time.perf_counter() - started:.0f} s in all "
          "(other work on the machine inflates every figure)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
