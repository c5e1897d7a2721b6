"""The NEO notebook's suitability step on a Dask Gateway cluster (``compute = "gateway"``) gives
the numbers of the local run.

papermill runs the notebook twice with the project's kernel on this host (the notebook tests'
"host" mode), in the environment a user's server has when the VRE has a gateway
(``DASK_GATEWAY__*`` and the user's hub token): once with ``compute = "local"``, once with
``compute = "gateway"`` on a real gateway (local backend: the workers are processes of the
user's Unix account). Every result must match; the gateway run must really have used a
cluster of that user's.
"""

from __future__ import annotations

import math
import time

import pytest
from notebooks.conftest import _read_run, _run_on_host, host_catalog  # noqa: F401 (fixture)

NAME = "neo_ecological_niche"
WORKERS = 2


def _same(a, b, path="results") -> list[str]:
    """Where two results differ (floats: within 1e-9 relative)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _same(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_neo_suitability_on_a_gateway_cluster_gives_the_local_numbers(
    local_gateway, host_catalog, tmp_path, monkeypatch
):
    hub = local_gateway
    name, token = hub.new_user()
    # What the hub gives a user's server (vre_gateway.hubconfig.client_environment), and its token.
    monkeypatch.setenv("DASK_GATEWAY__ADDRESS", hub.url)
    monkeypatch.setenv("DASK_GATEWAY__PROXY_ADDRESS", f"gateway://{hub.tcp_address}")
    monkeypatch.setenv("DASK_GATEWAY__AUTH__TYPE", "jupyterhub")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    runs = {}
    for compute in ("local", "gateway"):
        out = tmp_path / compute
        out.mkdir()
        params = {"compute": compute, "gateway_workers": WORKERS}
        ok, log = _run_on_host(host_catalog, NAME, params, out)
        runs[compute] = _read_run(NAME, params, ok, 0.0, out, log)
        assert ok, f"{compute}: {runs[compute].error or log[-3000:]}"
    local, gateway = runs["local"].results_file, runs["gateway"].results_file
    assert (local.pop("compute"), gateway.pop("compute")) == ("local", "gateway")
    assert not _same(local, gateway), _same(local, gateway)
    assert local["centroid_lat_by_decade"] and local["suitable_area_km2_by_decade"]

    # It really ran on a cluster of this user's, now shut down.
    printed = "".join(o.get("text", "") for c in runs["gateway"].notebook.cells for o in c.get("outputs", []))
    cluster = printed.split("computed on Dask Gateway cluster ")[1].split()[0]
    assert f"({WORKERS} workers)" in printed
    gateway = hub.gateway(token)
    deadline = time.monotonic() + 60  # its shutdown may still be under way
    while cluster not in [c.name for c in gateway.list_clusters(status="STOPPED")]:
        assert time.monotonic() < deadline, f"cluster {cluster} not stopped after the run"
        time.sleep(1)
    assert "computed on Dask Gateway" not in "".join(
        o.get("text", "") for c in runs["local"].notebook.cells for o in c.get("outputs", []))


def test_gateway_compute_without_a_gateway_is_refused_in_one_line(host_catalog, tmp_path, monkeypatch):
    monkeypatch.delenv("DASK_GATEWAY__ADDRESS", raising=False)
    ok, log = _run_on_host(host_catalog, NAME, {"compute": "gateway"}, tmp_path)
    assert not ok and "compute='gateway' but this VRE has no Dask Gateway" in log and "\n" not in log.strip()
    assert not (tmp_path / "results").exists()  # stopped before computing anything


pytestmark = pytest.mark.timeout(900, method="thread")
