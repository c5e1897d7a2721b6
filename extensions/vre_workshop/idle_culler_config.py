# Config file for jupyterhub-idle-culler (`--config=<this file>`): apply each workshop's
# class idle timeout on top of the culler's everyday `--timeout`.
from vre_workshop.culling import cull_arbiter

c = get_config()  # noqa: F821 (provided by traitlets when loading the file)
c.IdleCuller.cull_arbiter_hook = cull_arbiter
