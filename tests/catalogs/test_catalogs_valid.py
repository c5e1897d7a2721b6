"""Every catalogue validates, opens with intake, and has the shape the issue asks for."""
from __future__ import annotations

import re

import intake
import pytest

from vre_catalog.check import check_catalog, schema
from vre_catalog.layout import POLES, read_tree


def test_every_catalogue_validates_and_every_sample_opens(catalog_path):
    problems = check_catalog(catalog_path, open_samples=True)
    assert [str(p) for p in problems] == []


def test_each_pole_has_at_least_eight_datasets_with_sample_and_remote(catalog_path):
    tree = read_tree(catalog_path)
    assert [p.pole for p in tree.poles] == list(POLES)
    for pole in tree.poles:
        samples = [n for n in pole.sources if not n.endswith("_remote")]
        assert len(samples) >= 8, pole.pole
        for name in samples:
            remote = pole.sources[f"{name}_remote"]
            assert re.match(r"^https?://", remote["args"]["urlpath"]), name
            assert pole.sources[name]["args"]["urlpath"].startswith("{{ CATALOG_DIR }}/samples/"), name
            # The remote URL is the one the metadata advertises.
            assert remote["args"]["urlpath"] == pole.sources[name]["metadata"]["access"]["url"], name


def test_samples_are_real_with_a_citation_or_synthetic_with_a_seed(catalog_path):
    kinds = {}
    for pole in read_tree(catalog_path).poles:
        for name, spec in pole.sources.items():
            if name.endswith("_remote"):
                continue
            sample = spec["metadata"]["sample"]
            kinds.setdefault(sample["kind"], []).append(name)
            if sample["kind"] == "real":
                assert sample["source"]["package"] and sample["source"]["file"]
            else:
                assert isinstance(sample["seed"], int)
                assert "SYNTHETIC" in spec["description"]
    assert {"co2_mauna_loa_weekly", "enso_sst_nino12"} <= set(kinds["real"])


def test_plain_intake_lists_the_poles_and_reads_the_metadata(catalog_path):
    cat = intake.open_catalog(str(catalog_path))
    assert set(POLES) <= set(cat)
    md = cat.odatis.species_occurrences.metadata
    assert md["sample"]["true_niche"]["temperature_optimum_degC"] == 12.0


def test_schema_is_a_valid_json_schema():
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema())


@pytest.mark.parametrize("pole", POLES)
def test_each_pole_validates_on_its_own(catalog_path, pole):
    assert [str(p) for p in check_catalog(catalog_path.parent / f"{pole}.yaml", open_samples=False)] == []
