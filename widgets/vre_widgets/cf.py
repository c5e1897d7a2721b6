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
    # Projected grids (e.g. a UTM image): x/y in metres are the map axes.
    if std == "projection_x_coordinate" or name == "x" and units in ("m", "km"):
        return "lon"
    if std == "projection_y_coordinate" or name == "y" and units in ("m", "km"):
        return "lat"
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


# ---------------------------------------------------------------------------- tables
_TABLE_NAMES = {"lon": _LON, "lat": _LAT, "time": _TIME,
                "z": {"pres", "pressure", "depth", "altitude", "height", "level"}}


def table_axes(df) -> dict[str, str]:
    """Role -> column name for a pandas DataFrame (tables carry no CF attributes)."""
    found = {}
    for column in df.columns:
        name = str(column).lower()
        for role, names in _TABLE_NAMES.items():
            if role not in found and name in names:
                if role == "time" and df[column].dtype.kind != "M":
                    continue
                found[role] = column
    return found


def table_kind(df) -> str:
    """'profile' (values on repeated vertical levels), 'points' (a lon/lat table),
    'station' (a time series) or 'other'."""
    roles = table_axes(df)
    if "z" in roles and len(df) > 1:
        # Casts: many rows share one time (or, without time, a few repeated levels).
        repeated = roles.get("time", roles["z"])
        if df[repeated].nunique() <= max(len(df) // 4, 1):
            return "profile"
    if "lon" in roles and "lat" in roles:
        return "points"
    if "time" in roles:
        return "station"
    return "other"
