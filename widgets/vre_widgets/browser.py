"""DatasetBrowser: find, preview and open a dataset from any pole with the mouse or keyboard.

State lives in traitlets (``query``, ``facets``, ``bbox``, ``time_range``, ``selected``)
so a notebook or a test drives the widget exactly as a participant does; every change
re-runs one search on the catalogue index (``vre_catalog.CatalogIndex``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import keyword
import time

import ipywidgets as w
import traitlets

from . import preview as _preview
from ._catalog import FACETS, entry_variables, load_index
from .bbox_map import BBoxMap
from .card import card_html, full_metadata_html
from .messages import StatusLine, describe_error, reported

_FACET_LABELS = {"pole": "Pole", "sample": "Data", "variable": "Variable", "platform": "Platform",
                 "provider": "Provider"}
# What the offline source of an entry holds (sample.kind): observations, invented numbers, or a staged copy.
_BADGE_COLOURS = {"real": "#2ca02c", "synthetic": "#ff7f0e", "staged": "#1f77b4"}


def badge_html(entry) -> str:
    """The real / synthetic / staged badge of an entry ("" for a harvested record without a sample)."""
    kind = getattr(entry, "sample_kind", None)
    if kind is None:
        return ""
    source = ((entry.metadata.get("sample") or {}).get("source") or {}).get("package")
    tip = f"offline data: {kind}" + (f", read from the {source} package" if source else "")
    return (f'<span class="vre-sample-badge vre-sample-{_esc(kind)}" title="{_esc(tip)}" style="background:'
            f'{_BADGE_COLOURS.get(kind, "#777")};color:white;border-radius:8px;padding:1px 8px;font-size:90%">'
            f'{_esc(kind)}</span>')


def _user_namespace():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell.user_ns if shell is not None else None


class DatasetBrowser(_preview.NeedsBokehJS, w.VBox):
    """Search box, facet filters with counts, bbox map, time range, results, card, preview, Open.

    Parameters
    ----------
    index : CatalogIndex, optional
        The catalogue to browse; by default ``CatalogIndex.from_catalog()``.
    namespace : dict, optional
        Where Open puts the dataset; by default the IPython user namespace.
    max_listed : int
        How many results the list shows (the count above it is always the full number).
    max_facet_values : int
        How many values each facet list shows, most frequent first (plus the selected ones).
    preview_source : str
        Which source the quick-look reads: "sample" (embedded, fast, offline) by default.
    max_preview_values : int
        Above this many values to draw, the quick-look says "preview too large" instead.
    tiles_url : str, optional
        An XYZ tile URL for the map basemap; none by default so the map works offline.
    """

    query = traitlets.Unicode("", help="free-text search")
    facets = traitlets.Dict(help="facet filters, e.g. {'pole': ['odatis']}")
    bbox = traitlets.Tuple(default_value=None, allow_none=True,
                           help="(west, south, east, north) in degrees, or None")
    time_range = traitlets.Tuple(default_value=None, allow_none=True,
                                 help="(start, end) ISO dates, either may be None")
    selected = traitlets.Unicode(default_value=None, allow_none=True,
                                 help="id of the selected catalogue entry")

    def __init__(self, index=None, *, catalog_path=None, namespace=None, max_listed: int = 200,
                 max_facet_values: int = 50,
                 preview_source: str = "sample", tiles_url: str | None = None,
                 auto_preview: bool = True,
                 max_preview_values: int = _preview.MAX_PREVIEW_VALUES, **kwargs):
        super().__init__(**kwargs)
        self.add_class("vre-dataset-browser")
        self.index = None
        self.status = StatusLine()
        self.preview_status = StatusLine()
        self.open_status = StatusLine()
        self.namespace = namespace if namespace is not None else _user_namespace()
        if self.namespace is None:
            self.namespace = {}  # outside IPython: tests and scripts read browser.namespace
        self.max_listed = max_listed
        self.max_facet_values = max_facet_values
        self.preview_source = preview_source
        self.auto_preview = auto_preview
        self.max_preview_values = max_preview_values
        self.result = None            # last SearchResult
        self._facet_counts = {}
        self.quicklook = None         # last preview.Quicklook
        self.dataset = None           # last opened dataset
        self.code = ""                # one-line code of the last Open
        self.last_search_ms = 0.0
        self._syncing = False
        self._build_ui(tiles_url)
        self.children = self._layout()
        try:
            self.index = load_index(index, catalog_path)
        except Exception as exc:  # noqa: BLE001 - the widget still shows, with the reason
            self.status.show(describe_error(exc), "error")
            return
        _preview.warm_up()
        self.refresh()

    # ------------------------------------------------------------------ building the UI
    def _build_ui(self, tiles_url):
        self.search_box = w.Text(placeholder="Search datasets (e.g. temperature, argo, aerosol)…",
                                 continuous_update=False, layout=w.Layout(flex="1 1 auto"))
        self.search_button = w.Button(description="Search", icon="search",
                                      tooltip="Search (or press Enter in the box)")
        self.reset_button = w.Button(description="Reset", icon="undo",
                                     tooltip="Clear text, facets, box and dates")
        self.count_label = w.HTML()
        self.facet_widgets = {
            name: w.SelectMultiple(options=[], rows=4, description=_FACET_LABELS[name],
                                   layout=w.Layout(width="98%"),
                                   style={"description_width": "64px"})
            for name in FACETS
        }
        self.start_picker = w.DatePicker(description="From", style={"description_width": "40px"},
                                         layout=w.Layout(width="190px"))
        self.end_picker = w.DatePicker(description="To", style={"description_width": "40px"},
                                       layout=w.Layout(width="190px"))
        self.any_time_button = w.Button(description="Any time", icon="clock",
                                        layout=w.Layout(width="100px"))
        self.map = BBoxMap(tiles_url=tiles_url, layout=w.Layout(width="100%"))
        self.results_list = w.Select(options=[], rows=12, layout=w.Layout(width="98%"))
        self.badge = w.HTML()  # real / synthetic / staged, for the selected entry
        self.card = w.HTML("<i>Select a dataset to see its description.</i>")  # the overview
        self.card_full = w.HTML()  # every metadata field, escaped
        self.card_tabs = w.Tab(children=[self.card, self.card_full])
        self.card_tabs.titles = ("Overview", "Full metadata")
        self.preview_variable = w.Dropdown(description="Preview", options=[],
                                           style={"description_width": "56px"})
        self.preview_area = w.Box(layout=w.Layout(min_height="40px"))
        self.var_name = w.Text(value="ds", description="Variable", continuous_update=False,
                               style={"description_width": "56px"}, layout=w.Layout(width="180px"))
        self.source_choice = w.ToggleButtons(options=["remote", "sample"], value="sample",
                                             tooltips=["the data service (network)",
                                                       "embedded sample (offline)"],
                                             style={"button_width": "70px"})
        self.open_button = w.Button(description="Open", icon="folder-open", button_style="primary",
                                    tooltip="Open the dataset into the notebook variable",
                                    disabled=True)
        self.code_box = w.HTML()

        # widget -> state
        w.link((self.search_box, "value"), (self, "query"))
        w.link((self.map, "bbox"), (self, "bbox"))
        self.search_button.on_click(lambda _: self._commit_text())
        self.reset_button.on_click(lambda _: self.reset())
        for name, widget in self.facet_widgets.items():
            widget.observe(self._facet_widget_changed(name), "value")
        for picker in (self.start_picker, self.end_picker):
            picker.observe(self._dates_changed, "value")
        self.any_time_button.on_click(lambda _: setattr(self, "time_range", None))
        self.results_list.observe(self._result_clicked, "value")
        self.preview_variable.observe(self._preview_variable_changed, "value")
        self.open_button.on_click(lambda _: self.open_dataset())

    def _layout(self):
        facets = w.VBox([*self.facet_widgets.values(),
                         w.HBox([self.start_picker, self.end_picker, self.any_time_button],
                                layout=w.Layout(flex_flow="row wrap"))],
                        layout=w.Layout(width="40%"))
        top = w.HBox([self.search_box, self.search_button, self.reset_button])
        filters = w.HBox([facets, w.VBox([self.map], layout=w.Layout(width="60%"))])
        left = w.VBox([self.count_label, self.results_list, self.status],
                      layout=w.Layout(width="40%"))
        open_row = w.HBox([self.var_name, self.source_choice, self.open_button],
                          layout=w.Layout(flex_flow="row wrap", align_items="center"))
        right = w.VBox([self.badge, self.card_tabs, self.preview_variable, self.preview_status, self.preview_area,
                        open_row, self.open_status, self.code_box],
                       layout=w.Layout(width="60%", padding="0 0 0 8px"))
        return [top, filters, w.HBox([left, right])]

    @contextlib.contextmanager
    def _quiet(self):
        """Update widgets from state without their observers re-running the search."""
        before, self._syncing = self._syncing, True
        try:
            yield
        finally:
            self._syncing = before

    # ------------------------------------------------------------------ state -> search
    @property
    def search_kwargs(self) -> dict:
        """The arguments of the current ``CatalogIndex.search`` call."""
        facets = {k: list(v) for k, v in self.facets.items() if v}
        return {"text": self.query.strip() or None, "facets": facets or None,
                "bbox": self.bbox, "time": self.time_range}

    @property
    def results(self) -> list:
        return list(self.result.entries) if self.result is not None else []

    @property
    def facet_counts(self) -> dict:
        return self._facet_counts

    @property
    def selected_entry(self):
        return self.index[self.selected] if self.selected and self.index is not None else None

    @traitlets.observe("query", "facets", "bbox", "time_range")
    def _query_changed(self, change):
        if change["name"] == "facets":
            self._show_facet_selection()
        if change["name"] == "time_range":
            self._show_dates()
        if not self._syncing:
            self.refresh()

    @reported()
    def refresh(self):
        """Run the search for the current state and redraw results and facet counts."""
        if self.index is None:
            return
        started = time.perf_counter()
        kwargs = self.search_kwargs
        self.result = self.index.search(**kwargs)
        counts = {name: dict(self.result.facet_counts.get(name, {})) for name in FACETS}
        # Disjunctive counts: a facet with a selection shows what picking *another* value
        # of it would give, so one can widen ("odatis or aeris") without first clearing.
        for name in FACETS:
            if self.facets.get(name):
                others = {k: v for k, v in (kwargs["facets"] or {}).items() if k != name}
                wider = self.index.search(**{**kwargs, "facets": others or None})
                counts[name] = dict(wider.facet_counts.get(name, {}))
        self._facet_counts = counts
        self._show_facet_counts()
        self._show_results()
        self.last_search_ms = (time.perf_counter() - started) * 1e3

    def _show_results(self):
        total = self.result.total
        shown = self.result.entries[: self.max_listed]  # only these become Entry objects (100k hits are cheap)
        more = f" (first {len(shown):,} listed — refine to see others)" if total > len(shown) else ""
        self.count_label.value = f"<b>{total:,}</b> dataset{'s' if total != 1 else ''}{more}"
        options = [(f"{e.title}{f' [{e.sample_kind}]' if e.sample_kind else ''} · {e.pole}", e.id) for e in shown]
        keep = self.selected if self.selected in {e.id for e in shown} else None
        with self._quiet():
            self.results_list.options = options
            self.results_list.value = keep
        self.map.show_footprints(shown)
        if total == 0:
            self.status.show("Nothing found: no dataset matches all these filters; remove a "
                             "filter or press Reset.", "warning")
        else:
            self.status.clear()

    def _show_facet_counts(self):
        with self._quiet():
            for name, widget in self.facet_widgets.items():
                counts = self._facet_counts.get(name, {})
                chosen = list(self.facets.get(name, []))
                # The most frequent values (a harvested catalogue has thousands): the search box finds the rest.
                values = sorted(counts, key=lambda v: (-counts[v], str(v)))[: self.max_facet_values]
                values += [v for v in chosen if v not in values]
                widget.options = [(f"{v} ({counts.get(v, 0)})", v) for v in values]
                widget.value = tuple(v for v in chosen if v in values)

    def _show_facet_selection(self):
        with self._quiet():
            for name, widget in self.facet_widgets.items():
                wanted = tuple(v for v in self.facets.get(name, []) if v in _option_values(widget))
                if tuple(widget.value) != wanted:
                    widget.value = wanted

    def _show_dates(self):
        start, end = self.time_range or (None, None)
        with self._quiet():
            self.start_picker.value = _to_date(start)
            self.end_picker.value = _to_date(end)

    # ------------------------------------------------------------------ widgets -> state
    def _commit_text(self):
        if self.query != self.search_box.value:
            self.query = self.search_box.value  # the observer searches
        else:
            self.refresh()

    def _facet_widget_changed(self, name):
        def changed(change):
            if self._syncing:
                return
            facets = {k: list(v) for k, v in self.facets.items()}
            facets[name] = list(change["new"])
            self.facets = {k: v for k, v in facets.items() if v}

        return changed

    def _dates_changed(self, _change):
        if self._syncing:
            return
        start, end = self.start_picker.value, self.end_picker.value
        self.time_range = None if start is None and end is None else (
            start.isoformat() if start else None, end.isoformat() if end else None)

    def reset(self):
        """Back to the whole catalogue."""
        with self._quiet():
            self.query, self.facets, self.bbox, self.time_range = "", {}, None, None
        self.refresh()

    def _result_clicked(self, change):
        if not self._syncing and change["new"] != self.selected:
            self.selected = change["new"]

    # ------------------------------------------------------------------ selection
    @traitlets.observe("selected")
    def _selection_changed(self, change):
        self._select(change["new"])

    @reported()
    def _select(self, entry_id):
        self.preview_status.clear()
        self.open_status.clear()
        self.preview_area.children = ()
        self.quicklook = None
        if self.results_list.value != entry_id and entry_id in _option_values(self.results_list):
            self.results_list.value = entry_id
        if entry_id is None:
            self.badge.value = ""
            self.card.value = "<i>Select a dataset to see its description.</i>"
            self.card_full.value = ""
            self.open_button.disabled = True
            return
        entry = self.index[entry_id]
        self.badge.value = badge_html(entry)
        self.card.value = card_html(entry)
        self.card_full.value = full_metadata_html(entry)
        self.source_choice.options = ["remote", "sample"] if entry.has_remote else ["sample"]
        self.source_choice.value = "sample"
        self.open_button.disabled = False
        names = [v.get("name") for v in entry_variables(entry) if v.get("name")]
        with self._quiet():
            self.preview_variable.options = names
            self.preview_variable.value = names[0] if names else None
        if self.auto_preview:
            self.preview()

    def _preview_variable_changed(self, change):
        if not self._syncing and self.selected:
            self.preview(change["new"])

    # ------------------------------------------------------------------ preview and open
    @reported("preview_status")
    def preview(self, variable: str | None = None):
        """Draw the quick-look of the selected entry (map, time series or profile)."""
        entry = self.selected_entry
        if entry is None:
            raise ValueError("no dataset selected; pick one in the result list")
        self.preview_area.children = ()
        self.preview_status.show("Drawing the quick-look…")
        ds = entry.open(source=self.preview_source)
        variable = variable or self.preview_variable.value
        names = ds.columns if hasattr(ds, "columns") else getattr(ds, "data_vars", ())
        if variable is not None and variable not in names:
            variable = None  # catalogue lists a name the sample lacks: fall back to the first
        self.quicklook = _preview.quicklook(ds, variable, labels=_axis_labels(entry),
                                            max_values=self.max_preview_values,
                                            feature_type=(entry.metadata or {}).get("featureType"))
        self.preview_area.children = (self.quicklook.widget(),)
        self.preview_status.show(f"Quick-look: {self.quicklook.kind} view of "
                                 f"{self.quicklook.variable} from the {self.preview_source} data.")

    @reported("open_status")
    def open_dataset(self, var: str | None = None, source: str | None = None):
        """Open the selected dataset into ``namespace[var]`` and show the code doing the same."""
        entry = self.selected_entry
        if entry is None:
            raise ValueError("no dataset selected; pick one in the result list")
        var = (var or self.var_name.value).strip()
        if not var.isidentifier() or keyword.iskeyword(var):
            raise ValueError(f"{var!r} is not a valid Python variable name; use letters, digits "
                             "and _ (e.g. ds)")
        source = source or self.source_choice.value
        self.open_status.show(f"Opening {entry.id} ({source})…")
        dataset = entry.open(source=source)
        self.namespace[var] = dataset
        self.dataset = dataset
        self.code = _entry_code(entry, var, source)
        self.code_box.value = (
            "<div>Same in code:</div><pre class='vre-code' style='user-select:all;"
            f"background:#f4f4f4;padding:4px;margin:0'>{_esc(_with_import(self.code))}</pre>")
        self.open_status.show(f"Opened {entry.id} into variable {var!r}.")
        return dataset


def _option_values(widget) -> set:
    return {option[1] if isinstance(option, tuple) else option for option in widget.options}


def _axis_labels(entry) -> dict:
    """Column -> 'long name [units]' from the catalogue (tables carry no CF attributes)."""
    labels = {}
    for v in entry_variables(entry):
        name, long, units = v.get("name"), v.get("long_name") or v.get("standard_name"), v.get("units")
        if name:
            labels[name] = f"{long or name} [{units}]" if units not in (None, "", "1") else (long or name)
    return labels


def _entry_code(entry, var, source):
    params = inspect.signature(entry.code).parameters
    if "source" in params:
        return entry.code(var=var, source=source)
    return entry.code(var=var)


def _with_import(code: str) -> str:
    """The snippet to copy: the catalogue's one line, plus the import it needs."""
    module = code.split("=", 1)[-1].strip().split(".", 1)[0]
    return f"import {module}\n{code}" if module.isidentifier() else code


def _esc(text):
    from html import escape

    return escape(text)


def _to_date(value):
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])
