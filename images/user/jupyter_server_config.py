# Settings of every user server (jupyterhub-singleuser is a jupyter_server), installed as
# $VENV/etc/jupyter/jupyter_server_config.py. What happens when a home is full
# (tests/faults/test_disk_full.py):
import sqlite3
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from nbformat.sign import SQLiteSignatureStore

c = get_config()  # noqa: F821

# A save that fails (home full) keeps the previous version: jupyter_server copies the file
# aside before writing and moves it back on error. Its default, written down because
# turning it off would truncate notebooks on a full disk.
c.FileContentsManager.use_atomic_writing = True


class FullHomeSignatureStore(SQLiteSignatureStore):
    """The notebook-trust database (~/.local/share/jupyter/nbsignatures.db), whose writes
    fail when the home is full ("database or disk is full"). Opening a notebook writes its
    last-seen time there: without this a full home made every notebook unreadable.
    A failed write is logged and skipped; trust already recorded still counts."""

    def check_signature(self, digest, algorithm):
        try:
            return super().check_signature(digest, algorithm)
        except sqlite3.OperationalError as error:  # its UPDATE of last_seen, after finding it
            self.db.rollback()
            self.log.warning("notebook trust database not updated: %s", error)
            query = "SELECT 1 FROM nbsignatures WHERE algorithm = ? AND signature = ?"
            return self.db.execute(query, (algorithm, digest)).fetchone() is not None

    def store_signature(self, digest, algorithm):
        try:
            super().store_signature(digest, algorithm)
        except sqlite3.OperationalError as error:
            self.db.rollback()
            self.log.warning("notebook trust not recorded: %s", error)


# The default store's file (NotebookNotary.db_file's default), with the class above.
c.NotebookNotary.store_factory = lambda: FullHomeSignatureStore(str(Path(jupyter_data_dir()) / "nbsignatures.db"))
