"""``python -m vre_jobs``: run the jobs service (the hub starts it as a managed service)."""

from .app import main

main()
