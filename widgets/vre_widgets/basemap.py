"""Offline map context: Natural Earth country outlines (coastlines and borders) as GeoJSON.

The outlines are Natural Earth's 1:110m admin-0 countries (public domain) as shipped inside the
``pyogrio`` wheel (its ``naturalearth_lowres`` test fixture; pyogrio comes with geopandas in the
``user`` extra). Nothing is downloaded: the map is readable with no network. A tile basemap is added
on top only when ``VRE_BASEMAP_URL`` names a reachable XYZ server (see ``bbox_map.BBoxMap``).
"""

from __future__ import annotations

import json
from functools import lru_cache

NATURAL_EARTH = ("pyogrio", "pyogrio/tests/fixtures/naturalearth_lowres/naturalearth_lowres.shp")
COUNTRY_STYLE = {"color": "#555", "weight": 0.7, "opacity": 0.9, "fillColor": "#e8e4d8", "fillOpacity": 0.6}  # Leaflet path options


@lru_cache(maxsize=1)
def countries(precision: float = 0.01) -> dict | None:
    """Natural Earth country polygons as a GeoJSON FeatureCollection (~200 kB), or None without pyogrio."""
    from importlib import metadata

    try:
        import pyogrio.raw
        import shapely

        path = metadata.distribution(NATURAL_EARTH[0]).locate_file(NATURAL_EARTH[1])
    except (ImportError, metadata.PackageNotFoundError):
        return None
    if not path.exists():
        return None
    _meta, _fids, wkb, fields = pyogrio.raw.read(path, columns=["name"])
    shapes = shapely.set_precision(shapely.from_wkb(wkb), precision)  # 1 km is plenty at this scale
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "properties": {"name": str(name)},
                          "geometry": json.loads(shapely.to_geojson(shape))}
                         for name, shape in zip(fields[0], shapes)]}


def country_paths():
    """The outlines as (lon, lat) arrays, one per ring, for quick-look plots (holoviews Path data)."""
    import numpy as np

    geo = countries()
    if geo is None:
        return []
    rings = []
    for feature in geo["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        rings.extend(np.asarray(ring) for polygon in polygons for ring in polygon)
    return rings
