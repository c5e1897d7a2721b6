"""Each kind of malformed catalogue gives exactly one clear line: file, line, entry, what to fix."""
from __future__ import annotations

from pathlib import Path

import pytest

from vre_catalog.check import check_catalog
from vre_catalog.cli import main


def edit(path: Path, old: str, new: str) -> int:
    """Replace the single occurrence of ``old``; return the 1-based line where it started."""
    text = path.read_text()
    assert text.count(old) == 1, f"fixture edit is ambiguous: {old!r}"
    path.write_text(text.replace(old, new))
    return text[: text.index(old)].count("\n") + 1


def line_of(path: Path, needle: str) -> int:
    text = path.read_text()
    return text[: text.index(needle)].count("\n") + 1


ARGO_MD = "    metadata: &argo_profiles\n      title: Argo float temperature and salinity profiles (Coriolis GDAC)\n      pole: odatis\n"

CASES = {
    "unknown pole": (
        "odatis.yaml", ARGO_MD, ARGO_MD.replace("pole: odatis", "pole: oceanus"),
        "odatis.argo_profiles", "unknown pole 'oceanus'; use one of odatis, aeris, theia, formater",
    ),
    "missing units": (
        "odatis.yaml", "{name: temp, standard_name: sea_water_temperature, units: degC, long_name:",
        "{name: temp, standard_name: sea_water_temperature, long_name:",
        "odatis.argo_profiles", "missing units in variables[1]; add `units:`",
    ),
    "bbox out of range": (
        "aeris.yaml", "      geospatial_lon_min: -155.576\n", "      geospatial_lon_min: -255.576\n",
        "aeris.co2_mauna_loa_weekly", "bbox out of range: geospatial_lon_min = -255.576 is not in [-180, 180]",
    ),
    "start after end": (
        "odatis.yaml", '      time_coverage_start: "1982-01-01"\n', '      time_coverage_start: "2030-01-01"\n',
        "odatis.sst_coastal_daily", "time_coverage_start 2030-01-01 is after time_coverage_end 2022-12-31; swap them",
    ),
    "unreachable sample path": (
        "theia.yaml", '"{{ CATALOG_DIR }}/samples/theia/lake_water_level.csv"', '"{{ CATALOG_DIR }}/samples/theia/lake.csv"',
        "theia.lake_water_level", "unreachable sample path",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_catalogue_gives_one_line(catalog_copy, case):
    file, old, new, entry, expected = CASES[case]
    path = catalog_copy.parent / file
    edit(path, old, new)
    entry_line = line_of(path, f"  {entry.split('.', 1)[1]}:\n")
    problems = check_catalog(catalog_copy, open_samples=False)
    assert len(problems) == 1, [str(p) for p in problems]
    line = str(problems[0])
    assert "\n" not in line
    assert line.startswith(f"{path}:{entry_line}: {entry}: "), line
    assert expected in line and ";" in line  # what is wrong; how to fix it


def test_yaml_syntax_error_reports_the_line(catalog_copy):
    path = catalog_copy.parent / "formater.yaml"
    bad_line = edit(path, "  gnss_velocity_field:\n", "  gnss_velocity_field: oops: no\n")
    problems = check_catalog(catalog_copy, open_samples=False)
    assert len(problems) == 1
    assert str(problems[0]).startswith(f"{path}:{bad_line}: YAML syntax error: mapping values are not allowed"), str(problems[0])


def test_missing_sub_catalogue_file(catalog_copy):
    (catalog_copy.parent / "theia.yaml").unlink()
    problems = check_catalog(catalog_copy, open_samples=False)
    assert len(problems) == 1 and "sub-catalogue" in str(problems[0]) and "not found" in str(problems[0])


def test_sample_that_does_not_match_its_metadata_is_reported(catalog_copy):
    path = catalog_copy.parent / "formater.yaml"
    edit(path, "{name: z, standard_name: height_above_mean_sea_level, units: m,", "{name: z, standard_name: height_above_mean_sea_level, units: km,")
    problems = [str(p) for p in check_catalog(catalog_copy, open_samples=True) if "global_relief" in str(p)]
    assert problems == [p for p in problems if "units of 'z': metadata says 'km' but the sample says 'm'" in p] and len(problems) == 1


def test_cli_check_prints_one_error_line_and_fails(catalog_copy, capsys):
    path = catalog_copy.parent / "odatis.yaml"
    edit(path, ARGO_MD, ARGO_MD.replace("pole: odatis", "pole: oceanus"))
    assert main(["check", str(catalog_copy), "--no-open"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "unknown pole 'oceanus'" in err[0]
    assert err[1] == "1 problem found"


def test_cli_check_passes_on_the_real_catalogue(catalog_path, capsys):
    assert main(["check", str(catalog_path)]) == 0
    assert "ok: 5 catalogue files, 42 entries valid, every sample opens" in capsys.readouterr().out
