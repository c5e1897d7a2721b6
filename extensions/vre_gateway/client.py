"""The notebook side: one line for a Dask cluster from the VRE's gateway.

    from vre_gateway.client import new_cluster
    cluster, client = new_cluster(workers=4)

Needs only ``dask-gateway`` (in the user image); the address, the proxy address and the
JupyterHub authentication come from the ``DASK_GATEWAY__*`` variables the hub sets in
each server (see ``vre_gateway.hubconfig.client_environment``).
"""

from __future__ import annotations


def new_cluster(workers: int = 2, **options):
    """A new cluster of the user's with ``workers`` workers, and a distributed Client on it.

    ``options``: cluster options the operator offers (``worker_cores``, ``worker_memory``
    in GiB); a value over the limit is refused by the gateway with a one-line message.
    """
    from dask_gateway import Gateway

    cluster = Gateway().new_cluster(**options)
    cluster.scale(workers)
    return cluster, cluster.get_client()
