"""Just enough CF-convention reading to know what a dataset looks like and how to label it."""

from __future__ import annotations

_LAT = {"latitude", "lat", "nav_lat", "y_lat"}
_LON = {"longitude", "lon", "long", "nav_lon", "x_lon"}
_TIME = {"time", "t", "date", "datetime"}
_Z = {"depth", "pres", "pressure", "altitude", "height", "level", "lev", "z", "elevation",
      "plev", "deptht", "air_pressure", "sea_water_pressure"}


def _role(coord) -> str | None:
    attrs = coord.attrs
    std = str(attrs.get("standard_name", "")).lower()
    units = str(attrs.get("units", "")).lower()
    axis = str(attrs.get("axis", "")).upper()
    name = str(coord.name).lower()
    if std == "latitude" or axis == "Y" and "degree" in units or units in ("degrees_north", "degree_north"):
        return "lat"
    if std == "longitude" or axis == "X" and "degree" in units or units in ("degrees_east", "degree_east"):
        return "lon"
    if std == "time" or axis == "T" or coord.dtype.kind == "M":
        return "time"
    if axis == "Z" or "positive" in attrs or std in _Z:
        return "z"
    for role, names in (("lat", _LAT), ("lon", _LON), ("time", _TIME), ("z", _Z)):
        if name in names:
            return role
    return None


def axes(obj) -> dict[str, str]:
    """Map role ('lat', 'lon', 'time', 'z') -> coordinate name, for a Dataset or DataArray."""
    found: dict[str, str] = {}
    for name in list(obj.dims) + [c for c in obj.coords if c not in obj.dims]:
        if name not in obj.coords:
            continue
        role = _role(obj.coords[name])
        if role and role not in found:
            found[role] = name
    return found


_FEATURE_TYPES = {"grid": "gridded", "timeseries": "station", "profile": "profile",
                  "timeseriesprofile": "profile"}


def kind(da, feature_type: str | None = None) -> str:
    """'gridded' (a lat/lon field), 'profile' (values along a vertical axis), 'station'
    (a time series) or 'other' — which quick-look fits this variable.

    A CF ``featureType`` global attribute, when the data carries one, decides first.
    """
    declared = _FEATURE_TYPES.get(str(feature_type or "").lower())
    roles = axes(da)
    if declared == "profile" and "z" not in roles:
        declared = None  # says profile but has no vertical coordinate we can plot against
    if declared:
        return declared
    dim_roles = {role for role, name in roles.items() if name in da.dims}
    if {"lat", "lon"} <= dim_roles:
        return "gridded"
    if "z" in dim_roles and ("time" not in dim_roles or da.sizes[roles["z"]] > 1):
        if "time" not in dim_roles or da.sizes[roles["time"]] <= da.sizes[roles["z"]]:
            return "profile"
    if "time" in dim_roles:
        return "station"
    return "other"


def label(obj) -> str:
    """'long name [units]' from CF attributes, falling back to the variable name."""
    attrs = obj.attrs
    name = attrs.get("long_name") or attrs.get("standard_name") or str(obj.name)
    units = attrs.get("units")
    return f"{name} [{units}]" if units not in (None, "", "1") else str(name)


def data_variables(ds) -> list[str]:
    """Variables worth plotting: numeric data variables with at least one dimension."""
    return [name for name, da in ds.data_vars.items()
            if da.ndim >= 1 and da.dtype.kind in "fiuM"]
