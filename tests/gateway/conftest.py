"""Fixtures of the Dask Gateway tests: the real one-node Slurm cluster, unprivileged accounts."""

from slurm_cluster import slurm_cluster, unix_user  # noqa: F401  (fixtures)
