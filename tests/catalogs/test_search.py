"""Search over the real catalogue and over generated ones: text, facets, bbox, time, ranking, edge cases."""
from __future__ import annotations

import pytest

from vre_catalog import CatalogIndex


def test_text_search_ranks_the_title_match_first(index):
    res = index.search("argo")
    assert res.ids[0] == "odatis.argo_profiles"
    res = index.search("snow cover")
    assert res.ids[0] == "theia.snow_cover_pyrenees_daily"


def test_text_search_needs_every_word_and_finds_plurals_and_prefixes(index):
    assert "aeris.co2_mauna_loa_weekly" in index.search("carbon dioxide").ids
    assert index.search("earthquakes").ids[:2] and all(i.startswith("formater.") for i in index.search("earthquakes").ids)
    assert "formater.seismic_waveform" in index.search("seism").ids  # prefix while typing
    assert index.search("ocean earthquake").ids == []


def test_no_result(index):
    res = index.search("unobtainium")
    assert res.entries == [] and res.total == 0
    assert all(not counts for counts in res.facet_counts.values())


def test_facets_combine_or_within_and_across(index):
    odatis = index.search(facets={"pole": ["odatis"]})
    per_pole = index.facet_counts()["pole"]
    assert len(odatis) == per_pole["odatis"] >= 8 and all(e.pole == "odatis" for e in odatis)
    both = index.search(facets={"pole": ["odatis", "aeris"]})
    assert len(both) == per_pole["odatis"] + per_pole["aeris"]
    sst = index.search(facets={"standard_name": ["sea_surface_temperature"]})
    assert set(sst.ids) == {"odatis.sst_coastal_daily", "odatis.enso_sst_nino12", "odatis.ostia_sst_tropics_monthly"}
    assert index.search(facets={"pole": ["aeris"], "standard_name": ["sea_surface_temperature"]}).ids == []
    assert set(index.search(facets={"protocol": ["zarr"]}).ids) == {"odatis.ocean_environment_monthly"}
    assert "odatis.argo_profiles" in index.search(facets={"platform": ["profiling float"]}).ids
    assert "odatis.argo_profiles" in index.search(facets={"variable": ["psal"]}).ids
    assert "odatis.argo_profiles" in index.search(facets={"provider": ["Argo GDAC Coriolis, Ifremer"]}).ids


def test_unknown_facet_is_a_clear_error(index):
    with pytest.raises(ValueError, match="unknown facet 'colour'"):
        index.search(facets={"colour": ["blue"]})


def test_facet_counts_over_results_and_whole_catalogue(index):
    counts = index.facet_counts()
    from vre_catalog.check import sample_counts

    from vre_catalog.layout import REPO_CATALOG

    expected = {pole: sum(kinds.values()) for pole, kinds in sample_counts(REPO_CATALOG).items()}
    assert counts["pole"] == expected and min(expected.values()) >= 8
    assert set(counts) >= {"pole", "standard_name", "platform", "provider", "protocol"}
    res = index.search("temperature")
    assert sum(res.facet_counts["pole"].values()) == res.total
    with_air_temperature = [e for e in res.entries if any(v["standard_name"] == "air_temperature" for v in e.variables)]
    assert res.facet_counts["standard_name"]["air_temperature"] == len(with_air_temperature) >= 2


def test_bbox_intersection(index):
    brittany = index.search(bbox=(-5.0, 47.5, -3.0, 49.0))
    assert "odatis.sea_level_brest_monthly" in brittany.ids and "odatis.ocean_environment_monthly" in brittany.ids
    assert "aeris.co2_mauna_loa_weekly" not in brittany.ids
    hawaii = index.search(bbox=(-156.0, 19.0, -155.0, 20.0))
    assert "aeris.co2_mauna_loa_weekly" in hawaii.ids and "odatis.ocean_environment_monthly" not in hawaii.ids


def test_bbox_crossing_the_antimeridian():
    idx = CatalogIndex.from_entries([
        _md("fiji", 177.0, -19.0, 179.5, -16.0), _md("samoa", -173.0, -15.0, -171.0, -13.0),
        _md("biscay", -10.0, 43.0, -1.0, 49.0), _md("pacific_band", 170.0, -30.0, -170.0, 30.0),
    ])
    assert set(idx.search(bbox=(175.0, -20.0, -170.0, -10.0)).ids) == {"odatis.fiji", "odatis.samoa", "odatis.pacific_band"}
    assert idx.search(bbox=(178.0, -20.0, 179.0, -15.0)).ids == ["odatis.fiji", "odatis.pacific_band"]
    assert idx.search(bbox=(-179.0, 20.0, -175.0, 25.0)).ids == ["odatis.pacific_band"]  # entry wraps, query does not
    assert idx.search(bbox=(0.0, 0.0, 10.0, 10.0)).ids == []


def test_bbox_out_of_range_is_a_clear_error(index):
    with pytest.raises(ValueError, match="out of range"):
        index.search(bbox=(-200, 0, 10, 10))


def test_time_overlap_including_open_ended_ranges(index):
    sixties = index.search(time=("1960-01-01", "1965-12-31"))
    assert "aeris.co2_mauna_loa_weekly" in sixties.ids and "odatis.enso_sst_nino12" in sixties.ids
    assert "odatis.ocean_environment_monthly" not in sixties.ids
    recent = index.search(time=("2024-01-01", None))  # open end: ongoing datasets (end null) match
    assert "odatis.argo_profiles" in recent.ids and "odatis.sst_coastal_daily" not in recent.ids
    early = index.search(time=(None, "1900-12-31"))
    assert "odatis.sea_level_brest_monthly" in early.ids and "aeris.co2_mauna_loa_weekly" not in early.ids
    with pytest.raises(ValueError, match="starts after it ends"):
        index.search(time=("2020-01-01", "2010-01-01"))


def test_combined_query_and_limit(index):
    res = index.search("temperature", facets={"pole": ["odatis"]}, bbox=(-20, 30, 10, 65), time=("2000", "2010"), limit=2)
    assert len(res.entries) == 2 and res.total >= 2
    assert all(e.pole == "odatis" for e in res.entries)


def test_entry_api_and_helpful_key_error(index):
    e = index["odatis.argo_profiles"]
    assert e.pole == "odatis" and e.has_remote and e.protocol == "erddap"
    assert e.bbox == (-180.0, -80.0, 180.0, 90.0)
    assert e.time_coverage == ("1997-07-28", None)
    assert {"name", "standard_name", "units", "long_name"} == set(e.variables[0])
    assert e.code() == f"ds = intake.open_catalog({str(index['odatis.argo_profiles'].catalog_path)!r}).odatis.argo_profiles.read()"
    assert e.code(var="df", source="remote").endswith(".odatis.argo_profiles_remote.read()")
    with pytest.raises(KeyError) as info:
        index["odatis.argo_profile"]
    message = info.value.args[0]
    assert "\n" not in message and "odatis.argo_profiles" in message


def test_from_entries_builds_a_large_index():
    records = [_md(f"d{i}", -180 + (i % 360), -60 + (i % 100), -179 + (i % 360), -59 + (i % 100), keywords=[f"kw{i % 50}"]) for i in range(10_000)]
    idx = CatalogIndex.from_entries(records)  # speed is measured by benchmarks/bench_catalog.py
    assert len(idx) == 10_000
    assert len(idx.search("kw7").entries) == 200
    assert idx.search("kw7", facets={"pole": ["odatis"]}, bbox=(-180, -60, -170, -50)).total > 0


def _md(name, w, s, e, n, keywords=("ocean",)):
    return {"id": f"odatis.{name}", "pole": "odatis", "title": name.replace("_", " "), "description": "",
            "keywords": list(keywords), "geospatial_lon_min": w, "geospatial_lat_min": s,
            "geospatial_lon_max": e, "geospatial_lat_max": n, "time_coverage_start": "2000-01-01",
            "time_coverage_end": None, "variables": [], "access": {"protocol": "http"}}
