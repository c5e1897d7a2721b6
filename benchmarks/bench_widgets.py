"""DatasetBrowser responsiveness over 1,000 and 10,000 catalogue entries, measured in a real kernel.

For each size, in a fresh ipykernel (so every widget change really serialises state and goes
out on the comm channel as in a notebook), it times:
  - first render: DatasetBrowser(index=...) construction, then its display (comm opening)
  - interactions (wall clock, and CPU time of the kernel process, which load from other
    work on the machine inflates less): a typed query, a facet click, a second facet value, a bbox, a time range,
    selecting a result (metadata card), reset — each including the search it triggers
and prints p50 / p95 / max in ms, the bare ``CatalogIndex.search`` time for comparison
(widget overhead ratio), and the 10k/1k ratio. Target: <= 200 ms per interaction at 10,000.
Entries come from benchmarks/bench_catalog.py's generator via CatalogIndex.from_entries.

    python benchmarks/bench_widgets.py [--sizes 1000 10000] [--repeat 15]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

TARGET_MS = 200.0

KERNEL_CODE = r"""
import json, statistics, sys, time
sys.path.insert(0, {bench_dir!r})
from bench_catalog import make_records
from vre_catalog import CatalogIndex
from vre_widgets import DatasetBrowser
from IPython.display import display

cpu = {{}}
def ms(fn, name=None):
    c0, t0 = time.process_time(), time.perf_counter()
    fn()
    wall, used = (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3
    if name:
        cpu.setdefault(name, []).append(used)
    return wall

# Warm up imports and the one-time BokehJS send, so the first size is not charged for them.
warm = DatasetBrowser(index=CatalogIndex.from_entries(make_records(50)), namespace={{}}, auto_preview=False)
display(warm); warm.query = "ocean"; warm.reset(); warm.close()
import threading  # the browser imports hvplot in the background for its first preview: let it finish
for thread in threading.enumerate():
    if thread.name == "vre-hvplot-import":
        thread.join()

out = {{}}
for n in {sizes!r}:
    index = CatalogIndex.from_entries(make_records(n))
    browser = None
    def build():
        global browser
        browser = DatasetBrowser(index=index, namespace={{}}, auto_preview=False)
    cpu.clear()
    construct = ms(build, "construct")
    shown = ms(lambda: display(browser), "display")
    pole = browser.facet_widgets["pole"]
    steps = {{
        "query": lambda: setattr(browser, "query", "temperature"),
        "facet click": lambda: setattr(pole, "value", ("odatis",)),
        "2nd facet value": lambda: setattr(pole, "value", ("odatis", "aeris")),
        "bbox": lambda: setattr(browser, "bbox", (-30.0, 20.0, 40.0, 70.0)),
        "time range": lambda: setattr(browser, "time_range", ("2000-01-01", "2010-12-31")),
        "select result": lambda: setattr(browser, "selected", browser.results[
            1 if browser.selected == browser.results[0].id else 0].id),
        "reset": browser.reset,
    }}
    times = {{name: [] for name in steps}}
    for _ in range({repeat}):
        for name, step in steps.items():
            times[name].append(ms(step, name))
    search = [ms(lambda: index.search(text="temperature", facets={{"pole": ["odatis"]}}))
              for _ in range({repeat})]
    out[n] = {{"construct": construct, "display": shown, "times": times, "search": search,
               "listed": len(browser.results_list.options), "cpu": dict(cpu)}}
    browser.close()
print("RESULT" + json.dumps(out))
"""


def run_in_kernel(code: str, timeout: float = 900) -> dict:
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    chunks, errors = [], []

    def output(msg):
        content = msg["content"]
        if msg["msg_type"] == "stream" and content.get("name") == "stdout":
            chunks.append(content["text"])
        elif msg["msg_type"] == "error":
            errors.append("\n".join(content["traceback"]))

    try:
        client.execute_interactive(code, timeout=timeout, output_hook=output)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    if errors:
        raise SystemExit("error: the benchmark failed in the kernel:\n" + errors[0])
    text = "".join(chunks)
    return {int(k): v for k, v in json.loads(text.split("RESULT", 1)[1]).items()}


def pct(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    bench_dir = str(Path(__file__).resolve().parent)
    load_before = os.getloadavg()[0]
    results = run_in_kernel(KERNEL_CODE.format(bench_dir=bench_dir, sizes=args.sizes,
                                               repeat=args.repeat))
    print(f"machine: {os.cpu_count()} CPUs, load average {load_before:.1f} before and "
          f"{os.getloadavg()[0]:.1f} after (other work on the machine inflates every figure)")
    worst = 0.0
    for n, r in results.items():
        print(f"\n{n:,} entries (result list shows {r['listed']}; {args.repeat} repeats, in an ipykernel)")
        cpu = r["cpu"]
        print(f"  first render: construct {r['construct']:.1f} ms + display {r['display']:.1f} ms "
              f"(CPU {cpu['construct'][0]:.1f} + {cpu['display'][0]:.1f} ms)")
        print(f"  {'interaction':<18}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'CPU p50':>9}")
        for name, values in r["times"].items():
            worst = max(worst, pct(values, 95)) if n == max(results) else worst
            print(f"  {name:<18}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}{max(values):>9.1f}"
                  f"{pct(cpu[name], 50):>9.1f}")
        search = pct(r["search"], 50)
        facet = pct(r["times"]["facet click"], 50)
        print(f"  bare CatalogIndex.search p50 {search:.2f} ms; facet click / search = {facet / search:.0f}x")
    if len(results) > 1:
        small, large = min(results), max(results)
        for name in results[large]["times"]:
            a, b = pct(results[small]["times"][name], 50), pct(results[large]["times"][name], 50)
            print(f"  {name:<18} {large // small}x entries -> {b / a:.1f}x time (p50)")
    largest = max(results)
    r = results[largest]
    first, first_cpu = r["construct"] + r["display"], r["cpu"]["construct"][0] + r["cpu"]["display"][0]
    ok = worst <= TARGET_MS
    print(f"\ntarget <= {TARGET_MS:.0f} ms per interaction at {largest:,} entries: worst p95 "
          f"{worst:.1f} ms -> {'met' if ok else 'MISSED'} ({TARGET_MS / worst:.1f}x headroom)")
    print(f"first render at {largest:,}: {first:.0f} ms wall, {first_cpu:.0f} ms CPU "
          f"({'within' if first <= TARGET_MS else 'over'} {TARGET_MS:.0f} ms wall; it is "
          "creating ~120 widgets, independent of the catalogue size)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
