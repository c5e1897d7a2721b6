"""Real embedded samples (issue 14): at least 3 per pole, read from the installed packages' own files,
each with origin, citation and licence; numbers a scientist can check against the literature."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vre_catalog.check import check_catalog, sample_counts
from vre_catalog.cli import main
from vre_catalog.generators._common import package_file
from vre_catalog.layout import POLES, read_tree


def real_entries(catalog_path):
    for pole in read_tree(catalog_path).poles:
        for name, spec in pole.sources.items():
            if not name.endswith("_remote") and spec["metadata"]["sample"]["kind"] == "real":
                yield f"{pole.pole}.{name}", spec


def test_at_least_three_real_samples_per_pole_and_check_prints_the_counts(catalog_path, capsys):
    counts = sample_counts(catalog_path)
    assert set(counts) == set(POLES)
    assert all(kinds["real"] >= 3 for kinds in counts.values()), counts
    assert main(["check", str(catalog_path), "--no-open"]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(out) if line.split()[:4] == ["pole", "real", "synthetic", "staged"])
    table = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in out[header + 1:]}
    assert table["theia"] == [counts["theia"][k] for k in ("real", "synthetic", "staged")]
    assert table["total"][0] == sum(k["real"] for k in counts.values()) >= 12


def test_every_real_sample_names_an_installed_file_its_origin_citation_and_licence(catalog_path):
    entries = dict(real_entries(catalog_path))
    assert len(entries) >= 12
    for entry, spec in entries.items():
        source = spec["metadata"]["sample"]["source"]
        for field in ("origin", "citation", "license"):
            assert len(source[field]) > 5, (entry, field)
        first_file = source["file"].split(" ...")[0]  # pcse: NL1.976 ... NL1.999
        if source["package"] != "statsmodels":  # statsmodels is read through its datasets API
            assert package_file(source["package"], first_file).stat().st_size > 0, entry


@pytest.mark.parametrize("field", ["license", "citation"])
def test_check_fails_on_a_real_sample_without_licence_or_citation(catalog_copy, field):
    path = catalog_copy.parent / "formater.yaml"
    text = path.read_text()
    line = next(l for l in text.splitlines(keepends=True)
                if l.startswith(f"          {field}:") and "IERS" in l)
    path.write_text(text.replace(line, "", 1))
    problems = [str(p) for p in check_catalog(catalog_copy, open_samples=False)]
    assert len(problems) == 1, problems
    assert "formater.polar_motion_daily" in problems[0] and f"missing `{field}` in sample.source" in problems[0]
    assert main(["check", str(catalog_copy), "--no-open"]) == 1


def test_real_numbers_a_scientist_can_check(index):
    # Nile at Aswan: Cobb (1978) - mean ~1097 (1871-1898) then ~850 (1899-1970), 10^8 m3/yr.
    nile = index["theia.nile_flow_aswan_annual"].open().set_index("time")["volume"]
    assert len(nile) == 100
    assert 1050 < nile[:"1898"].mean() < 1150 and 800 < nile["1899":].mean() < 900
    # Wageningen 1976-1999: mean annual temperature ~9-10 degC, ~750-850 mm of rain a year.
    wag = index["theia.wageningen_weather_daily"].open().set_index("time")
    assert len(wag) == 8766 - 122 and wag.index.is_unique  # the files stop on 31 August 1991
    assert 8.5 < ((wag.tasmin + wag.tasmax) / 2).mean() < 10.5
    assert 650 < wag.pr.resample("YE").sum().mean() < 900
    # Bradypus (Phillips et al. 2006): 116 presences, 1000 background points.
    brady = index["theia.bradypus_presence_background"].open()
    assert brady.presence.value_counts().to_dict() == {0: 1000, 1: 116}
    # IERS: polar motion within +-0.6 arcsec; LOD excess of a few ms.
    pm = index["formater.polar_motion_daily"].open()
    assert pm.time.iloc[0] == pd.Timestamp("1962-01-01") and pm.time.iloc[-1].year >= 2025
    assert pm[["x", "y"]].abs().max().max() < 0.7
    lod = index["formater.length_of_day_daily"].open()
    assert 0.0005 < lod.lod.mean() < 0.003
    # IGRF-14: g10 = -31543 nT in 1900 and -29350 nT in 2025 (a ~7 % weaker axial dipole).
    igrf = index["formater.igrf14_gauss_coefficients"].open().set_index(["epoch", "n", "m"])
    assert igrf.loc[(1900, 1, 0), "g"] == -31543 and igrf.loc[(2025, 1, 0), "g"] == -29350.0
    # OSTIA equatorial SST: 292-305 K (land NaN); the cold tongue of the eastern Pacific is colder than the warm pool.
    sst = index["odatis.ostia_sst_tropics_monthly"].open()["sst"]
    mean = sst.mean("time")
    assert 292 < float(mean.min()) and float(mean.max()) < 305 and bool(mean.isnull().any())
    assert float(mean.sel(longitude=slice(-110, -90)).mean()) < float(mean.sel(longitude=slice(130, 160)).mean()) - 2
    # Gulf of Maine buoy: winter ~4 degC, August ~18-20 degC.
    buoy = index["odatis.buoy_temperature_gulf_of_maine"].open().set_index("time")["temperature"]
    monthly = buoy.resample("MS").mean()
    assert monthly.min() < 6 and 15 < monthly.max() < 22
    # SOI: strongly negative in the 1982-83 and 1997-98 El Ninos.
    soi = index["aeris.southern_oscillation_index_monthly"].open().set_index("time")["soi"]
    assert soi["1982-10":"1983-03"].mean() < -1.5 and soi["1997-09":"1998-02"].mean() < -1.0
    # Seattle 2012-2015: ~950 mm a year of rain; maximum temperatures up to ~35 degC.
    sea = index["aeris.seattle_weather_daily"].open().set_index("time")
    assert 800 < sea.pr.resample("YE").sum().mean() < 1200 and 30 < sea.tasmax.max() < 40
    assert np.isfinite(sea.wind).all()
