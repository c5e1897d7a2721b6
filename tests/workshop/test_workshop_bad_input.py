"""Bad input to `vre workshop create`: one-line error, non-zero exit, nothing half-created."""

import pytest

from vre_core.state import StateDir
from vre_workshop import create as create_module
from vre_workshop.registry import Registry

pytestmark = [pytest.mark.docker]


def _snapshot(ws_hub):
    users = sorted(u["name"] for u in ws_hub.client.get("/users"))
    groups = sorted(g["name"] for g in ws_hub.client.get("/groups"))
    workshops = sorted(w.name for w in Registry(ws_hub.state_dir).all())
    folders = sorted(p.name for p in Registry(ws_hub.state_dir).root.glob("*")) if Registry(ws_hub.state_dir).root.exists() else []
    return users, groups, workshops, folders, sorted(ws_hub.names("volume"))


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    assert ";" in err  # what is wrong; how to fix it
    for word in words:
        assert word in err, err
    return err


@pytest.fixture
def material(tmp_path):
    (tmp_path / "intro.ipynb").write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    return tmp_path


@pytest.mark.parametrize("seats", ["0", "-3"])
def test_seats_must_be_positive(ws_hub, capsys, seats, material):
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", f"{ws_hub.prefix}-bad", "--seats", seats, "--notebooks", str(material)) != 0
    _one_line_error(capsys, "--seats")
    assert _snapshot(ws_hub) == before


def test_unknown_profile(ws_hub, capsys):
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", f"{ws_hub.prefix}-prof", "--seats", "2", "--profile", "gigantic") != 0
    _one_line_error(capsys, "unknown profile 'gigantic'", "standard", "large-memory")
    assert _snapshot(ws_hub) == before


@pytest.mark.parametrize("teacher", ["prof x", "prof\tx", "profé", "..", "p" * 29])
def test_teacher_name_breaking_the_rule(ws_hub, capsys, teacher):
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", f"{ws_hub.prefix}-tch", "--seats", "2", "--teacher", teacher) != 0
    _one_line_error(capsys, f"teacher name {teacher!r} is not allowed", "--teacher")
    assert _snapshot(ws_hub) == before


def test_workshop_name_too_long_for_its_user_names(ws_hub, capsys):
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", f"{ws_hub.prefix}-" + "x" * 14, "--seats", "2") != 0  # 21 characters
    _one_line_error(capsys, "invalid workshop name", "3-20")
    assert _snapshot(ws_hub) == before


def test_missing_notebooks_path(ws_hub, capsys, tmp_path):
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", f"{ws_hub.prefix}-nb", "--seats", "2", "--notebooks", str(tmp_path / "nope")) != 0
    _one_line_error(capsys, "does not exist")
    assert _snapshot(ws_hub) == before


def test_existing_workshop_name(ws_hub, capsys, material):
    name = f"{ws_hub.prefix}-dup"
    assert ws_hub.vre("create", name, "--seats", "1") == 0
    capsys.readouterr()
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", name, "--seats", "2", "--notebooks", str(material)) != 0
    _one_line_error(capsys, "already exists")
    assert _snapshot(ws_hub) == before


def test_existing_hub_group_name(ws_hub, capsys):
    name = f"{ws_hub.prefix}-grp"
    assert ws_hub.client.request("POST", f"/groups/{name}").status_code == 201
    before = _snapshot(ws_hub)
    assert ws_hub.vre("create", name, "--seats", "2") != 0
    _one_line_error(capsys, "already exists")
    assert _snapshot(ws_hub) == before


def test_failure_midway_is_rolled_back(ws_hub, material, monkeypatch):
    """A distribution failure (simulated: Docker cannot be made to fail on cue) undoes
    the accounts, group, roster and volumes already made. ``create`` runs in this process
    (the CLI's goes through the console, another process, where nothing can be patched)."""
    from vre_workshop.context import Context

    before = _snapshot(ws_hub)

    def broken(ctx, workshop, packed, users=None):
        from vre_workshop import homes

        homes.distribute(ctx.docker, ctx.user_image, workshop.participants[0], packed, "workshops/x")  # one real home
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(create_module, "distribute", broken)
    ctx = Context(state=StateDir(ws_hub.state_dir), hub_url=ws_hub.url, image=ws_hub.image, say=lambda _line: None)
    request = create_module.Request(name=f"{ws_hub.prefix}-half", seats=2, notebooks=str(material))
    with pytest.raises(OSError, match="disk full"):
        create_module.create(ctx, request)
    assert _snapshot(ws_hub) == before
