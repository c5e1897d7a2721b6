"""`vre workshop create --shared-password` says what it allows: on stderr and atop the roster."""

import pytest

from vre_workshop.registry import Registry
from vre_workshop.roster import read_roster

pytestmark = [pytest.mark.docker]

ALLOWS = "any participant can log in as any other participant and read or change their work"


def test_shared_password_warns_on_stderr_and_in_the_roster(ws_hub, capsys):
    name = f"{ws_hub.prefix}-shared"
    try:
        assert ws_hub.vre("create", name, "--seats", "2", "--shared-password", "--expires", "2099-01-01") == 0
        err = capsys.readouterr().err
        warnings = [line for line in err.splitlines() if line.startswith("warning:")]
        assert len(warnings) == 1 and ALLOWS in warnings[0], err

        roster = Registry(ws_hub.state_dir).roster_file(name)
        first_line = roster.read_text().splitlines()[0]
        assert first_line.startswith("# WARNING:") and ALLOWS in first_line
        rows = read_roster(roster)  # the CSV still reads, below its warning line
        participants = [r for r in rows if r["role"] == "participant"]
        assert len(participants) == 2 and len({r["password"] for r in participants}) == 1
    finally:
        ws_hub.vre("end", name, "--remove")


def test_own_passwords_carry_no_warning(ws_hub, capsys):
    name = f"{ws_hub.prefix}-own"
    try:
        assert ws_hub.vre("create", name, "--seats", "2", "--expires", "2099-01-01") == 0
        assert "warning:" not in capsys.readouterr().err
        assert not Registry(ws_hub.state_dir).roster_file(name).read_text().startswith("#")
    finally:
        ws_hub.vre("end", name, "--remove")
