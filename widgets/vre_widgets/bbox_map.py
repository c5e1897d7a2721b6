"""A bounding-box picker: an ipyleaflet map you draw or drag a rectangle on, plus W/S/E/N boxes.

Works with no tile server: by default the map carries no remote tiles at all, only
vector layers built here (Natural Earth coastlines and borders from an installed package,
a 30° graticule and the footprints of the current results), so nothing is fetched from
outside the JupyterLab origin. Set ``tiles_url`` (or the ``VRE_BASEMAP_URL`` environment
variable) to a reachable XYZ server to add a basemap.
"""

from __future__ import annotations

import os

import ipyleaflet as L
import ipywidgets as w
import traitlets

from .basemap import COUNTRY_STYLE, countries
from .messages import StatusLine, reported

_BBOX_STYLE = {"color": "#d62728", "weight": 2, "fill_color": "#d62728", "fill_opacity": 0.08}
_FOOTPRINT_STYLE = {"color": "#1f77b4", "weight": 1, "fill_opacity": 0.05}


def graticule(step: int = 30) -> dict:
    """GeoJSON lines every ``step`` degrees: enough context to place a box offline."""
    features = []
    for lon in range(-180, 181, step):
        features.append(_line([(lon, -85), (lon, 85)], f"{lon}°"))
    for lat in range(-60, 61, step):
        features.append(_line([(-180, lat), (180, lat)], f"{lat}°"))
    return {"type": "FeatureCollection", "features": features}


def _line(coords, label):
    return {"type": "Feature", "properties": {"label": label},
            "geometry": {"type": "LineString", "coordinates": coords}}


def bbox_polygon(bbox) -> list[tuple[float, float]]:
    """(west, south, east, north) -> leaflet (lat, lon) ring."""
    west, south, east, north = bbox
    return [(south, west), (north, west), (north, east), (south, east)]


def bbox_from_latlngs(latlngs) -> tuple[float, float, float, float]:
    """Leaflet ring(s) of {lat, lng} dicts or (lat, lon) pairs -> (west, south, east, north)."""
    points = list(_flatten(latlngs))
    lats = [p[0] for p in points]
    lons = [p[1] for p in points]
    return _clamp((min(lons), min(lats), max(lons), max(lats)))


def bbox_from_geojson(geo_json: dict) -> tuple[float, float, float, float]:
    coords = geo_json["geometry"]["coordinates"]
    return bbox_from_latlngs([(lat, lon) for lon, lat in _flatten(coords)])  # GeoJSON is lon, lat


def _flatten(obj):
    """The coordinate pairs of nested rings, as given (dicts are leaflet {lat, lng})."""
    if isinstance(obj, dict):
        yield (obj["lat"], obj["lng"])
    elif obj and isinstance(obj[0], (int, float)):
        yield (obj[0], obj[1])
    else:
        for item in obj:
            yield from _flatten(item)


def _clamp(bbox):
    west, south, east, north = (round(float(v), 4) for v in bbox)
    return (max(west, -180.0), max(south, -90.0), min(east, 180.0), min(north, 90.0))


class BBoxMap(w.VBox):
    """``.bbox`` is (west, south, east, north) in degrees, or None for "anywhere"."""

    bbox = traitlets.Tuple(default_value=None, allow_none=True)

    def __init__(self, tiles_url: str | None = None, height: str = "280px", **kwargs):
        tiles_url = tiles_url if tiles_url is not None else os.environ.get("VRE_BASEMAP_URL", "")
        layers = (L.TileLayer(url=tiles_url, base=True, name="basemap"),) if tiles_url else ()
        self.map = L.Map(layers=layers, center=(20, 0), zoom=1, min_zoom=1,
                         scroll_wheel_zoom=True, world_copy_jump=False,
                         attribution_control=bool(tiles_url),
                         layout=w.Layout(height=height, width="100%"))
        outlines = countries()
        self.coastlines = L.GeoJSON(data=outlines, name="coastlines", style=COUNTRY_STYLE) if outlines else None
        if self.coastlines is not None:
            self.map.add(self.coastlines)
        self.map.add(L.GeoJSON(data=graticule(), name="graticule",
                               style={"color": "#999", "weight": 0.5, "opacity": 0.7}))
        self.footprints = L.Polygon(locations=[], name="results", **_FOOTPRINT_STYLE)
        self.map.add(self.footprints)
        self._box = None
        self._footprint_boxes = ()

        self.draw = L.DrawControl(
            rectangle={"shapeOptions": {"color": _BBOX_STYLE["color"]}},
            polygon={}, polyline={}, circlemarker={}, circle={}, marker={},
            edit=False, remove=False,
        )
        self.draw.on_draw(self._on_draw)
        self.map.add(self.draw)

        # Keyboard path to the same state: four number boxes and a clear button.
        self._fields = {
            name: w.BoundedFloatText(value=default, min=lo, max=hi, step=1, description=name,
                                     continuous_update=False,
                                     layout=w.Layout(width="130px"),
                                     style={"description_width": "40px"})
            for name, default, lo, hi in (("west", -180.0, -180, 180), ("south", -90.0, -90, 90),
                                          ("east", 180.0, -180, 180), ("north", 90.0, -90, 90))
        }
        self.clear_button = w.Button(description="Anywhere", icon="globe",
                                     tooltip="Remove the bounding box filter",
                                     layout=w.Layout(width="110px"))
        self.clear_button.on_click(lambda _: setattr(self, "bbox", None))
        self.apply_button = w.Button(description="Use box", icon="check",
                                     tooltip="Filter by the W/S/E/N values",
                                     layout=w.Layout(width="100px"))
        self.apply_button.on_click(lambda _: self._apply_fields())
        hint = w.HTML('<small>Draw a rectangle (▭ tool) or drag/resize the red box, '
                      'or type W/S/E/N and press "Use box".</small>')
        fields = w.HBox([*self._fields.values(), self.apply_button, self.clear_button],
                        layout=w.Layout(flex_flow="row wrap"))
        self.status = StatusLine()
        super().__init__([self.map, fields, hint, self.status], **kwargs)

    # --- state -> map -------------------------------------------------------------------
    @traitlets.validate("bbox")
    def _valid_bbox(self, proposal):
        bbox = proposal["value"]
        if bbox is None:
            return None
        if len(bbox) != 4:
            raise traitlets.TraitError("bbox must be (west, south, east, north)")
        west, south, east, north = (float(v) for v in bbox)
        if south > north:
            raise traitlets.TraitError(f"bbox south {south} is above north {north}; swap them")
        return (west, south, east, north)

    @traitlets.observe("bbox")
    def _show_bbox(self, change):
        bbox = change["new"]
        if self._box is not None:
            self.map.remove(self._box)
            self._box = None
        if bbox is None:
            for field, value in zip(self._fields.values(), (-180, -90, 180, 90)):
                field.value = value
            return
        for field, value in zip(self._fields.values(), bbox):
            field.value = value
        self._box = L.Polygon(locations=bbox_polygon(bbox), transform=True, draggable=True,
                              rotation=False, name="bbox", **_BBOX_STYLE)
        self._box.observe(self._on_box_edited, "locations")
        self.map.add(self._box)

    def show_footprints(self, entries, limit: int = 100) -> None:
        """Outline where the (first ``limit``) results lie, as one multi-polygon layer.

        One Polygon layer rather than GeoJSON features: ipyleaflet deep-copies and restyles
        GeoJSON on every update, which dominated a filter change at 10,000 entries.
        """
        boxes = tuple(tuple(e.bbox) for e in entries[:limit] if e.bbox)
        if boxes == self._footprint_boxes:
            return
        self._footprint_boxes = boxes
        # [[ring], [ring], ...]: leaflet reads three levels of nesting as a multi-polygon.
        self.footprints.locations = [[bbox_polygon(b)] for b in boxes]

    # --- map/keyboard -> state ----------------------------------------------------------
    def _on_draw(self, _control, action, geo_json):
        if action == "created" and geo_json.get("geometry"):
            self.bbox = bbox_from_geojson(geo_json)
            self.draw.clear()  # the drawn shape is replaced by the editable red box

    def _on_box_edited(self, change):
        bbox = bbox_from_latlngs(change["new"])
        if bbox != self.bbox:
            self.bbox = bbox

    @reported()
    def _apply_fields(self):
        self.status.clear()
        self.bbox = tuple(f.value for f in self._fields.values())

