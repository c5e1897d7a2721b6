"""The hub configuration as other commands read it (no hub running)."""

from vre_hub.launcher import offered_profiles
from vre_hub.state import StateDir


def test_offered_profiles_are_the_defaults_plus_the_operators(tmp_path):
    state = StateDir(tmp_path / "state")
    assert offered_profiles(state) == ["standard", "large-memory"]
    extra = state.path / "jupyterhub_config.d"
    extra.mkdir(parents=True, exist_ok=True)
    (extra / "50-profiles.py").write_text(
        "from vre_hub.spawner import DEFAULT_PROFILES\n"
        "c.VRESpawner.profiles = DEFAULT_PROFILES + [{'name': 'gpu-less-huge', 'display_name': 'x',"
        " 'mem_limit': '16G', 'cpu_limit': 2.0}]\n"
    )
    assert offered_profiles(state) == ["standard", "large-memory", "gpu-less-huge"]
