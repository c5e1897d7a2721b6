"""Run the workshop notebooks with papermill, the way CI and a workshop do.

By default each notebook runs *inside the user image*:
``docker run --rm --network host -v TMP:/out IMAGE papermill /opt/vre/notebooks/NB.ipynb /out/NB.ipynb \
-f /out/params.yaml``
with the image's own catalogue (/opt/vre/catalogs).  ``VRE_NOTEBOOK_TESTS=host`` runs them with the project's .venv
and the repository catalogue instead (fast iteration while writing notebooks; CI uses the image).

Each (notebook, parameter set) runs once per session; tests then check its computed outputs against independent
computations done here on the same catalogue samples.

Development aids (CI sets none): ``VRE_NOTEBOOK_TESTS_IMAGE=TAG`` uses an existing image without rebuilding it;
``VRE_NOTEBOOK_TESTS_MOUNT_REPO=1`` mounts the repository's notebooks and catalogue over the image's copies.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
import yaml

from vre_catalog.layout import REPO_CATALOG
from vre_catalog.samples import generate, load_registry

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
MODE = os.environ.get("VRE_NOTEBOOK_TESTS", "image")
RUN_TIMEOUT = 600  # seconds for one notebook run, container start included
# Development aid: run the repository's notebooks and catalogue in the image (mounted read-only) instead of the
# copies baked into it, to try notebook changes without rebuilding the image. CI leaves it unset.
MOUNT_REPO = os.environ.get("VRE_NOTEBOOK_TESTS_MOUNT_REPO") == "1"

# Every notebook runs with its defaults and with at least one other parameter set.
PARAMETER_SETS = {
    "neo_ecological_niche": {
        "default": {},
        "gbm_warming": {"model": "gbm", "predictors": ["thetao", "so", "chl"], "period": [2000, 2022],
                        "bbox": [-20.0, 35.0, 10.0, 65.0], "scenario": {"thetao": 2.0}, "n_background": 3000},
    },
    "ocean_marine_heatwaves": {
        "default": {},
        "p95_short": {"percentile": 95, "baseline": [1990, 2019], "period": [2000, 2022], "min_duration": 3,
                      "max_gap": 1, "highlight_year": 2003},
    },
    "atmosphere_co2_trend": {
        "default": {},
        "harmonic_1970s_80s": {"seasonal_method": "harmonic", "period": [1970, 1989], "trend_degree": 1},
    },
    "land_snow_cover": {
        "default": {},
        "strict_threshold": {"snow_threshold": 0.7, "max_gap_days": 5, "period": [2005, 2022],
                             "bbox": [0.9, 43.2, 1.3, 43.5]},
    },
    "ocean_enso_real": {
        "default": {},
        "oni_like": {"baseline": [1981, 2010], "threshold": 0.5, "min_months": 5},
    },
    "land_river_and_weather": {
        "default": {},
        "maize": {"min_segment": 20, "base_temperature": 10.0},
    },
    "solid_earth_polar_motion": {
        "default": {},
        "early_years": {"period": [1962, 1990]},
    },
    "solid_earth_gnss": {
        "default": {},
        "up_no_offsets": {"components": ["up"], "offsets": [], "seasonal": False, "period": [2005, 2020]},
    },
}


@dataclass
class NotebookRun:
    """One papermill execution: the executed notebook, its results and, if it failed, the error."""

    name: str
    params: dict
    ok: bool
    seconds: float
    notebook: nbformat.NotebookNode | None
    results_file: dict | None
    log: str = ""
    error_cell: int | None = None  # index of the first cell with an error output
    error: dict = field(default_factory=dict)  # ename, evalue

    @property
    def displayed_results(self) -> dict:
        """The JSON shown by the cell tagged ``results`` (what papermill records in the notebook)."""
        for cell in self.notebook.cells:
            if "results" in cell.metadata.get("tags", []):
                for output in cell.get("outputs", []):
                    if "application/json" in output.get("data", {}):
                        return output["data"]["application/json"]
        raise AssertionError(f"{self.name}: no application/json output in the cell tagged 'results'")

    @property
    def first_code_cell_after_parameters(self) -> int:
        cells = self.notebook.cells
        injected = next(i for i, c in enumerate(cells) if "injected-parameters" in c.metadata.get("tags", []))
        return next(i for i in range(injected + 1, len(cells)) if cells[i].cell_type == "code")


def _samples_complete(samples: Path) -> bool:
    return all((samples / rel).exists() for rel in load_registry())


@pytest.fixture(scope="session")
def host_catalog() -> Path:
    """The repository catalogue with its samples (generated when missing, same generators and seeds as the image).

    Independent computations in the tests read the data from here in both modes.
    """
    samples = REPO_CATALOG.parent / "samples"
    if not _samples_complete(samples):
        generate(samples, log=lambda *_: None)
    return REPO_CATALOG


@pytest.fixture(scope="session")
def catalog(host_catalog):
    import intake

    return intake.open_catalog(str(host_catalog))


def _read_run(name, params, ok, seconds, out_dir: Path, log: str) -> NotebookRun:
    executed = out_dir / f"{name}.ipynb"
    notebook = nbformat.read(executed, as_version=4) if executed.exists() else None
    result_files = sorted((out_dir / "results").glob("*.json"))
    run = NotebookRun(name, params, ok, seconds, notebook,
                      json.loads(result_files[0].read_text()) if result_files else None, log)
    if notebook is not None:
        for index, cell in enumerate(notebook.cells):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                run.error_cell, run.error = index, {"ename": errors[0]["ename"], "evalue": errors[0]["evalue"]}
                break
    return run


def _run_in_image(image: str, name: str, params: dict, out_dir: Path) -> tuple[bool, str]:
    out_dir.chmod(0o777)  # the container writes as jovyan (uid 1000)
    (out_dir / "params.yaml").write_text(yaml.safe_dump({**params, "output_dir": "/out/results"}))
    container = f"vre-nbtest-{secrets.token_hex(4)}"
    mounts = []
    if MOUNT_REPO:
        mounts = ["-v", f"{NOTEBOOKS}:/opt/vre/notebooks:ro", "-v", f"{REPO_CATALOG.parent}:/opt/vre/catalogs:ro"]
    command = ["docker", "run", "--rm", "--name", container, "--network", "host", "--memory", "4g",
               "-v", f"{out_dir}:/out", *mounts, image,
               "papermill", f"/opt/vre/notebooks/{name}.ipynb", f"/out/{name}.ipynb", "-f", "/out/params.yaml",
               "--no-progress-bar"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)
        return False, f"timed out after {RUN_TIMEOUT} s"
    return done.returncode == 0, done.stdout + done.stderr


def _run_on_host(catalog_path: Path, name: str, params: dict, out_dir: Path) -> tuple[bool, str]:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / f"{name}.ipynb"), str(out_dir / f"{name}.ipynb"),
            parameters={"CATALOG": str(catalog_path), **params, "output_dir": str(out_dir / "results")},
            kernel_name="python3", progress_bar=False, cwd=str(out_dir), execution_timeout=RUN_TIMEOUT,
        )
    except PapermillExecutionError as error:
        return False, f"{error.ename}: {error.evalue}"
    return True, ""


@pytest.fixture(scope="session")
def notebook_runner(request, tmp_path_factory, host_catalog):
    """``run(name, params) -> NotebookRun``; identical runs are done once per session."""
    image = None
    if MODE != "host":  # VRE_NOTEBOOK_TESTS_IMAGE: use that tag as is (development; CI builds via user_image)
        image = os.environ.get("VRE_NOTEBOOK_TESTS_IMAGE") or request.getfixturevalue("user_image")
    cache: dict[str, NotebookRun] = {}

    def run(name: str, params: dict) -> NotebookRun:
        key = f"{name}:{json.dumps(params, sort_keys=True)}"
        if key not in cache:
            out_dir = tmp_path_factory.mktemp(f"nb-{name}")
            start = time.perf_counter()
            if image:
                ok, log = _run_in_image(image, name, params, out_dir)
            else:
                ok, log = _run_on_host(host_catalog, name, params, out_dir)
            cache[key] = _read_run(name, params, ok, time.perf_counter() - start, out_dir, log)
            print(f"[notebooks] {name} {params or 'defaults'}: {'ok' if ok else 'FAILED'} "
                  f"in {cache[key].seconds:.1f} s ({MODE})")
        return cache[key]

    return run


@pytest.fixture(scope="session")
def run_set(notebook_runner):
    """``run_set(notebook, set_name)`` runs a named parameter set and fails with the log if it did not succeed."""

    def run(name: str, set_name: str) -> NotebookRun:
        result = notebook_runner(name, PARAMETER_SETS[name][set_name])
        assert result.ok, f"{name} [{set_name}] failed: {result.error or result.log[-3000:]}"
        return result

    return run
