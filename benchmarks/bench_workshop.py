"""Workshop benchmark: prewarm N servers, then N participants log in at once.

Runs a real hub (project config, temporary state folder, loopback ports), the real user
image and Docker. Prints:

* create and prewarm wall times (prewarm at a bounded rate, as `vre workshop prewarm`);
* per participant, all starting at the same instant: time of the hub login form POST
  (password check), and the time from a successful login to JupyterLab answering
  (``/user/<name>/lab`` -> OAuth round trip -> 200 with the JupyterLab page); p50/p95/max
  and the ratio of p95 to the 1 s target; then the same for a few participants logging in
  one at a time (no contention), to separate the path's own latency from the queueing of
  30 logins on the host's cores;
* end (archive of every home, then removal) wall time;
* the same workshop through the teacher's console (web API, ``/services/workshop/``, with a
  teacher's token): create, prewarm (POST, then progress polled), and the live table's
  refresh (``GET .../status``: hub state, memory, open notebooks of every participant) with
  all N servers running: p50/p95 against the 200 ms target (``--web-only`` skips the CLI part).

    .venv/bin/python benchmarks/bench_workshop.py            # 30 participants
    .venv/bin/python benchmarks/bench_workshop.py --seats 5  # quicker
    .venv/bin/python benchmarks/bench_workshop.py --web-only # the console's web API only
"""

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import requests

from vre_hub import engine, images
from vre_hub.launcher import HubProcess
from vre_hub.state import REPO_ROOT, StateDir
from vre_workshop import cli
from vre_hub.naming import escape_name
from vre_workshop.prewarm import default_concurrency
from vre_workshop.registry import Registry
from vre_workshop.roster import read_roster
from vre_workshop.service import TEACHERS_GROUP

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vre_testing import free_port  # noqa: E402

TARGET_P95 = 1.0
TARGET_STATUS = 0.2  # the console's live table refresh, 30 participants


def web_api(hub: HubProcess, seats: int, refreshes: int = 30) -> dict:
    """The console path: a teacher (hub group ``teachers``, no restart) creates, prewarms and
    refreshes the live table through the web API; then ends the workshop there. Wall times."""
    from vre_core.hub import HubClient

    admin = HubClient(hub.url, hub.state.admin_token)
    teacher = f"bench{secrets.token_hex(2)}-prof"
    admin.ensure_user(teacher)
    if admin.group(TEACHERS_GROUP) is None:
        admin.create_group(TEACHERS_GROUP, [])
    admin.request("POST", f"/groups/{TEACHERS_GROUP}/users", json={"users": [teacher]})
    session = requests.Session()
    session.headers["Authorization"] = f"token {admin.token_for(teacher, note='bench')}"
    api = f"{hub.url}/services/workshop/api"
    name = f"web{secrets.token_hex(2)}"
    out = {"name": name}

    began = time.perf_counter()
    session.post(f"{api}/workshops", json={"name": name, "seats": seats}, timeout=600).raise_for_status()
    out["create"] = time.perf_counter() - began

    began = time.perf_counter()
    session.post(f"{api}/workshops/{name}/prewarm", timeout=60).raise_for_status()
    while (progress := session.get(f"{api}/workshops/{name}/prewarm", timeout=60).json())["state"] == "running":
        time.sleep(0.5)
    out["prewarm"], out["prewarm_state"] = time.perf_counter() - began, progress

    # The first look after the prewarm waits for a new snapshot (live.py); then the page's
    # refreshes, spaced as a page asks (every 0.5 s here, so that several background
    # snapshots of the 30 running servers happen meanwhile), are answered from the snapshot.
    began = time.perf_counter()
    session.get(f"{api}/workshops/{name}/status", timeout=60).raise_for_status()
    out["status_first"] = time.perf_counter() - began
    times, ages, took = [], [], []
    load = os.getloadavg()[0]
    for _ in range(refreshes):
        began = time.perf_counter()
        response = session.get(f"{api}/workshops/{name}/status", timeout=60)
        times.append(time.perf_counter() - began)
        response.raise_for_status()
        snapshot = response.json()["snapshot"]
        ages.append(snapshot["age_seconds"])
        took.append(snapshot["took_seconds"])
        time.sleep(0.5)
    out["status"], out["snapshot_age"], out["snapshot_took"] = times, ages, sorted(set(took))
    out["load"] = (load, os.getloadavg()[0])

    began = time.perf_counter()
    session.post(f"{api}/workshops/{name}/end", timeout=900).raise_for_status()
    out["end"] = time.perf_counter() - began
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def login_and_open_lab(url: str, user: str, password: str, go: asyncio.Event) -> dict:
    """One participant's browser: login form, then /user/<name>/lab through the OAuth redirects."""
    # One cookie jar per participant; unsafe=True: the hub is addressed by IP (127.0.0.1).
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"{url}/hub/login") as page:
            await page.read()
        xsrf = next((c.value for c in session.cookie_jar if c.key == "_xsrf"), "")
        await go.wait()
        began = time.perf_counter()
        async with session.post(
            f"{url}/hub/login",
            data={"username": user, "password": password, "_xsrf": xsrf},
            allow_redirects=False,
        ) as response:
            await response.read()
            status = response.status
        logged_in = time.perf_counter()
        if status != 302:
            return {"user": user, "ok": False, "error": f"login answered {status}"}
        async with session.get(f"{url}/user/{user}/lab") as lab:  # follows the OAuth redirects
            text = await lab.text()
            ok = lab.status == 200 and "JupyterLab" in text
            error = "" if ok else f"lab answered {lab.status} at {lab.url}"
        done = time.perf_counter()
    return {
        "user": user,
        "ok": ok,
        "login": logged_in - began,
        "lab": done - logged_in,
        "total": done - began,
        "error": error,
    }


async def log_in_together(url: str, participants: list[tuple[str, str]]) -> list[dict]:
    """All participants submit the login form at the same instant (one event loop, so the
    benchmark's own CPU stays small beside the hub's)."""
    go = asyncio.Event()
    tasks = [asyncio.create_task(login_and_open_lab(url, u, p, go)) for u, p in participants]
    await asyncio.sleep(0.5)  # every login page fetched, every client waiting
    go.set()
    return await asyncio.gather(*tasks)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def remove_leftovers(name: str) -> None:
    """Containers and volumes of this run that a failure may have left behind."""
    import subprocess

    escaped = escape_name(name)
    listed = subprocess.run(["docker", "ps", "-aq", "--filter", f"name=vre-user-{escaped}"], capture_output=True, text=True)
    for container in listed.stdout.split():
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    volumes = subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True, text=True).stdout.split()
    for volume in volumes:
        if volume.startswith((f"vre-home-{escaped}", f"vre-work-{escaped}")):
            subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)


def summary(label: str, values: list[float]) -> str:
    return (
        f"{label:<28} p50 {percentile(values, 50):6.3f} s   p95 {percentile(values, 95):6.3f} s   "
        f"max {max(values):6.3f} s"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seats", type=int, default=30, help="participants (default 30)")
    parser.add_argument("--concurrency", type=int, default=default_concurrency(), help="prewarm spawns in flight (default: cores)")
    parser.add_argument("--rate", type=float, default=2.0, help="prewarm new spawns per second (default 2)")
    parser.add_argument("--web-only", action="store_true", help="only the teacher's console (web API) path")
    args = parser.parse_args(argv)

    image = images.user_image_tag()
    if not images.image_exists(image):
        print(f"error: user image {image} is missing; build it with `vre images build`", file=sys.stderr)
        return 1
    proxy = engine.ensure_proxy(log=lambda m: None)
    with tempfile.TemporaryDirectory(prefix="vre-bench-workshop-") as tmp:
        state = StateDir(Path(tmp) / "state")
        hub = HubProcess(
            state,
            port=free_port(),
            api_port=free_port(),
            proxy_api_port=free_port(),
            env={"VRE_PROXY_COMMAND": proxy, "VRE_USER_IMAGE": image, "VRE_CULL_TIMEOUT": "86400"},
        )
        hub.start()
        name = f"bench{secrets.token_hex(2)}"
        vre = lambda *a: cli.main(["--state-dir", str(state.path), "--url", hub.url, "--image", image, *a])  # noqa: E731
        web = None
        try:
            if args.web_only:
                web = web_api(hub, args.seats)
                vre("end", web["name"], "--remove")
                report_web(web, args.seats)
                return 0
            began = time.perf_counter()
            if vre("create", name, "--seats", str(args.seats), "--notebooks", str(REPO_ROOT / "notebooks")) != 0:
                return 1
            create_wall = time.perf_counter() - began

            began = time.perf_counter()
            code = vre("prewarm", name, "--concurrency", str(args.concurrency), "--rate", str(args.rate))
            prewarm_wall = time.perf_counter() - began
            if code != 0:
                return 1

            alone = []
            roster = read_roster(Registry(state.path).roster_file(name))
            participants = [(r["username"], r["password"]) for r in roster if r["role"] == "participant"]
            hub_cpu = process_cpu_seconds(hub.process.pid)
            client_cpu = time.process_time()
            results = asyncio.run(log_in_together(hub.url, participants))
            hub_cpu = process_cpu_seconds(hub.process.pid) - hub_cpu
            client_cpu = time.process_time() - client_cpu

            # The same path without contention: a few participants log in again, one at a time.
            alone = []
            for user, password in participants[: min(5, len(participants))]:
                alone.extend(asyncio.run(log_in_together(hub.url, [(user, password)])))

            began = time.perf_counter()
            vre("end", name, "--remove")
            end_wall = time.perf_counter() - began

            web = web_api(hub, args.seats)  # the same figures through the console, same hub
            vre("end", web["name"], "--remove")
        finally:
            if web is None:  # interrupted or failed in the console part: its workshop too
                for leftover in Registry(state.path).all():
                    if leftover.name.startswith("web"):
                        vre("end", leftover.name, "--remove")
                        remove_leftovers(leftover.name)
            if Registry(state.path).exists(name):  # interrupted or failed: still clean up
                vre("end", name, "--remove")
            hub.stop()
            remove_leftovers(name)

    ok = [r for r in results if r and r["ok"]]
    print()
    print(f"workshop benchmark: {args.seats} participants, user image {image}, 2-core host")
    print(f"create (accounts, group, roster, notebooks into homes): {create_wall:6.1f} s")
    print(
        f"prewarm wall time ({args.concurrency} in flight, <= {args.rate:g}/s): {prewarm_wall:6.1f} s "
        f"({prewarm_wall / args.seats:.2f} s per server)"
    )
    print(f"simultaneous logins succeeded: {len(ok)} / {len(results)}")
    print(f"CPU per participant (login + lab): hub {1000 * hub_cpu / len(results):.1f} ms "
          f"(the hub is one process: {len(results)} x that = {hub_cpu:.2f} s of serial work), "
          f"benchmark client {1000 * client_cpu / len(results):.1f} ms")
    for r in results:
        if r and not r["ok"]:
            print(f"  {r['user']}: {r['error']}")
    if ok:
        print(summary("login POST (password check)", [r["login"] for r in ok]))
        print(summary("login -> JupyterLab answers", [r["lab"] for r in ok]))
        print(summary("total (POST -> JupyterLab)", [r["total"] for r in ok]))
        p95_lab = percentile([r["lab"] for r in ok], 95)
        p95_total = percentile([r["total"] for r in ok], 95)
        print(f"ratio p95 / {TARGET_P95:.0f} s target: login->lab {p95_lab / TARGET_P95:.2f}, total {p95_total / TARGET_P95:.2f}")
    alone_ok = [r for r in alone if r["ok"]]
    if alone_ok:
        print(summary(f"one at a time ({len(alone_ok)}): total", [r["total"] for r in alone_ok]))
        print(f"contention factor (simultaneous p50 / one-at-a-time p50): "
              f"{percentile([r['total'] for r in ok], 50) / percentile([r['total'] for r in alone_ok], 50):.1f}" if ok else "")
    print(f"end (stop, archive {args.seats} homes, remove): {end_wall:6.1f} s")
    report_web(web, args.seats)
    return 0 if len(ok) == len(results) else 1


def report_web(web: dict, seats: int) -> None:
    print(f"teacher's console (web API), {seats} participants:")
    print(f"  create: {web['create']:6.1f} s   prewarm: {web['prewarm']:6.1f} s ({web['prewarm_state']['state']}, "
          f"{len(web['prewarm_state'].get('failed', []))} failed)   end: {web['end']:6.1f} s")
    print(f"  first live table after prewarm (waits for a new snapshot): {web['status_first']:.2f} s")
    print("  " + summary("live table refresh (GET status)", web["status"]))
    print(f"  ratio p95 / {1000 * TARGET_STATUS:.0f} ms target: {percentile(web['status'], 95) / TARGET_STATUS:.2f}")
    print("  " + summary("snapshot age at answer", web["snapshot_age"]))
    print("  " + summary(f"snapshot duration ({len(web['snapshot_took'])} snapshots)", web["snapshot_took"]))
    print(f"  load average (1 min) before / after the refreshes: {web['load'][0]:.2f} / {web['load'][1]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
