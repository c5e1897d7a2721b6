"""What every workshop notebook must have, checked on the files (no kernel needed)."""
import re
import subprocess
import sys

import nbformat
import pytest

from .conftest import NOTEBOOKS, PARAMETER_SETS

ALL = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
READERS = re.compile(r"\b(open_dataset|open_mfdataset|open_zarr|read_csv|read_parquet|read_excel|open\()")


def cells(name):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells


def tagged(name, tag):
    return [i for i, c in enumerate(cells(name)) if tag in c.metadata.get("tags", [])]


def test_every_notebook_is_tested_with_two_parameter_sets():
    assert set(ALL) == set(PARAMETER_SETS)
    assert all(len(sets) >= 2 for sets in PARAMETER_SETS.values())


@pytest.mark.parametrize("name", ALL)
def test_parameters_cell_and_catalogue_only_data_access(name):
    (parameters,) = tagged(name, "parameters")
    source = cells(name)[parameters].source
    assert 'CATALOG = os.environ.get("VRE_CATALOG", "/opt/vre/catalogs/catalog.yaml")' in source
    assert "output_dir" in source
    code = "\n".join(c.source for c in cells(name) if c.cell_type == "code")
    assert "intake.open_catalog(CATALOG)" in code
    assert not READERS.findall(code), "data must be opened through the catalogue, not by path"
    assert ".hvplot" in code


@pytest.mark.parametrize("name", ALL)
def test_solutions_come_after_the_results_and_participants_keep_the_exercises(name, tmp_path):
    (results,) = tagged(name, "results")
    solutions = tagged(name, "solution")
    assert solutions and min(solutions) > results  # removing them cannot change any computed result
    subprocess.run([sys.executable, str(NOTEBOOKS / "render_participant.py"), "--out", str(tmp_path),
                    str(NOTEBOOKS / f"{name}.ipynb")], check=True, capture_output=True)
    participant = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    assert len(participant.cells) == len(cells(name)) - len(solutions)
    assert not any("solution" in c.metadata.get("tags", []) for c in participant.cells)
    assert any("## Exercises" in c.source for c in participant.cells if c.cell_type == "markdown")
    assert any("your code here" in c.source for c in participant.cells if c.cell_type == "code")
