"""The catalogues open with plain intake in a fresh interpreter that never imports our package."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def test_plain_intake_opens_every_pole_without_vre_catalog(catalog_path):
    script = textwrap.dedent(f"""
        import json, sys
        import intake
        cat = intake.open_catalog({str(catalog_path)!r})
        out = {{}}
        out["env"] = list(cat.odatis.ocean_environment_monthly.read().data_vars)
        out["co2"] = len(cat.aeris.co2_mauna_loa_weekly.read())
        out["oso"] = list(cat.theia.land_cover_oso.to_dask().data_vars)
        out["wave"] = dict(cat.formater.seismic_waveform.to_dask().sizes)
        out["remote_driver"] = type(cat.odatis.bathymetry_remote).__name__
        out["leaked"] = sorted(m for m in sys.modules if m.startswith("vre"))
        print(json.dumps(out))
    """)
    proc = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["env"] == ["thetao", "so", "o2", "chl"]
    assert out["co2"] > 2000
    assert out["oso"] == ["land_cover"]
    assert out["wave"] == {"channel": 3, "time": 18000}
    assert out["remote_driver"] == "OpenDapSource"
    assert out["leaked"] == []
