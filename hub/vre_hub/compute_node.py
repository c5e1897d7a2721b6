"""JupyterLab on a compute node (issue 16): one more server profile, ``compute-node``, whose
server is a Slurm batch job of the user's Unix account (batchspawner's ``SlurmSpawner``),
beside the container profiles. Off unless ``VRE_COMPUTE_NODE=slurm`` (section "JupyterLab
on a compute node" of hub/jupyterhub_config.py).

The hub's spawner is then ``VREProfilesSpawner`` (wrapspawner's ``ProfilesSpawner``): the
container profiles are ``VRESpawner``'s, unchanged (same limits, same form names, same
``{"profile": name}`` in the REST API); ``compute-node`` is ``VRESlurmSpawner``.

What isolates the compute-node server: it runs as the Unix account named like the hub user
(never root; the site's directory must know it), under Slurm's limits and accounting, like
any batch job there. It is not a container: it sees what that account sees on the node
(the site's usual HPC model), not the VRE image nor its volumes.
"""

from __future__ import annotations

import shutil

from batchspawner import BatchSpawnerBase, SlurmSpawner
from traitlets import List, Unicode, default, directional_link
from wrapspawner import ProfilesSpawner

from vre_hub.spawner import DEFAULT_PROFILES, ProfileError, VRESpawner

COMPUTE_NODE = "compute-node"


class VRESlurmSpawner(SlurmSpawner):
    """A user's JupyterLab as a Slurm job of their Unix account (batchspawner's SlurmSpawner).

    Differences: without ``sudo`` on the hub's host, the hub (as root) submits, queries and
    cancels as the user with ``runuser``; ``SLURM_CONF`` reaches the Slurm commands; the
    server opens JupyterLab.
    """

    @default("exec_prefix")
    def _default_exec_prefix(self):
        # Both keep the environment: sbatch exports the server's variables from it.
        return "sudo -E -u {username}" if shutil.which("sudo") else "runuser -u {username} --"

    @default("env_keep")
    def _default_env_keep(self):
        # sbatch exports only these to the job (and what batchspawner adds: the hub's
        # variables, USER, HOME, SHELL): PATH finds jupyterhub-singleuser (a site sets
        # req_prologue, e.g. "module load jupyter", where the node's differs).
        return ["PATH", "LANG", "LC_ALL", "JUPYTERHUB_SINGLEUSER_APP", "SLURM_CONF"]

    @default("default_url")
    def _default_url(self):
        return "/lab"


#: What JupyterHub gives the spawner it made (when making it and at each start): passed on
#: to the profile's own spawner (and, for a batch job, the port its server reports to us
#: through batchspawner's API). Everything else is that spawner's own configuration
#: (c.VRESpawner.*, c.VRESlurmSpawner.*), which wrapspawner would overwrite with ours.
PASSED_ON = (
    "api_token", "admin_access", "cert_paths", "user_options", "handler", "oauth_client_id",
    "cookie_options", "cookie_host_prefix_enabled", "trusted_alt_names", "internal_ssl",
    "internal_trust_bundles", "internal_certs_location", "public_url", "public_hub_url", "proxy_spec",
)


class VREProfilesSpawner(ProfilesSpawner):
    """The container profiles (``VRESpawner``) and ``compute-node`` (``VRESlurmSpawner``)."""

    container_profiles = List(
        help="VRESpawner's profile dicts offered as containers (default: VRESpawner.profiles).",
        config=True,
    )

    @default("container_profiles")
    def _default_container_profiles(self):
        configured = self.config.get("VRESpawner", {}).get("profiles")
        return list(configured) if configured else list(DEFAULT_PROFILES)

    compute_node_display_name = Unicode(
        "JupyterLab on a compute node (Slurm batch job)", help="How the form names the compute-node profile.",
        config=True,
    )

    @default("profiles")
    def _default_profiles(self):
        containers = [(p.get("display_name", p["name"]), p["name"], VRESpawner, {}) for p in self.container_profiles]
        return [*containers, (self.compute_node_display_name, COMPUTE_NODE, VRESlurmSpawner, {})]

    @default("apply_user_options")
    def _default_apply_user_options(self):
        return VREProfilesSpawner._check_profile

    @staticmethod
    def _check_profile(spawner, user_options):
        """An unknown profile is refused (HTTP 400) before anything starts."""
        chosen = (user_options or {}).get("profile")
        if isinstance(chosen, list):  # raw form data
            chosen = chosen[0] if chosen else None
        known = [p[1] for p in spawner.profiles]
        if chosen and chosen not in known:
            raise ProfileError(chosen, known)
        spawner.user_options = {**(user_options or {}), "profile": chosen or known[0]}

    def construct_child(self):
        if self.child_spawner is not None:
            return self.child_spawner
        self.child_profile = self.user_options.get("profile", "")
        self.select_profile(self.child_profile)
        passed = {name: getattr(self, name) for name in PASSED_ON}
        child = self.child_class(
            user=self.user, orm_spawner=self.orm_spawner, hub=self.hub, authenticator=self.authenticator,
            config=self.config, _deprecated_db_session=self._deprecated_db_session, **passed, **self.child_config,
        )
        child.clear_state()  # it would see our state
        if self.child_state:
            child.load_state(self.child_state)
        for name in PASSED_ON:
            directional_link((self, name), (child, name))
        if isinstance(child, BatchSpawnerBase):  # its server reports its port to us
            directional_link((self, "port"), (child, "port"))
        if isinstance(child, VRESpawner):
            # The container profile's limits, as VRESpawner applies them for itself.
            VRESpawner._apply_profile(child, self.user_options)
        self.child_spawner = child
        return child
