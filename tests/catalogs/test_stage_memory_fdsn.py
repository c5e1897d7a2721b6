"""The 200 MB memory bound of test_stage_memory.py for the FDSN event text service (its own file: the slowest
protocol here, 13 columns of text per event)."""
from __future__ import annotations

from .test_stage_memory import check_200_mb_run


def test_a_200_mb_fdsn_staging_holds_about_one_block(tmp_path):
    check_200_mb_run("fdsn", tmp_path)
