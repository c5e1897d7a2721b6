"""Soak benchmark: a class of N participants logs in within a minute and works for M minutes.

Runs a real hub (project config, temporary state folder, loopback ports, its own users'
network), the real user image and Docker. Each simulated participant (one asyncio task):

* logs in through the hub's login form (password, as a browser), at a time spread evenly
  over ``--login-window`` seconds;
* starts their server through the hub's REST API (their own token) and waits until it answers
  through the proxy;
* starts a kernel and, over its websocket (through the proxy, as JupyterLab does), runs a
  small cell every ``--every`` seconds (±50% jitter) until the end, timing each round trip
  (execute_request -> execute_reply and idle).

Meanwhile a sampler records, every 5 s, the CPU and resident memory of the hub process, its
proxy and its services, the host's load and CPU; every 60 s each container's memory
(``docker stats``). Prints failures (target 0), p50/p95/max cell round trip per minute and
overall, hub and proxy memory over time with their trend (MiB per 10 minutes, least squares
after the logins), and where the first limit is on this host. Writes all samples as JSON to
``benchmarks/results/soak-<time>.json``.

    .venv/bin/python benchmarks/bench_soak.py                                # 50 participants, 30 minutes
    .venv/bin/python benchmarks/bench_soak.py --participants 50 --minutes 5  # shorter
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
import psutil

from vre_core import accounts, naming
from vre_core.hub import HubClient
from vre_hub import engine, images
from vre_hub.state import StateDir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vre_testing import RunningHub, start_hub  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CELL = "import math\nsum(math.sqrt(i) for i in range(20000))"
CELL_TIMEOUT = 60
START_TIMEOUT = 600
TARGET_P95 = 1.0  # seconds, one cell round trip


class Participant:
    def __init__(self, name: str, password: str, token: str, url: str):
        self.name, self.password, self.token, self.url = name, password, token, url
        self.server = f"{url}/user/{name}"
        self.headers = {"Authorization": f"token {token}"}
        self.login_s = self.start_s = None
        self.cells: list[tuple[float, float]] = []  # (time since start of the run, round trip)
        self.failures: list[tuple[float, str]] = []

    async def login(self, http: aiohttp.ClientSession) -> None:
        """The hub's login form, as a browser posts it."""
        started = time.monotonic()
        async with http.get(f"{self.url}/hub/login") as page:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', await page.text())
        data = {"username": self.name, "password": self.password, "_xsrf": xsrf.group(1) if xsrf else ""}
        async with http.post(f"{self.url}/hub/login", data=data, allow_redirects=False) as answer:
            if answer.status != 302:
                raise RuntimeError(f"login answered {answer.status}")
        self.login_s = time.monotonic() - started

    async def start_server(self, http: aiohttp.ClientSession) -> None:
        started = time.monotonic()
        async with http.post(f"{self.url}/hub/api/users/{self.name}/server", json={"profile": "standard"},
                             headers=self.headers) as answer:
            if answer.status not in (201, 202):
                raise RuntimeError(f"server start answered {answer.status}: {(await answer.text())[:200]}")
        # The hub's view first (cheap), then the server itself through the proxy.
        deadline = started + START_TIMEOUT
        while time.monotonic() < deadline:
            await asyncio.sleep(1)
            try:
                async with http.get(f"{self.url}/hub/api/users/{self.name}", headers=self.headers) as r:
                    model = await r.json() if r.status == 200 else {}
                server = (model.get("servers") or {}).get("")
                if not server and not model.get("pending") and model:
                    raise RuntimeError(f"the hub gave up the start after {time.monotonic() - started:.0f} s (see its log)")
                if not (server and server.get("ready")):
                    continue
                async with http.get(f"{self.server}/api/status", headers=self.headers, allow_redirects=False) as r:
                    if r.status == 200:
                        self.start_s = time.monotonic() - started
                        return
            except aiohttp.ClientError:
                pass
        raise RuntimeError(f"server not ready within {START_TIMEOUT} s")

    async def work(self, http: aiohttp.ClientSession, t0: float, until: float, every: float) -> None:
        """A kernel and its websocket; one cell every ``every`` s until ``until`` (monotonic)."""
        async with http.post(f"{self.server}/api/kernels", json={"name": "python3"}, headers=self.headers) as r:
            if r.status != 201:
                raise RuntimeError(f"kernel start answered {r.status}")
            kernel = (await r.json())["id"]
        ws_url = self.server.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
        session = uuid.uuid4().hex
        ws = await http.ws_connect(ws_url, headers=self.headers, heartbeat=30, max_msg_size=0)
        try:
            while time.monotonic() < until:
                await asyncio.sleep(every * random.uniform(0.5, 1.5))
                sent = time.monotonic()
                try:
                    await asyncio.wait_for(self._execute(ws, session), CELL_TIMEOUT)
                    self.cells.append((sent - t0, time.monotonic() - sent))
                except Exception as error:  # noqa: BLE001 (counted; the participant goes on)
                    self.failures.append((sent - t0, f"cell: {type(error).__name__}: {error}"[:200]))
                    if ws.closed:
                        ws = await http.ws_connect(ws_url, headers=self.headers, heartbeat=30, max_msg_size=0)
        finally:
            await ws.close()

    @staticmethod
    async def _execute(ws, session: str) -> None:
        msg_id = uuid.uuid4().hex
        await ws.send_json({
            "header": {"msg_id": msg_id, "username": "soak", "session": session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": CELL, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        })
        replied = idle = False
        while not (replied and idle):
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"websocket {message.type.name}")
            data = json.loads(message.data)
            if data.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = data["msg_type"]
            if kind == "execute_reply":
                if data["content"]["status"] != "ok":
                    raise RuntimeError(f"cell {data['content']['status']}")
                replied = True
            elif kind == "status" and data["content"]["execution_state"] == "idle":
                idle = True


async def participant(p: Participant, delay: float, t0: float, until: float, every: float) -> None:
    await asyncio.sleep(delay)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=320)
    async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        try:
            await p.login(http)
            await p.start_server(http)
            await p.work(http, t0, until, every)
        except Exception as error:  # noqa: BLE001 (a participant who could not work: a failure)
            p.failures.append((time.monotonic() - t0, f"{type(error).__name__}: {error}"[:200]))


# -- sampling ---------------------------------------------------------------------------


def _processes(hub_pid: int) -> dict[str, list[psutil.Process]]:
    """The hub, its proxy and its services (the jobs service, the culler...)."""
    hub = psutil.Process(hub_pid)
    groups = {"hub": [hub], "proxy": [], "services": []}
    for child in hub.children(recursive=True):
        try:
            line = " ".join(child.cmdline())
        except psutil.Error:
            continue
        groups["proxy" if "configurable-http-proxy" in line else "services"].append(child)
    return groups


def _container_memory(names: list[str]) -> dict[str, float]:
    out = subprocess.run(["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", *names],
                         capture_output=True, text=True, timeout=120).stdout
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
    memory = {}
    for line in out.splitlines():
        name, usage = line.split(" ", 1)
        number = re.match(r"([\d.]+)\s*([KMG]?i?B)", usage.split("/")[0].strip())
        if number:
            memory[name] = float(number.group(1)) * units[number.group(2)]
    return memory


async def sampler(hub_pid: int, containers: list[str], t0: float, until: float, samples: list, memory: list) -> None:
    groups = _processes(hub_pid)
    for procs in groups.values():
        for proc in procs:
            proc.cpu_percent(None)
    psutil.cpu_percent(None)
    next_stats = 0.0
    while time.monotonic() < until:
        await asyncio.sleep(5)
        now = time.monotonic() - t0
        sample = {"t": round(now, 1), "load1": os.getloadavg()[0], "host_cpu": psutil.cpu_percent(None)}
        for group, procs in groups.items():
            cpu = rss = 0.0
            for proc in procs:
                try:
                    cpu += proc.cpu_percent(None)
                    rss += proc.memory_info().rss / 2**20
                except psutil.Error:
                    pass
            sample[f"{group}_cpu"], sample[f"{group}_mib"] = round(cpu, 1), round(rss, 1)
        samples.append(sample)
        if now >= next_stats:
            next_stats = now + 60
            per = await asyncio.to_thread(_container_memory, containers)
            if per:
                memory.append({"t": round(now, 1), "n": len(per), "total_mib": round(sum(per.values())),
                               "median_mib": round(statistics.median(per.values())), "max_mib": round(max(per.values()))})


# -- report -----------------------------------------------------------------------------


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def slope_per_10min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per 10 minutes."""
    if len(points) < 3:
        return float("nan")
    mt = statistics.fmean(t for t, _ in points)
    mv = statistics.fmean(v for _, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return 600 * sum((t - mt) * (v - mv) for t, v in points) / den if den else float("nan")


def report(participants: list[Participant], samples: list, memory: list, args, settled: float) -> dict:
    cells = [c for p in participants for c in p.cells]
    failures = [(p.name, t, why) for p in participants for t, why in p.failures]
    rt = [d for _, d in cells]
    starts = [p.start_s for p in participants if p.start_s is not None]
    logins = [p.login_s for p in participants if p.login_s is not None]
    print(f"\nparticipants {len(participants)}, cells run {len(cells)}, failures {len(failures)} (target 0)")
    for name, t, why in failures[:10]:
        print(f"  failure at {t:6.0f} s, {name}: {why}")
    print(f"login form POST: p50 {pct(logins, .5):.2f} s, p95 {pct(logins, .95):.2f} s; "
          f"server start -> answering: p50 {pct(starts, .5):.1f} s, p95 {pct(starts, .95):.1f} s, max {max(starts, default=float('nan')):.1f} s")
    print(f"cell round trip: p50 {pct(rt, .5) * 1000:.0f} ms, p95 {pct(rt, .95) * 1000:.0f} ms, max {max(rt, default=float('nan')) * 1000:.0f} ms "
          f"(target p95 <= {TARGET_P95 * 1000:.0f} ms)")
    print("\n minute | cells | p50 ms | p95 ms | load1 | host cpu% | hub cpu% MiB | proxy cpu% MiB | services MiB")
    minutes = int(max((t for t, _ in cells), default=0) // 60) + 1
    by_minute = []
    for m in range(minutes):
        in_m = [d for t, d in cells if m * 60 <= t < (m + 1) * 60]
        s_m = [s for s in samples if m * 60 <= s["t"] < (m + 1) * 60] or [{}]
        avg = lambda key: statistics.fmean(s.get(key, float("nan")) for s in s_m)  # noqa: E731
        row = {"minute": m, "cells": len(in_m), "p50_ms": pct(in_m, .5) * 1000, "p95_ms": pct(in_m, .95) * 1000,
               "load1": avg("load1"), "host_cpu": avg("host_cpu"), "hub_cpu": avg("hub_cpu"), "hub_mib": avg("hub_mib"),
               "proxy_cpu": avg("proxy_cpu"), "proxy_mib": avg("proxy_mib"), "services_mib": avg("services_mib")}
        by_minute.append(row)
        print(f" {m:6d} | {row['cells']:5d} | {row['p50_ms']:6.0f} | {row['p95_ms']:6.0f} | {row['load1']:5.1f} | "
              f"{row['host_cpu']:9.0f} | {row['hub_cpu']:5.1f} {row['hub_mib']:6.0f} | {row['proxy_cpu']:6.1f} {row['proxy_mib']:6.0f} | "
              f"{row['services_mib']:6.0f}")
    steady = [s for s in samples if s["t"] >= settled]
    trend = {key: slope_per_10min([(s["t"], s[f"{key}_mib"]) for s in steady]) for key in ("hub", "proxy", "services")}
    print("memory trend after the logins (MiB per 10 min): " + ", ".join(f"{k} {v:+.1f}" for k, v in trend.items()))
    if memory:
        print("containers: " + "; ".join(f"t={m['t']:.0f}s n={m['n']} total {m['total_mib']} MiB "
                                        f"(median {m['median_mib']}, max {m['max_mib']})" for m in memory[-3:]))
    # Where the first limit is: the host's two cores, the hub's one (Python, single thread), the proxy's one (node).
    busy = statistics.fmean(s["host_cpu"] for s in steady) if steady else float("nan")
    hub_cpu = max((s["hub_cpu"] for s in samples), default=0)
    proxy_cpu = max((s["proxy_cpu"] for s in samples), default=0)
    print(f"host CPU {busy:.0f}% on average after the logins (load1 {statistics.fmean(s['load1'] for s in steady) if steady else float('nan'):.1f} "
          f"on {psutil.cpu_count()} cores); peak hub {hub_cpu:.0f}% and proxy {proxy_cpu:.0f}% of one core")
    return {"args": vars(args), "cells": len(cells), "failures": failures, "logins": logins, "starts": starts,
            "round_trip_p50_ms": pct(rt, .5) * 1000, "round_trip_p95_ms": pct(rt, .95) * 1000,
            "by_minute": by_minute, "trend_mib_per_10min": trend, "samples": samples, "containers": memory}


async def soak(hub: RunningHub, people: list[Participant], args) -> dict:
    t0 = time.monotonic()
    until = t0 + args.login_window + args.minutes * 60
    spacing = args.login_window / max(1, len(people))
    containers = [naming.container_name(p.name) for p in people]
    samples, memory = [], []
    sampling = asyncio.create_task(sampler(hub.process.pid(), containers, t0, until, samples, memory))
    await asyncio.gather(*(participant(p, i * spacing, t0, until, args.every) for i, p in enumerate(people)))
    await sampling
    settled = max((p.start_s or 0) + i * spacing for i, p in enumerate(people))
    return report(people, samples, memory, args, settled)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=30, help="work time after the login window")
    parser.add_argument("--login-window", type=float, default=60, help="seconds over which everyone logs in")
    parser.add_argument("--every", type=float, default=5, help="mean seconds between one participant's cells")
    args = parser.parse_args()
    engine.ensure_docker_engine()
    proxy = engine.ensure_proxy()
    image = os.environ.get("VRE_TEST_IMAGE") or images.build_user_image(log=lambda m: print(f"[image] {m}"))
    print(f"uptime before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        state = StateDir(tmp)
        process = start_hub(state, {"VRE_PROXY_COMMAND": proxy, "VRE_USER_IMAGE": image, "VRE_CULL_TIMEOUT": "86400",
                                    "VRE_CONCURRENT_SPAWN_LIMIT": "100"})
        hub = RunningHub(process, HubClient(process.url, state.admin_token))
        try:
            prefix = f"soak{secrets.token_hex(2)}"
            people = []
            for i in range(args.participants):
                name = hub.client.ensure_user(f"{prefix}-{i:02d}")["name"]
                hub.users.append(name)
                password = secrets.token_urlsafe(12)
                accounts.set_password(name, password, state.db_url, rounds=4)  # generated: few bcrypt rounds suffice
                people.append(Participant(name, password, hub.client.token_for(name, note="soak"), hub.url))
            print(f"hub {hub.url}: {args.participants} participants log in over {args.login_window:.0f} s, "
                  f"then a cell every ~{args.every:.0f} s each for {args.minutes:g} min")
            result = asyncio.run(soak(hub, people, args))
        finally:
            print(f"uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
            hub.stop()
            RESULTS.mkdir(exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
            shutil.copy(process.log_file, RESULTS / f"soak-{stamp}-hub.log")  # why starts failed, if any
    out = RESULTS / f"soak-{stamp}.json"
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"samples: {out}")


if __name__ == "__main__":
    main()
