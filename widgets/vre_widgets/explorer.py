"""DatasetExplorer: look inside an opened xarray dataset.

A variable selector and one slider per extra dimension (time, depth, …) drive a map;
clicking the map (or typing lon/lat) picks the point whose time series — or profile,
when there is no time axis — is drawn beside it. Axes carry CF long names and units.
"""

from __future__ import annotations

import ipywidgets as w
import traitlets

from . import cf
from . import preview as _preview
from .messages import StatusLine, reported


class DatasetExplorer(_preview.NeedsBokehJS, w.VBox):
    """Explore ``ds`` (an ``xarray.Dataset``); ``.variable``, ``.isel`` and ``.point`` are its state."""

    variable = traitlets.Unicode(help="the variable shown")
    isel = traitlets.Dict(help="index along each dimension the map does not show, e.g. {'time': 3}")
    point = traitlets.Tuple(default_value=None, allow_none=True,
                            help="(lon, lat) of the time series, nearest grid point is used")

    def __init__(self, ds, variable: str | None = None, *,
                 max_values: int = _preview.MAX_PREVIEW_VALUES, **kwargs):
        super().__init__(**kwargs)
        self.add_class("vre-dataset-explorer")
        if hasattr(ds, "to_dataset") and not hasattr(ds, "data_vars"):
            ds = ds.to_dataset(name=ds.name or "value")  # a DataArray: explore it alone
        self.ds = ds
        self.max_values = max_values
        self.map_view = None      # preview.Quicklook of the map
        self.series_view = None   # preview.Quicklook of the time series / profile
        self.status = StatusLine()
        names = cf.data_variables(ds) if hasattr(ds, "data_vars") else []
        self.variable_choice = w.Dropdown(options=names, description="Variable",
                                          style={"description_width": "64px"})
        self.sliders_box = w.VBox()
        self.sliders: dict[str, w.SelectionSlider] = {}
        self.lon_box = w.FloatText(description="lon", continuous_update=False,
                                   layout=w.Layout(width="150px"), style={"description_width": "32px"})
        self.lat_box = w.FloatText(description="lat", continuous_update=False,
                                   layout=w.Layout(width="150px"), style={"description_width": "32px"})
        self.point_button = w.Button(description="Time series here", icon="crosshairs",
                                     tooltip="Draw the series at this lon/lat (or click the map)")
        self.point_button.on_click(lambda _: self._point_from_boxes())
        self.map_area = w.Box()
        self.series_area = w.Box()
        self.series_status = StatusLine()
        controls = w.HBox([self.variable_choice, self.sliders_box],
                          layout=w.Layout(flex_flow="row wrap"))
        point_row = w.HBox([w.HTML("<small>Click the map, or type a point:</small>"),
                            self.lon_box, self.lat_box, self.point_button],
                           layout=w.Layout(flex_flow="row wrap", align_items="center"))
        self.children = [controls, self.status, w.HBox([self.map_area, self.series_area]),
                         point_row, self.series_status]
        self.variable_choice.observe(lambda c: setattr(self, "variable", c["new"] or ""), "value")
        if not hasattr(ds, "data_vars"):
            self.status.show(f"DatasetExplorer needs an xarray Dataset, not a {type(ds).__name__}; "
                             "for a table, plot it with df.hvplot(...) or preview it in "
                             "DatasetBrowser.", "error")
            return
        if not names:
            self.status.show("This dataset has no numeric variable to explore.", "warning")
            return
        self.variable = variable if variable in names else names[0]

    # ------------------------------------------------------------------ state changes
    @traitlets.observe("variable")
    def _variable_changed(self, change):
        self.variable_choice.value = change["new"]
        da = self.ds[change["new"]]
        roles = cf.axes(da)
        map_dims = {roles.get("lat"), roles.get("lon")}
        self.sliders = {}
        for dim in da.dims:
            if dim in map_dims:
                continue
            labels = [_preview._plain(v) for v in da.coords[dim].values] if dim in da.coords \
                else [str(i) for i in range(da.sizes[dim])]
            slider = w.SelectionSlider(options=list(zip(labels, range(len(labels)))),
                                       description=cf.label(da.coords[dim]) if dim in da.coords else dim,
                                       continuous_update=False, style={"description_width": "initial"},
                                       layout=w.Layout(width="420px"))
            slider.observe(self._slider_moved(dim), "value")
            self.sliders[dim] = slider
        self.sliders_box.children = tuple(self.sliders.values())
        isel = {dim: 0 for dim in self.sliders}
        if isel == self.isel:
            self._draw()
        else:
            self.isel = isel
        if self.point is None and {"lat", "lon"} <= set(roles):
            lon, lat = da.coords[roles["lon"]], da.coords[roles["lat"]]
            self.point = (float(lon[lon.size // 2]), float(lat[lat.size // 2]))
        else:
            self._draw_series()

    def _slider_moved(self, dim):
        def moved(change):
            if self.isel.get(dim) != change["new"]:
                self.isel = {**self.isel, dim: change["new"]}

        return moved

    @traitlets.observe("isel")
    def _isel_changed(self, change):
        for dim, index in change["new"].items():
            if dim in self.sliders and self.sliders[dim].index != index:
                self.sliders[dim].index = index
        self._draw()

    @traitlets.observe("point")
    def _point_changed(self, change):
        if change["new"] is not None:
            self.lon_box.value, self.lat_box.value = (round(v, 4) for v in change["new"])
        self._draw_series()

    def _point_from_boxes(self):
        self.point = (self.lon_box.value, self.lat_box.value)

    # ------------------------------------------------------------------ drawing
    @reported()
    def _draw(self):
        self.status.clear()
        da = self.ds[self.variable]
        if cf.kind(da) != "gridded":
            self.map_view = None
            self.map_area.children = ()
            self.status.show(f"{self.variable} has no latitude/longitude grid: no map, "
                             "only its series below.", "info")
        else:
            self.map_view = _preview.quicklook(self.ds, self.variable, kind="gridded",
                                               isel=self.isel, max_values=self.max_values,
                                               width=480, height=320)
            self._listen_for_taps(self.map_view.figure)
            self.map_area.children = (self.map_view.widget(),)
        self._draw_series()

    def _listen_for_taps(self, figure):
        from bokeh.events import Tap

        def tapped(event):
            self.point = (float(event.x), float(event.y))

        figure.on_event(Tap, tapped)

    @reported("series_status")
    def _draw_series(self):
        self.series_status.clear()
        da = self.ds[self.variable]
        roles = cf.axes(da)
        series_kind = "station" if "time" in roles and roles["time"] in da.dims else (
            "profile" if "z" in roles and roles["z"] in da.dims else None)
        if series_kind is None:
            self.series_view = None
            self.series_area.children = ()
            return
        has_grid = {"lat", "lon"} <= set(roles)
        if has_grid and self.point is None:
            return
        keep_out = {roles["time"] if series_kind == "station" else roles["z"]}
        isel = {d: i for d, i in self.isel.items() if d not in keep_out}
        self.series_view = _preview.quicklook(self.ds, self.variable, kind=series_kind, isel=isel,
                                              point=self.point if has_grid else None,
                                              max_values=self.max_values, width=420, height=320)
        self._mark_map_step(self.series_view.figure, da, series_kind, roles)
        self.series_area.children = (self.series_view.widget(),)

    def _mark_map_step(self, figure, da, series_kind, roles):
        """A line on the series at the time (or depth) the map shows: the two stay linked."""
        from bokeh.models import Span

        dim = roles["time"] if series_kind == "station" else roles["z"]
        if dim not in self.isel or dim not in da.coords:
            return
        value = da.coords[dim].values[min(self.isel[dim], da.sizes[dim] - 1)]
        if hasattr(value, "astype") and value.dtype.kind == "M":
            value = value.astype("datetime64[ms]").astype("int64")  # bokeh datetime axes: ms
        figure.add_layout(Span(location=float(value), line_color="#d62728", line_dash="dashed",
                               dimension="height" if series_kind == "station" else "width"))
