"""Checks that need no Docker: parameter types, sweeps, paths, cron, CLI parsing, and
reading what a job wrote about itself (status.json, untrusted)."""

import datetime as dt
import json
from pathlib import Path

import pytest
from vre_jobs import cli
from vre_jobs.cron import check_cron, next_runs
from vre_jobs.hubconfig import ACCESS_SCOPE, grant_user_access, service_config
from vre_jobs.parameters import (
    SubmissionError,
    expand_sweep,
    inspect_notebook_bytes,
    resolve_notebook_path,
    resolve_output_root,
    validate_parameters,
)
from vre_jobs.report import MAX_STATUS_BYTES, MAX_TEXT, parse_status

NOTEBOOKS = Path(__file__).parent / "notebooks"


@pytest.fixture(scope="module")
def declared():
    return inspect_notebook_bytes((NOTEBOOKS / "params.ipynb").read_bytes(), "params.ipynb")


def test_declared_parameters_come_from_papermill(declared):
    assert list(declared) == ["alpha", "label", "repeat", "verbose"]
    assert declared["alpha"]["inferred_type_name"] == "float"


@pytest.mark.parametrize(
    "values",
    [{}, {"alpha": 1}, {"alpha": 0.25, "label": "x", "repeat": 3, "verbose": True}],
)
def test_good_parameters_pass(declared, values):
    validate_parameters(values, declared, "params.ipynb")


@pytest.mark.parametrize(
    "values, message",
    [
        ({"beta": 1}, "unknown parameter 'beta' for params.ipynb; known parameters: alpha, label, repeat, verbose"),
        ({"alpha": "high"}, "parameter 'alpha' of params.ipynb expects float, got str 'high'; pass a float"),
        ({"repeat": 2.5}, "expects int, got float 2.5"),
        ({"repeat": True}, "expects int, got bool True"),
        ({"label": 3}, "expects str, got int 3"),
        ({"verbose": "yes"}, "expects bool, got str 'yes'"),
    ],
)
def test_bad_parameters_are_one_line_errors(declared, values, message):
    with pytest.raises(SubmissionError) as err:
        validate_parameters(values, declared, "params.ipynb")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_notebook_without_parameters_cell_rejects_parameters():
    with pytest.raises(SubmissionError, match="no cell tagged 'parameters'"):
        validate_parameters({"x": 1}, {}, "plain.ipynb")


def test_not_a_notebook_is_reported():
    with pytest.raises(SubmissionError, match="cannot read notebook x.ipynb"):
        inspect_notebook_bytes(b"{not json", "x.ipynb")


def test_grid_sweep_is_the_cartesian_product():
    sets = expand_sweep({"label": "s"}, {"grid": {"alpha": [1, 2], "repeat": [3, 4]}})
    assert sets == [
        {"label": "s", "alpha": 1, "repeat": 3},
        {"label": "s", "alpha": 1, "repeat": 4},
        {"label": "s", "alpha": 2, "repeat": 3},
        {"label": "s", "alpha": 2, "repeat": 4},
    ]


def test_list_sweep_and_bare_list():
    assert expand_sweep({}, {"list": [{"a": 1}, {"a": 2}]}) == [{"a": 1}, {"a": 2}]
    assert expand_sweep({"b": 0}, [{"a": 1}]) == [{"b": 0, "a": 1}]
    assert expand_sweep({"a": 1}, None) == [{"a": 1}]


@pytest.mark.parametrize(
    "sweep",
    [{"grid": {"a": []}}, {"grid": []}, {"list": []}, {"list": [1]}, {"grid": {"a": [1]}, "list": []}, {"cross": {}}],
)
def test_bad_sweeps(sweep):
    with pytest.raises(SubmissionError, match="sweep"):
        expand_sweep({}, sweep)


def test_huge_grid_is_refused():
    with pytest.raises(SubmissionError, match="more than 500"):
        expand_sweep({}, {"grid": {"a": list(range(30)), "b": list(range(30))}})


def test_paths_stay_in_home_or_shipped_notebooks():
    assert resolve_notebook_path("work/a.ipynb", "/opt/vre/notebooks") == "/home/jovyan/work/a.ipynb"
    assert resolve_notebook_path("~/a.ipynb", "/opt/vre/notebooks") == "/home/jovyan/a.ipynb"
    assert resolve_notebook_path("/opt/vre/notebooks/neo.ipynb", "/opt/vre/notebooks") == "/opt/vre/notebooks/neo.ipynb"
    for bad in ("../../etc/passwd.ipynb", "/etc/x.ipynb", "work/data.csv", ""):
        with pytest.raises(SubmissionError):
            resolve_notebook_path(bad, "/opt/vre/notebooks")
    assert resolve_output_root(None) == "/home/jovyan/jobs"
    assert resolve_output_root("results/run1") == "/home/jovyan/results/run1"
    with pytest.raises(SubmissionError, match="outside your home"):
        resolve_output_root("../other")


@pytest.mark.parametrize("bad", [5, ["work/a.ipynb"], {"path": 1}, "work/\x1b[2Ja.ipynb", "work/a\n.ipynb", "w/" * 600 + "a.ipynb"])
def test_paths_of_the_wrong_type_or_with_control_characters_are_refused(bad):
    for check in (lambda: resolve_notebook_path(bad, "/opt/vre/notebooks"), lambda: resolve_output_root(bad)):
        with pytest.raises(SubmissionError) as error:
            check()
        assert "\n" not in str(error.value) and ";" in str(error.value)


def test_cron():
    assert check_cron(" 0 6 * * * ") == "0 6 * * *"
    assert check_cron("* * * * * */5") == "* * * * * */5"  # seconds field
    for bad in ("", "61 * * * *", "every day", "* * * *", 5, None, ["0 6 * * *"], "* " * 200):
        with pytest.raises(SubmissionError, match="invalid cron expression"):
            check_cron(bad)
    start = dt.datetime(2026, 3, 1, 5, 30)
    assert next_runs("0 6 * * *", start, 2) == [dt.datetime(2026, 3, 1, 6), dt.datetime(2026, 3, 2, 6)]


def test_cli_builds_the_submission():
    args = cli.build_parser().parse_args(
        ["submit", "work/a.ipynb", "-p", "alpha", "0.5", "-p", "label", "north", "-r", "code", "007",
         "--grid", "repeat=1,2", "--timeout", "60", "--retries", "1"]
    )
    body = cli._submission(args)
    assert body == {
        "notebook": "work/a.ipynb",
        "parameters": {"alpha": 0.5, "label": "north", "code": "007"},
        "sweep": {"grid": {"repeat": [1, 2]}},
        "timeout": 60,
        "retries": 1,
    }


def test_cli_without_token_says_how_to_fix(monkeypatch, capsys):
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no hub token;") and "\n" not in err


def test_hub_config_entries(tmp_path, monkeypatch):
    monkeypatch.delenv("VRE_JOBS_PORT", raising=False)
    service, role = service_config(tmp_path, image="img:1", port=12345)
    assert service["name"] == "jobs" and service["url"] == "http://127.0.0.1:12345"
    assert f"--JobsService.db_url=sqlite:///{tmp_path / 'vre-jobs.sqlite'}" in service["command"]
    assert "--JobsService.image=img:1" in service["command"]
    assert role["services"] == ["jobs"] and role["scopes"] == []
    roles = [{"name": "user", "scopes": ["self", "shares"]}]
    grant_user_access(roles)
    assert roles[0]["scopes"] == ["self", "shares", ACCESS_SCOPE]
    assert roles[1] == {"name": "server", "scopes": ["users:activity!user", "access:servers!server", ACCESS_SCOPE]}
    json.dumps(service)  # plain data, loadable by the hub


# --- status.json: written by the runner, but in the user's home, so anyone's -----------------


def test_the_runners_own_report_reads_back():
    report = {"job": "j1", "state": "failed", "error_name": "ValueError", "error": "ValueError: bad divisor 0",
              "error_cell": 2, "execution_count": 2, "execution_seconds": 1.25, "started": "2026-01-01T00:00:00Z",
              "files": ["notebook.ipynb"]}
    assert parse_status(json.dumps(report).encode()) == {k: v for k, v in report.items() if k not in ("job", "files")}
    assert parse_status(None) == {}


@pytest.mark.parametrize(
    "planted, why",
    [
        ({"state": "failed", "error_cell": "<img src=x onerror=alert(1)>"}, "'error_cell' is not a whole number"),
        ({"state": "failed", "error_cell": True}, "'error_cell' is not a whole number"),
        ({"state": "failed", "error_cell": -1}, "'error_cell' is not a whole number"),
        ({"state": "<b>done</b>"}, "'state' is not one of running, completed, failed"),
        ({"state": "failed", "error": {"html": "<script>"}}, "'error' is not a string"),
        ({"state": "failed", "execution_seconds": "NaN"}, "'execution_seconds' is not a number"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_planted_report_of_the_wrong_shape_is_unreadable(planted, why):
    assert why in parse_status(json.dumps(planted).encode())["unreadable"]


def test_a_planted_report_is_bounded_and_stripped():
    planted = {"state": "failed", "error": "\x1b[2J" + "x" * 10_000, "error_name": "E\x00\x07vil", "admin": True}
    report = parse_status(json.dumps(planted).encode())
    assert report == {"state": "failed", "error": "[2J" + "x" * (MAX_TEXT - 3), "error_name": "Evil"}
    assert "larger than" in parse_status(b" " * (MAX_STATUS_BYTES + 1))["unreadable"]
    assert parse_status(b"{not json")["unreadable"] == "status.json is not valid JSON"
