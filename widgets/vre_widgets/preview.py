"""Quick-look plots with hvplot, rendered to Bokeh and shown as an ipywidget.

hvplot builds the plot; ``holoviews.render`` turns it into a Bokeh figure which
``jupyter_bokeh.BokehModel`` shows inside ipywidgets layouts (a plain HoloViews
object does not display inside an ipywidgets container) and keeps synced both ways,
so Python callbacks such as a tap on the map keep working.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from . import cf
from .messages import PreviewTooLarge

MAX_PREVIEW_VALUES = 2_000_000
"""Above this many values the quick-look refuses rather than ship megabytes to the browser."""


_bokehjs_sent = False


def ensure_bokehjs() -> None:
    """Send BokehJS to the notebook page, once per kernel.

    ``jupyter_bokeh.BokehModel`` renders with the page's global ``window.Bokeh`` and does
    not load it itself. ``bokeh.io.output_notebook`` would, but once panel is imported (by
    hvplot) its bundle also lists a page-relative URL that 404s inside JupyterLab and stops
    the whole loader; so send the raw inline BokehJS (no CDN needed offline) directly.
    """
    global _bokehjs_sent
    if _bokehjs_sent:
        return
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None or not hasattr(get_ipython(), "kernel"):
        return  # not in a notebook kernel: nothing to load into
    import bokeh
    from bokeh.resources import Resources

    raw = Resources(mode="inline", components=["bokeh", "bokeh-gl", "bokeh-widgets"]).js_raw
    code = ("(function(){ if (window.Bokeh && window.Bokeh.version === %r) return;\n%s\n})();"
            % (bokeh.__version__, "\n".join(raw))) + _KEYBOARD_JS
    # The bokehjs_load mimetype is run by the jupyter_bokeh lab extension, like output_notebook.
    display({"application/vnd.bokehjs_load.v0+json": code}, raw=True)
    _bokehjs_sent = True


# JupyterLab binds ArrowUp/ArrowDown (and more) in command mode to cell navigation for any
# focused element that is not a text field, so a focused result list, slider or map would
# never see its arrow keys. Lumino skips elements marked data-lm-suppress-shortcuts: mark
# the keyboard-driven parts of our widgets (only those, so Shift+Enter/Esc still work).
_KEYBOARD_JS = """
(function(){
  if (window.__vreKeyboardFix) return; window.__vreKeyboardFix = true;
  const parts = ['select', '.noUi-handle', '.leaflet-container', '.widget-date input'];
  const selector = ['.vre-dataset-browser', '.vre-dataset-explorer'].map(
      root => parts.map(p => root + ' ' + p + ':not([data-lm-suppress-shortcuts])').join(',')).join(',');
  let queued = false;
  const mark = () => { queued = false;
      document.querySelectorAll(selector).forEach(el => el.setAttribute('data-lm-suppress-shortcuts', 'true')); };
  new MutationObserver(() => { if (!queued) { queued = true; requestAnimationFrame(mark); } })
      .observe(document.body, {childList: true, subtree: true});
  mark();
})();
"""


class NeedsBokehJS:
    """Mixin for widgets that contain Bokeh plots: load BokehJS before the first display."""

    def _repr_mimebundle_(self, **kwargs):
        ensure_bokehjs()
        return super()._repr_mimebundle_(**kwargs)


_warming = None


def warm_up() -> None:
    """Import the plotting stack in the background (once): the first preview is then quick."""
    global _warming
    if _warming is not None:
        return
    _warming = threading.Thread(target=_import_plotting, daemon=True, name="vre-hvplot-import")
    _warming.start()


def _import_plotting():
    import holoviews as hv
    from hvplot import hvPlot

    return hv, hvPlot


@dataclass
class Quicklook:
    kind: str                    # gridded / station / profile / other
    variable: str
    figure: object               # bokeh figure
    selection: dict = field(default_factory=dict)  # what was fixed to get a 2-D or 1-D view
    xlabel: str = ""
    ylabel: str = ""
    coastlines: int = 0          # Natural Earth rings drawn over a map view (0: none in its extent)

    def widget(self):
        from jupyter_bokeh import BokehModel

        return BokehModel(self.figure)


def pick_variable(ds, variable: str | None = None) -> str:
    names = cf.data_variables(ds)
    if variable:
        if variable not in ds.data_vars:
            raise KeyError(f"no variable {variable!r} in this dataset; choose one of {names}")
        return variable
    if not names:
        raise ValueError("this dataset has no numeric variable to plot")
    return names[0]


def reduce_for(da, keep: list[str], isel: dict | None = None):
    """Fix every dimension not in ``keep`` at index ``isel[dim]`` (default 0)."""
    isel = isel or {}
    fixed = {}
    for dim in list(da.dims):
        if dim in keep:
            continue
        index = min(int(isel.get(dim, 0)), da.sizes[dim] - 1)
        da = da.isel({dim: index})
        fixed[dim] = _plain(da.coords[dim].values) if dim in da.coords else index
    return da, fixed


def _plain(value):
    text = str(value)
    return text[:19] if "T" in text else text  # numpy datetime64 -> 'YYYY-MM-DDTHH:MM:SS'


def at_point(da, point, roles):
    """The column of ``da`` nearest to ``point`` = (lon, lat), and where that really is."""
    lon, lat = point
    column = da.sel({roles["lon"]: lon, roles["lat"]: lat}, method="nearest")
    return column, (float(column.coords[roles["lon"]]), float(column.coords[roles["lat"]]))


def quicklook(ds, variable: str | None = None, *, feature_type: str | None = None,
              kind: str | None = None, isel: dict | None = None, point=None,
              labels: dict | None = None,
              max_values: int = MAX_PREVIEW_VALUES, width: int = 520, height: int = 300) -> Quicklook:
    """Plot ``variable`` of ``ds`` the way its shape suggests: map, time series or profile.

    ``kind`` forces the view; ``isel`` picks the index of the dimensions the view does not
    show; ``point`` = (lon, lat) takes a time series or profile out of a gridded variable.
    A pandas table gets a points map, a time series or a profile; ``labels`` maps its
    column names to axis labels (tables carry no CF attributes: the catalogue does).
    """
    hv, hvPlot = _import_plotting()
    if _is_table(ds):
        return _table_quicklook(ds, variable, labels or {}, max_values, width, height)
    if not hasattr(ds, "data_vars"):
        raise ValueError(f"no quick-look for {type(ds).__name__} data; open it and look at it "
                         "in the notebook")
    name = pick_variable(ds, variable)
    da = ds[name]
    kind = kind or cf.kind(da, feature_type or ds.attrs.get("featureType"))
    roles = cf.axes(da)
    fixed_point = {}
    if point is not None and kind != "gridded" and {"lat", "lon"} <= set(roles):
        da, where = at_point(da, point, roles)
        fixed_point = {"lon": f"{where[0]:.3g}", "lat": f"{where[1]:.3g}"}
    needed = {"gridded": ("lat", "lon"), "profile": ("z",), "station": ("time",)}.get(kind, ())
    if any(role not in roles or roles[role] not in da.dims for role in needed):
        raise ValueError(f"{name} has no {'/'.join(needed)} dimension for a {kind} view")
    keep = [roles[role] for role in needed] or [da.dims[-1]]
    view, fixed = reduce_for(da, keep, isel)
    fixed = {**fixed_point, **fixed}
    if view.size > max_values:
        raise PreviewTooLarge(
            f"{name} has {view.size:,} values to draw, over the {max_values:,} limit; open the "
            "dataset and plot a subset (e.g. ds[...].isel(...)[::10])")
    view = view.load()
    title = name + ("  (" + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ")" if fixed else "")
    value_label = cf.label(da)
    # No hover tool: inside ipywidgets its tooltip is placed at the page corner, not the cursor.
    opts = dict(width=width, height=height, title=title, hover=False)
    if kind == "gridded":
        lon, lat = roles["lon"], roles["lat"]
        xlabel, ylabel = cf.label(da.coords[lon]), cf.label(da.coords[lat])
        plot = hvPlot(view).quadmesh(x=lon, y=lat, clabel=value_label, xlabel=xlabel,
                                     ylabel=ylabel, cmap="viridis", **opts)
        plot, coast = _with_coastlines(plot, lon, lat, view[lon].values, view[lat].values)
    elif kind == "profile":
        z = roles["z"]
        xlabel, ylabel = value_label, cf.label(da.coords[z])
        plot = hvPlot(view).line(x=name, y=z, xlabel=xlabel, ylabel=ylabel,
                                 flip_yaxis=_positive_down(da.coords[z]), **opts)
    else:
        x = keep[0]
        xlabel, ylabel = (cf.label(da.coords[x]) if x in da.coords else x), value_label
        plot = hvPlot(view).line(x=x, y=name, xlabel=xlabel, ylabel=ylabel, **opts)
    figure = hv.render(plot, backend="bokeh")
    # holoviews picks WebGL; browsers without a GPU (headless, some VMs) then draw no lines.
    figure.output_backend = "canvas"
    return Quicklook(kind, name, figure, fixed, xlabel, ylabel, coast if kind == "gridded" else 0)


def _with_coastlines(plot, x, y, xs, ys):
    """Overlay the Natural Earth outlines (``basemap``) that cross the data's extent, keeping that extent."""
    import numpy as np

    from .basemap import country_paths

    hv, _ = _import_plotting()
    x0, x1, y0, y1 = (float(f(v)) for v in (xs, ys) for f in (np.nanmin, np.nanmax))
    px, py = max(0.5, 0.03 * (x1 - x0)), max(0.5, 0.03 * (y1 - y0))
    rings = [r for r in country_paths() if r[:, 0].max() >= x0 - px and r[:, 0].min() <= x1 + px
             and r[:, 1].max() >= y0 - py and r[:, 1].min() <= y1 + py]
    if not rings:
        return plot, 0
    coast = hv.Path(rings, kdims=[x, y]).opts(color="#222", line_width=0.8)
    return (plot * coast).opts(xlim=(x0 - px, x1 + px), ylim=(y0 - py, y1 + py)), len(rings)


def _positive_down(coord) -> bool:
    positive = str(coord.attrs.get("positive", "")).lower()
    if positive:
        return positive == "down"
    return str(coord.attrs.get("standard_name", coord.name)).lower() in {
        "depth", "pres", "pressure", "sea_water_pressure"}


# ---------------------------------------------------------------------------- tables
def _is_table(data) -> bool:
    return hasattr(data, "columns") and hasattr(data, "iloc")


def _table_quicklook(df, variable, labels, max_values, width, height) -> Quicklook:
    hv, hvPlot = _import_plotting()
    roles = cf.table_axes(df)
    kind = cf.table_kind(df)
    axes_columns = {roles.get(r) for r in ("lon", "lat", "time", "z")}
    numeric = [c for c in df.columns if df[c].dtype.kind in "fiu" and c not in axes_columns]
    if variable is not None and variable not in df.columns:
        raise KeyError(f"no column {variable!r} in this table; choose one of {list(df.columns)}")
    # The catalogue's variable order first (labels keeps it), then any other numeric column.
    preferred = [c for c in labels if c in numeric] + numeric
    name = variable if variable is not None and variable not in axes_columns else (
        preferred[0] if preferred else None)

    def label(column):
        return labels.get(column) or str(column)

    fixed = {}
    opts = dict(width=width, height=height, hover=False)
    if kind == "profile" and name is not None:
        z = roles["z"]
        view = df
        if "time" in roles:  # one profile: the rows of the first cast
            first = df[roles["time"]].iloc[0]
            view = df[df[roles["time"]] == first]
            fixed["time"] = str(first)[:19]
        view = view.sort_values(z)
        xlabel, ylabel = label(name), label(z)
        _check_size(name, view[[name, z]].size, max_values)
        plot = hvPlot(view).line(x=name, y=z, xlabel=xlabel, ylabel=ylabel, flip_yaxis=True,
                                 title=_title(name, fixed), **opts)
    elif kind in ("points", "profile"):
        lon, lat = roles["lon"], roles["lat"]
        xlabel, ylabel = label(lon), label(lat)
        _check_size(name or lon, len(df) * 3, max_values)
        color = dict(c=name, clabel=label(name), cmap="viridis") if name else {}
        kind = "points"
        plot = hvPlot(df).points(x=lon, y=lat, xlabel=xlabel, ylabel=ylabel, size=12,
                                 title=name or "locations", **color, **opts)
        plot, coast = _with_coastlines(plot, lon, lat, df[lon].to_numpy(float), df[lat].to_numpy(float))
    elif kind == "station" and name is not None:
        t = roles["time"]
        xlabel, ylabel = label(t), label(name)
        _check_size(name, 2 * len(df), max_values)
        plot = hvPlot(df).line(x=t, y=name, xlabel=xlabel, ylabel=ylabel, title=name, **opts)
    else:
        raise ValueError("no quick-look for this table (no time, lon/lat or vertical column with "
                         "numbers); open it and look at it in the notebook")
    figure = hv.render(plot, backend="bokeh")
    figure.output_backend = "canvas"
    return Quicklook(kind, name or "", figure, fixed, xlabel, ylabel, coast if kind == "points" else 0)


def _check_size(name, size, max_values):
    if size > max_values:
        raise PreviewTooLarge(
            f"{name} has {size:,} values to draw, over the {max_values:,} limit; open the "
            "dataset and plot a subset")


def _title(name, fixed):
    return name + ("  (" + ", ".join(f"{k}={v}" for k, v in fixed.items()) + ")" if fixed else "")
