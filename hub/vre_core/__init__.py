"""The VRE's bottom layer, shared by the hub (``vre_hub``), the jobs service (``vre_jobs``) and
the workshop tools (``vre_workshop``), and importing none of them: names and fixed facts
(:mod:`.naming`), the state folder (:mod:`.state`), the hub API client (:mod:`.hub`), a user's
home volume (:mod:`.homes`), password accounts and disabling (:mod:`.accounts`,
:mod:`.disabling`) and the CLI kit (:mod:`.cli`)."""

__version__ = "0.1.0"
