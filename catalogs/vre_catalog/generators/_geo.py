"""A coarse, hand-drawn NE Atlantic / European shelf geography for the synthetic ocean samples.

The coastlines are rough polygons (a few dozen vertices), good enough for a 0.5 degree grid
with shelves, a Mediterranean and a North Sea.  They are not a basemap: samples built on them
are labelled synthetic.
"""
from __future__ import annotations

import numpy as np

# (lon, lat) vertices, counter-clockwise or not: the even-odd rule does not care.
EUROPE = [
    (-5.6, 36.0), (-6.3, 36.5), (-7.4, 37.2), (-8.9, 37.0), (-8.8, 38.5), (-9.5, 38.8),
    (-8.8, 41.0), (-9.3, 43.0), (-8.0, 43.7), (-1.8, 43.4), (-1.3, 44.6), (-1.2, 46.2),
    (-2.2, 47.1), (-4.4, 47.8), (-4.8, 48.4), (-3.0, 48.8), (-1.6, 48.7), (-1.9, 49.7),
    (0.2, 49.5), (1.6, 50.2), (2.5, 51.1), (4.0, 51.5), (4.8, 53.0), (7.0, 53.6),
    (8.6, 53.9), (8.6, 55.5), (8.1, 56.8), (10.6, 57.7), (12.0, 57.7), (12.0, 58.9),
    (10.0, 59.0), (8.0, 58.2), (7.0, 58.0), (5.6, 58.8), (5.0, 60.0), (4.9, 61.5),
    (5.5, 62.3), (7.5, 63.2), (9.5, 64.0), (10.5, 64.6), (12.0, 66.0), (12.0, 44.0),
    (10.0, 44.0), (8.8, 44.4), (7.5, 43.8), (6.0, 43.1), (4.5, 43.4), (3.1, 43.1),
    (3.2, 41.9), (0.9, 41.0), (-0.3, 39.5), (0.2, 38.7), (-0.7, 37.6), (-2.1, 36.7),
    (-4.4, 36.7),
]
GREAT_BRITAIN = [
    (-5.7, 50.0), (-3.5, 50.3), (-1.0, 50.7), (1.4, 51.2), (1.7, 52.7), (0.3, 53.4),
    (-0.1, 54.5), (-1.6, 55.6), (-2.0, 57.0), (-1.8, 57.6), (-3.2, 58.6), (-5.0, 58.6),
    (-6.2, 57.5), (-5.6, 56.0), (-5.0, 55.0), (-3.5, 54.6), (-3.1, 53.9), (-3.0, 53.4),
    (-4.6, 53.3), (-4.2, 52.3), (-5.2, 51.8), (-3.0, 51.5), (-4.0, 51.1),
]
IRELAND = [
    (-10.2, 51.6), (-8.0, 51.7), (-6.2, 52.2), (-6.0, 53.9), (-5.5, 54.6), (-6.2, 55.2),
    (-7.3, 55.4), (-8.5, 55.0), (-8.6, 54.3), (-10.1, 54.2), (-9.9, 53.3), (-9.5, 52.6),
]
AFRICA = [
    (-9.9, 30.0), (-9.6, 31.5), (-8.5, 33.3), (-6.8, 34.1), (-5.9, 35.8), (-5.3, 35.9),
    (-2.0, 35.1), (1.0, 36.5), (5.0, 36.8), (9.7, 37.3), (11.0, 37.0), (11.0, 29.0), (-9.9, 29.0),
]
ICELAND = [(-22.0, 63.8), (-18.5, 63.4), (-16.0, 63.8), (-14.5, 64.4), (-13.5, 65.1), (-14.0, 66.0), (-22.0, 66.0)]
CORSICA_SARDINIA = [(8.4, 38.9), (9.6, 39.1), (9.8, 41.0), (9.5, 43.0), (9.3, 43.0), (8.6, 42.4), (8.6, 41.5), (8.2, 40.6)]
LANDS = [EUROPE, GREAT_BRITAIN, IRELAND, AFRICA, ICELAND, CORSICA_SARDINIA]

EARTH_RADIUS_KM = 6371.0


def _inside(lon: np.ndarray, lat: np.ndarray, poly: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd ray casting, vectorised over points."""
    inside = np.zeros(lon.shape, dtype=bool)
    xs, ys = np.array(poly).T
    for i in range(len(xs)):
        x1, y1, x2, y2 = xs[i - 1], ys[i - 1], xs[i], ys[i]
        crosses = (y1 > lat) != (y2 > lat)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (lon < x_at)
    return inside


def land_mask(lon2d: np.ndarray, lat2d: np.ndarray) -> np.ndarray:
    mask = np.zeros(lon2d.shape, dtype=bool)
    for poly in LANDS:
        mask |= _inside(lon2d, lat2d, poly)
    return mask


def distance_to_land_km(lon2d: np.ndarray, lat2d: np.ndarray, land: np.ndarray) -> np.ndarray:
    """Great-circle distance from every cell to the nearest land cell (brute force: grids are small)."""
    lam, phi = np.radians(lon2d.ravel()), np.radians(lat2d.ravel())
    lam_l, phi_l = lam[land.ravel()], phi[land.ravel()]
    best = np.full(lam.shape, np.inf)
    for start in range(0, lam_l.size, 256):
        dl = lam[:, None] - lam_l[None, start:start + 256]
        dp = phi[:, None] - phi_l[None, start:start + 256]
        a = np.sin(dp / 2) ** 2 + np.cos(phi[:, None]) * np.cos(phi_l[None, start:start + 256]) * np.sin(dl / 2) ** 2
        best = np.minimum(best, (2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))).min(axis=1))
    return best.reshape(lon2d.shape)


def mediterranean(lon2d: np.ndarray, lat2d: np.ndarray) -> np.ndarray:
    """Cells east of Gibraltar and south of the Gulf of Lion, excluding the Bay of Biscay."""
    return (lon2d > -5.5) & (lat2d < 44.5) & ~((lon2d < 0.0) & (lat2d > 42.0))
