"""Pure parts of the workshop tooling: names, records, roster, roles, culling, notebooks packing."""

import io
import stat
import subprocess
import tarfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from traitlets.config import Config

from vre_hub.naming import is_allowed
from vre_workshop import hubconfig, notebooks
from vre_workshop.create import participant_names
from vre_workshop.culling import WorkshopTimeouts, cull_arbiter
from vre_workshop.errors import WorkshopError
from vre_workshop.prewarm import RateLimiter
from vre_workshop.registry import Registry, Workshop, check_name, parse_date, parse_datetime
from vre_workshop.roles import teacher_role
from vre_workshop.roster import assign_passwords, read_roster, write_roster
from vre_workshop.status import classify


def ws(**kw) -> Workshop:
    base = dict(name="neo-2026", teacher="prof", participants=["neo-2026-01", "neo-2026-02"])
    base.update(kw)
    return Workshop(**base)


@pytest.mark.parametrize("name", ["neo-2026", "abc", "a1-b2"])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name", ["", "ab", "Neo", "1abc", "neo_2026", "neo-", "x" * 21, "../etc", "neo--2026", "neo-2026\n", "neoé"]
)
def test_invalid_names_say_how_to_fix(name):
    with pytest.raises(WorkshopError) as error:
        check_name(name)
    assert "lowercase" in str(error.value) and "\n" not in str(error.value)


def test_participant_names_are_zero_padded():
    assert participant_names("w", 3) == ["w-01", "w-02", "w-03"]
    assert participant_names("w", 120)[0] == "w-001"


def test_dates():
    assert parse_date("2026-12-31") == "2026-12-31"
    assert parse_datetime("2026-12-01T09:00") == "2026-12-01T09:00:00+00:00"
    with pytest.raises(WorkshopError):
        parse_date("31/12/2026")
    with pytest.raises(WorkshopError):
        parse_datetime("tomorrow")


def test_registry_roundtrip(tmp_path):
    registry = Registry(tmp_path)
    assert registry.all() == [] and not registry.exists("neo-2026")
    registry.save(ws(profile="standard"))
    loaded = registry.load("neo-2026")
    assert loaded.profile == "standard" and loaded.participants == ["neo-2026-01", "neo-2026-02"]
    assert stat.S_IMODE(registry.folder("neo-2026").stat().st_mode) == 0o700
    (registry.root / "junk").mkdir()
    (registry.root / "junk" / "workshop.json").write_text("{not json")
    assert [w.name for w in registry.all()] == ["neo-2026"]  # a broken record never breaks the hub config
    with pytest.raises(WorkshopError, match="no workshop called 'other'"):
        registry.load("other")


def test_roster_is_private_and_complete(tmp_path):
    passwords = assign_passwords(["a", "b", "c"])
    assert len(set(passwords.values())) == 3 and all(len(p) >= 14 for p in passwords.values())
    shared = assign_passwords(["a", "b"], shared=True)
    assert shared["a"] == shared["b"]
    path = write_roster(tmp_path / "roster.csv", [("participant", u, p) for u, p in passwords.items()], "http://127.0.0.1:8000")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = read_roster(path)
    assert [r["username"] for r in rows] == ["a", "b", "c"]
    assert rows[0]["login_url"] == "http://127.0.0.1:8000/hub/login"


def test_roster_with_a_name_breaking_the_rule_is_refused(tmp_path):
    path = write_roster(tmp_path / "roster.csv", [("participant", "a", "x"), ("participant", "sec\x0c3", "y")], "http://h")
    with pytest.raises(WorkshopError) as error:
        read_roster(path)
    assert "user name 'sec\\x0c3' is not allowed" in str(error.value)
    assert "\n" not in str(error.value)


def test_longest_workshop_name_gives_allowed_user_names():
    name = check_name("w" * 20)
    assert all(is_allowed(user) for user in participant_names(name, 500) + [f"{name}-teacher"])


def test_teacher_role_is_scoped_to_the_group():
    role = teacher_role(ws())
    assert role["users"] == ["prof"]
    assert "servers!group=neo-2026" in role["scopes"] and "access:servers!group=neo-2026" in role["scopes"]
    assert all(scope.endswith("!group=neo-2026") for scope in role["scopes"])


def test_hubconfig_adds_roles_culler_hook_and_spawn_guard(tmp_path):
    Registry(tmp_path).save(ws())
    Registry(tmp_path).save(ws(name="old-one", ended="2026-01-01T00:00:00+00:00"))
    c = Config()
    c.JupyterHub.load_roles = [{"name": "admin", "services": ["vre-admin"]}]
    c.JupyterHub.services = [
        {"name": "vre-admin"},
        {"name": "idle-culler", "command": ["python", "-m", "jupyterhub_idle_culler", "--timeout=3600"]},
    ]
    hubconfig.apply(c, tmp_path)
    names = [r["name"] for r in c.JupyterHub.load_roles]
    assert names == ["admin", "workshop-neo-2026-teacher"]  # ended workshops lose the role
    culler = c.JupyterHub.services[1]
    assert f"--config={hubconfig.CULLER_CONFIG}" in culler["command"]
    assert culler["environment"]["VRE_STATE_DIR"] == str(tmp_path)
    assert hubconfig.CULLER_CONFIG.exists()
    hook = c.Spawner.pre_spawn_hook

    class FakeSpawner:  # only the attribute the hook reads
        class user:
            name = "old-one-01"

    Registry(tmp_path).save(ws(name="old-one", participants=["old-one-01"], ended="2026-01-01T00:00:00+00:00"))
    with pytest.raises(Exception, match="has ended"):
        hook(FakeSpawner)
    FakeSpawner.user.name = "neo-2026-01"
    assert hook(FakeSpawner) is None


def test_class_window_and_timeouts(tmp_path):
    now = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    during = ws(class_start="2026-12-01T09:00:00+00:00", class_end="2026-12-01T17:00:00+00:00", class_idle_timeout=3 * 3600)
    Registry(tmp_path).save(during)
    timeouts = WorkshopTimeouts(tmp_path)
    assert timeouts.limit_for("neo-2026-01", 3600, now) == 3 * 3600
    assert timeouts.limit_for("prof", 3600, now) == 3 * 3600
    assert timeouts.limit_for("someone-else", 3600, now) == 3600
    assert timeouts.limit_for("neo-2026-01", 3600, now + timedelta(hours=8)) == 3600  # after class
    assert timeouts.limit_for("neo-2026-01", 3600, now - timedelta(hours=2)) == 3600  # before class
    # records are re-read when they change
    during.class_idle_timeout = 5 * 3600
    Registry(tmp_path).save(during)
    assert timeouts.limit_for("neo-2026-01", 3600, now) == 5 * 3600


def test_cull_arbiter_reads_state_dir(tmp_path, monkeypatch):
    import vre_workshop.culling as culling

    Registry(tmp_path).save(ws(class_idle_timeout=7200))
    monkeypatch.setenv("VRE_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(culling, "_timeouts", None)
    server = {"full_name": "neo-2026-01/"}
    assert not cull_arbiter(timedelta(minutes=90), 3600, server)
    assert cull_arbiter(timedelta(minutes=130), 3600, server)
    assert cull_arbiter(timedelta(minutes=61), 3600, {"full_name": "stranger/"})


def test_rate_limiter_spaces_starts():
    import time

    limiter = RateLimiter(20)
    began = time.monotonic()
    for _ in range(5):
        limiter.wait()
    assert time.monotonic() - began >= 4 / 20 - 0.01
    with pytest.raises(WorkshopError):
        RateLimiter(0)


def test_status_classification():
    now = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    running = {"servers": {"": {"ready": True, "last_activity": "2026-12-01T09:58:00Z"}}}
    idle = {"servers": {"": {"ready": True, "last_activity": "2026-12-01T09:00:00Z"}}}
    starting = {"servers": {"": {"ready": False, "pending": "spawn"}}}
    assert classify(running, "ok", 900, now)[0] == "running"
    assert classify(idle, "ok", 900, now)[0] == "idle"
    assert classify(starting, None, 900, now)[0] == "starting"
    assert classify({"servers": {}}, "timeout", 900, now) == ("failed", "timeout")
    assert classify({"servers": {}}, "ok", 900, now)[0] == "stopped"
    assert classify(None, None, 900, now)[0] == "missing"


def test_pack_local_folder_skips_hidden_and_owns_as_jovyan(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.ipynb").write_text("{}")
    (tmp_path / "sub" / "b.csv").write_text("x")
    (tmp_path / ".ipynb_checkpoints").mkdir()
    (tmp_path / ".ipynb_checkpoints" / "a-checkpoint.ipynb").write_text("{}")
    packed = notebooks.load(str(tmp_path))
    assert sorted(notebooks.names(packed)) == ["a.ipynb", "sub/b.csv"]
    with tarfile.open(fileobj=io.BytesIO(packed)) as tar:
        assert {(m.uid, m.gid) for m in tar.getmembers()} == {(1000, 100)}


def test_pack_git_repository(tmp_path):
    repo = tmp_path / "material"
    repo.mkdir()
    (repo / "intro.ipynb").write_text("{}")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "material"], check=True)
    url = f"file://{repo}"
    assert notebooks.is_git_url(url)
    assert notebooks.names(notebooks.load(url)) == ["intro.ipynb"]  # .git left out
    with pytest.raises(WorkshopError, match="cannot clone"):
        notebooks.load(f"file://{tmp_path}/missing.git")


def test_missing_or_empty_notebooks_path(tmp_path):
    with pytest.raises(WorkshopError, match="does not exist"):
        notebooks.load(str(tmp_path / "nope"))
    with pytest.raises(WorkshopError, match="no files"):
        notebooks.load(str(tmp_path))


def test_cli_unknown_workshop_is_one_line(tmp_path, capsys, monkeypatch):
    from vre_workshop import cli

    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)

    assert cli.main(["--state-dir", str(tmp_path), "status", "nope-ws"]) == 1  # no hub token at all
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no admin token in {tmp_path}; ") and "--token" in err and "\n" not in err
    assert cli.main(["--state-dir", str(tmp_path), "distribute", "nope-ws"]) == 1  # local: the records
    err = capsys.readouterr().err.strip()
    assert err == "error: no workshop called 'nope-ws'; list them with `vre workshop list`"


def test_cli_culling_updates_the_record(tmp_path, capsys):
    from vre_workshop import cli

    Registry(tmp_path).save(ws())
    argv = ["--state-dir", str(tmp_path), "culling", "neo-2026", "--class-start", "2026-12-01T09:00",
            "--class-end", "2026-12-01T17:00", "--class-idle-minutes", "240"]
    assert cli.main(argv) == 0
    record = Registry(tmp_path).load("neo-2026")
    assert record.class_idle_timeout == 240 * 60 and record.class_start.startswith("2026-12-01T09:00")
    assert cli.main(["--state-dir", str(tmp_path), "culling", "neo-2026", "--class-idle-minutes", "0"]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert cli.main(["--state-dir", str(tmp_path), "list"]) == 0
    assert "neo-2026" in capsys.readouterr().out


def test_generated_passwords_use_fewer_bcrypt_rounds(tmp_path):
    import bcrypt
    from nativeauthenticator.orm import UserInfo
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from vre_workshop.passwords import GENERATED_PASSWORD_ROUNDS, set_generated_password

    db_url = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    set_generated_password("neo-2026-01", "Abcdefghijk234", db_url)
    set_generated_password("neo-2026-01", "Zyxwvutsrqp234", db_url)  # update, not a second row
    db = sessionmaker(bind=create_engine(db_url))()
    rows = db.query(UserInfo).filter(UserInfo.username == "neo-2026-01").all()
    assert len(rows) == 1 and rows[0].is_authorized
    assert bcrypt.checkpw(b"Zyxwvutsrqp234", rows[0].password)
    assert rows[0].password.startswith(f"$2b${GENERATED_PASSWORD_ROUNDS:02d}$".encode())
