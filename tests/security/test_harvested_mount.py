"""Harvested catalogues in user containers (issue 15): a participant's intake and DatasetBrowser index find the
poles' catalogues that `vre catalog harvest` wrote on the hub host, and cannot change them.

The catalogue is harvested for real (vre_catalog.harvest) from a static STAC catalogue (SYNTHETIC collections,
written with pystac) served on 127.0.0.1, then indexed as the cron task does (`vre catalog index`). A second hub,
started as the ``hub`` fixture starts one, mounts that folder (VRE_HARVESTED_DIR); everything in the container runs
as the participant (``docker exec -u 1000``).
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import subprocess
import textwrap

import pystac
import pytest

from vre_catalog import CatalogIndex
from vre_catalog.harvest import HARVESTED_MOUNT, Source, harvest
from vre_hub import naming, network
from vre_hub.client import HubClient
from vre_hub.state import StateDir
from vre_testing import start_hub

from catalogs.catalog_servers import StaticServer
from catalogs.loopback import no_proxy_env

UTC = dt.timezone.utc


def _stac_catalogue(root):
    cat = pystac.Catalog("synthetic-pole", "SYNTHETIC pole catalogue")
    for ident, title in (("lake-levels", "SYNTHETIC lake water levels"), ("river-flow", "SYNTHETIC river discharge")):
        cat.add_child(pystac.Collection(
            id=ident, title=title, description=f"{title} (test record).", license="CC-BY-4.0", keywords=["synthetic"],
            extent=pystac.Extent(pystac.SpatialExtent([[-5.0, 42.0, 8.0, 51.0]]),
                                 pystac.TemporalExtent([[dt.datetime(2002, 1, 1, tzinfo=UTC), None]]))))
    cat.normalize_hrefs(str(root))
    cat.save(pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


@pytest.fixture(scope="module")
def harvested(tmp_path_factory):
    """A folder as the hub host has it after `vre catalog harvest hydroweb` and `vre catalog index`."""
    no_proxy_env()
    tmp = tmp_path_factory.mktemp("harvest")
    out = tmp / "harvested"
    out.mkdir(mode=0o755)
    (tmp / "www").mkdir()
    with StaticServer(tmp / "www") as srv:
        _stac_catalogue(tmp / "www" / "stac")
        report = harvest(Source("hydroweb", "stac", f"{srv.url}/stac/catalog.json", "theia", rate_limit=0), out)
    assert sorted(report.kept) == ["lake_levels", "river_flow"], report.lines()
    CatalogIndex.from_catalog(out / "catalog.yaml")  # the cache, next to the catalogue (`vre catalog index`)
    return out


@pytest.fixture(scope="module")
def harvest_hub(hub, harvested, tmp_path_factory):
    """A second hub with the ``hub`` fixture's settings and VRE_HARVESTED_DIR=<the harvested folder>."""
    env = {k: v for k, v in hub.process.env.items() if k != "VRE_NETWORK"} if hub.network != network.HOST else dict(hub.process.env)
    env["VRE_HARVESTED_DIR"] = str(harvested)
    process = start_hub(StateDir(tmp_path_factory.mktemp("harvest-hub-state")), env)
    other = type(hub)(process, HubClient(process.url, process.state.admin_token), prefix=f"h{secrets.token_hex(2)}")
    try:
        yield other
    finally:
        other.stop()


PROBE = textwrap.dedent(f"""
    import errno, json, os
    import intake
    from vre_catalog import CatalogIndex

    path = os.environ["VRE_HARVESTED_CATALOG"]
    cat = intake.open_catalog(path)                       # plain intake, as a notebook does
    pole = cat.hydroweb
    out = {{"path": path, "entries": sorted(pole),
            "title": pole["lake_levels"].describe()["metadata"]["title"]}}
    idx = CatalogIndex.from_catalog(path)                 # what DatasetBrowser(catalog_path=path) loads
    out["search"] = idx.search("river").ids
    out["own_cache"] = os.path.exists(os.path.expanduser("~/.cache/vre_catalog"))
    attempts = {{}}
    for what, act in [("append", lambda: open(path, "a").write("sources: {{}}")),
                      ("replace", lambda: os.replace(path, path + ".x")),
                      ("new file", lambda: open(os.path.join(os.path.dirname(path), "evil.yaml"), "w")),
                      ("cache", lambda: open(os.path.join(os.path.dirname(path), ".vre-catalog-index.pkl"), "wb"))]:
        try:
            act()
            attempts[what] = "written"
        except OSError as error:
            attempts[what] = errno.errorcode.get(error.errno, str(error.errno))
    out["attempts"] = attempts
    print(json.dumps(out))
""")


def test_participant_opens_harvested_catalogue_and_cannot_write_it(harvest_hub, harvested):
    name, _token = harvest_hub.new_user()
    harvest_hub.client.start_server(name)
    before = {p.name: p.read_bytes() for p in harvested.iterdir() if p.is_file()}
    result = subprocess.run(["docker", "exec", "-u", "1000", naming.container_name(name), "python", "-c", PROBE],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["path"] == f"{HARVESTED_MOUNT}/catalog.yaml"
    assert seen["entries"] == ["lake_levels", "river_flow"]
    assert seen["title"] == "SYNTHETIC lake water levels"
    assert seen["search"] == ["hydroweb.river_flow"]
    assert seen["own_cache"] is False, "the host's index cache should serve the mount (no per-user rebuild)"
    # The files are root's (0644), so opening one for writing fails on permissions first; whatever touches the
    # folder meets the read-only mount.
    attempts = seen["attempts"]
    assert attempts.pop("append") in ("EACCES", "EROFS")
    assert attempts == {"replace": "EROFS", "new file": "EROFS", "cache": "EROFS"}
    assert {p.name: p.read_bytes() for p in harvested.iterdir() if p.is_file()} == before
    mounts = json.loads(subprocess.run(["docker", "inspect", naming.container_name(name)], capture_output=True,
                                       text=True, check=True).stdout)[0]["Mounts"]
    mount = next(m for m in mounts if m["Destination"] == HARVESTED_MOUNT)
    assert mount["RW"] is False and mount["Source"] == str(harvested)
