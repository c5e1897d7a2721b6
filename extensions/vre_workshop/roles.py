"""The teacher's JupyterHub role: everything about the workshop group, nothing outside it."""

from .registry import Workshop

#: The hub group whose members may create and run workshops in the teacher's console
#: (``vre workshop teachers add NAME``). A group, not a role: groups change without a restart.
TEACHERS_GROUP = "teachers"


def teacher_scopes(group: str) -> list[str]:
    """Scopes filtered to the members of ``group`` (JupyterHub ``!group=`` filter)."""
    only = f"!group={group}"
    return [
        f"servers{only}",  # start and stop members' servers
        f"access:servers{only}",  # open a member's JupyterLab to help
        f"read:users{only}",  # names, server state
        f"read:users:activity{only}",  # who is idle
        f"list:users{only}",  # the admin page and /api/users show the members only
        f"read:groups{only}",
        f"list:groups{only}",
    ]


def teacher_role(workshop: Workshop) -> dict:
    """A ``c.JupyterHub.load_roles`` entry granting the teacher the group scopes."""
    return {
        "name": workshop.teacher_role,
        "description": f"Teacher of workshop {workshop.name}: start, stop and open its participants' servers",
        "scopes": teacher_scopes(workshop.group),
        "users": [workshop.teacher],
    }
