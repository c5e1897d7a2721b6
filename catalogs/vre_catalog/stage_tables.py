"""Staging of tables served over HTTP: ERDDAP tabledap CSV, FDSN web service text, plain CSV files.

The region and period are asked of the server (ERDDAP constraints, FDSN query parameters), so only the subset
travels. The response is read as a stream, ``block_mb`` of text at a time, cut at the last complete line,
parsed with the entry's own ``pandas.read_csv`` arguments and appended to a Zarr group along a ``row`` axis:
memory holds about one block whatever the size of the answer.

Resumable: after every block the group's attributes record the rows written and the byte offset of the
first line not yet written. A new run truncates the arrays to those rows and asks the server for the rest
with an HTTP ``Range`` header; a server that ignores it (dynamic services usually do) is read again from
the start, the bytes already staged being skipped as they stream by.
"""
from __future__ import annotations

import http.client
import io
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: pandas.read_csv arguments of an intake ``csv`` entry that describe the text (others are ignored).
_READ_ARGS = ("sep", "comment", "na_values", "dtype", "parse_dates", "header", "names", "skiprows", "compression")
#: Query keys a new region or period replaces, per protocol (FDSN accepts the short aliases too).
_FDSN_KEYS = {"starttime": ("start",), "endtime": ("end",), "minlatitude": ("minlat",), "maxlatitude": ("maxlat",),
              "minlongitude": ("minlon",), "maxlongitude": ("maxlon",)}
_ERDDAP_AXES = ("time", "latitude", "longitude")
CHUNK_ROWS = 65_536  # rows per stored chunk: what a reader decompresses at a time
PARSE_BYTES = 4_000_000  # at most this much text is read, parsed and written at a time
TIMEOUT = 60  # seconds without a byte from the server before the run stops (it can be resumed)


def subset_url(url: str, protocol: str | None, bbox, start, end, variables) -> str:
    """The service URL asking the server itself for the region, period (and, for ERDDAP, variables)."""
    parts = urllib.parse.urlsplit(url)
    if end and len(end) <= 10:  # a date alone: up to the end of that day (the services read midnight)
        end = f"{end}T23:59:59"
    if protocol == "fdsn" or "/fdsnws/" in parts.path:
        params = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
        new = {}
        if start:
            new["starttime"] = start
        if end:
            new["endtime"] = end
        if bbox:
            west, south, east, north = bbox
            new.update(minlatitude=south, maxlatitude=north, minlongitude=west, maxlongitude=east)
        drop = {k for key in new for k in (key, *_FDSN_KEYS[key])}
        params = [(k, v) for k, v in params if k not in drop] + [(k, str(v)) for k, v in new.items()]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(params, safe=":,")))
    if protocol == "erddap" or "/tabledap/" in parts.path:
        query = urllib.parse.unquote(parts.query)
        fields, *constraints = query.split("&") if query else [""]
        if variables:
            fields = ",".join(dict.fromkeys([*variables, *(a for a in _ERDDAP_AXES if a in fields.split(","))]))
        limits = []
        if start:
            limits.append(f"time>={start}")
        if end:
            limits.append(f"time<={end}")
        if bbox:
            west, south, east, north = bbox
            limits += [f"latitude>={south}", f"latitude<={north}", f"longitude>={west}", f"longitude<={east}"]
        replaced = {c.split(">")[0].split("<")[0] for c in limits}
        constraints = [c for c in constraints if c.split(">")[0].split("<")[0].split("=")[0] not in replaced] + limits
        text = "&".join([fields, *constraints])
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.quote(text, safe=",&=")))
    return url


def _read_args(args: dict) -> dict:
    return {k: v for k, v in args.items() if k in _READ_ARGS}


class _Parser:
    """Parse blocks of complete lines with the entry's read_csv arguments; only the first block has the header."""

    def __init__(self, args: dict, columns: list[str] | None = None):
        self.args = _read_args(args)
        if self.args.get("compression"):
            raise ValueError("a compressed CSV cannot be staged block by block; stage an uncompressed service")
        self.columns = columns

    def parse(self, text):
        import pandas as pd

        args = dict(self.args)
        if self.columns is not None:  # a later block: no header, no rows to skip, the names already known
            args.pop("skiprows", None)
            args.update(header=None, names=self.columns)
        frame = pd.read_csv(io.BytesIO(text), **args)  # bytes: no str copy
        if self.columns is None:  # FDSN text heads its columns with '#EventID|Time|...'
            frame.columns = [str(c).strip().lstrip("#").strip() for c in frame.columns]
            self.columns = list(frame.columns)
        for name in frame.columns:  # times as naive UTC datetime64 (what NetCDF/Zarr store)
            column = frame[name]
            if str(name).lower() == "time" and not pd.api.types.is_datetime64_any_dtype(column):
                column = frame[name] = pd.to_datetime(column, utc=True, errors="coerce")
            if isinstance(column.dtype, pd.DatetimeTZDtype):
                frame[name] = column.dt.tz_convert("UTC").dt.tz_localize(None)
        return frame


def _filter(frame, bbox, start, end, variables):
    """The same subset on our side (a plain CSV file cannot be asked for one; for services it is a no-op)."""
    import pandas as pd

    when = next((c for c in ("time", "Time") if c in frame), None)
    if when and (start or end):
        time = pd.to_datetime(frame[when], utc=True, errors="coerce").dt.tz_localize(None)
        keep = pd.Series(True, index=frame.index)
        if start:
            keep &= time >= pd.Timestamp(start)
        if end:  # a date alone means up to the end of that day
            keep &= (time < pd.Timestamp(end) + pd.Timedelta(days=1)) if len(end) <= 10 else (time <= pd.Timestamp(end))
        frame = frame[keep]
    lat = next((c for c in ("latitude", "Latitude", "lat") if c in frame), None)
    lon = next((c for c in ("longitude", "Longitude", "lon") if c in frame), None)
    if bbox and lat and lon:
        west, south, east, north = bbox
        frame = frame[(frame[lat] >= south) & (frame[lat] <= north) & (frame[lon] >= west) & (frame[lon] <= east)]
    if variables:
        frame = frame[[c for c in frame.columns if c in variables or c in (when, lat, lon)]]
    return frame


def _dataset(frame):
    """A DataFrame as a Dataset on a ``row`` axis (text columns as variable-length strings)."""
    import xarray as xr

    data = {}
    for name, column in frame.items():
        if column.dtype == object or str(column.dtype) in ("string", "str"):
            values = column.fillna("").to_numpy(dtype=object)  # the same str objects, one array of pointers
        else:
            values = column.to_numpy()
        key = str(name).replace("/", "_")  # 'Depth/km' (FDSN text): '/' would nest the array in the store
        data[key] = ("row", values, {"column": str(name)} if key != str(name) else {})
    return xr.Dataset(data)


def _open(url: str, offset: int):
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    response = urllib.request.urlopen(request, timeout=TIMEOUT)
    skip = offset if offset and response.status != 206 else 0  # the server ignored Range: skip what we have
    return response, skip


def stage_table(url: str, args: dict, partial: Path, attrs: dict, *, bbox, start, end, variables,
                block_mb: float, log) -> int:
    """Stream ``url`` into the Zarr group ``partial`` (resuming it when its checkpoint says so); return rows."""
    import shutil

    import zarr

    block = max(4096, min(int(block_mb * 1e6), PARSE_BYTES))  # a parsed table is ~2-3x its text
    rows = offset = 0
    columns = None
    if (partial / ".zattrs").exists():
        group = zarr.open_group(str(partial), mode="r+", zarr_format=2)
        rows, offset = int(group.attrs.get("stage_rows", 0)), int(group.attrs.get("stage_bytes", 0))
        columns = list(group.attrs.get("stage_columns") or []) or None
        for array in group.array_values():  # rows written after the last checkpoint are dropped
            if array.shape[0] != rows:
                array.resize((rows, *array.shape[1:]))
    if not offset or not columns:
        shutil.rmtree(partial, ignore_errors=True)
        rows = offset = 0
        columns = None
    else:
        log(f"resuming after {rows} rows ({offset / 1e6:.1f} MB of the answer)")
    parser = _Parser(args, columns)
    try:
        response, skip = _open(url, offset)
    except urllib.error.HTTPError as exc:
        raise OSError(f"HTTP {exc.code} {exc.reason} from the server") from None
    writer = _Writer(partial, attrs, parser, rows, (bbox, start, end, variables))
    position = offset  # offset in the whole answer of the first byte of ``pending``
    pending = b""
    with response:
        while True:
            data = response.read(block)
            last = not data
            if skip and not last:  # the server ignored Range: let the bytes already staged stream by
                cut = min(skip, len(data))
                data, skip = data[cut:], skip - cut
                if skip or not data:
                    continue
            cut = len(data) if last else data.rfind(b"\n") + 1
            if not cut and not last:
                pending += data  # no complete line yet
                continue
            text, pending = pending + memoryview(data)[:cut], data[cut:]  # the one copy of the block
            del data
            writer.write(text, position)
            position += len(text)
            del text
            if last:
                break
    log(f"{writer.rows} rows from {position} bytes of the answer")
    return writer.rows


class _Writer:
    """Parse a block of complete lines ``PARSE_BYTES`` at a time and append the rows to the Zarr group, each
    piece with its checkpoint (rows written, bytes of the answer consumed), so memory holds the block's text
    and one parsed piece, and a resumed run starts at the last piece written."""

    def __init__(self, partial: Path, attrs: dict, parser: _Parser, rows: int, subset: tuple):
        self.partial, self.attrs, self.parser, self.rows, self.subset = partial, attrs, parser, rows, subset

    def write(self, text: bytes, position: int) -> None:
        view, begin = memoryview(text), 0
        while begin < len(text):
            end = len(text)
            if end - begin > PARSE_BYTES:
                end = text.rfind(b"\n", begin, begin + PARSE_BYTES) + 1 or text.find(b"\n", begin + PARSE_BYTES) + 1 or end
            self._piece(view[begin:end], position + end)
            begin = end

    def _piece(self, piece, consumed: int) -> None:
        import zarr

        piece = bytes(piece)  # one copy of PARSE_BYTES, which BytesIO then shares
        if not piece or piece.isspace():
            return
        frame = self.parser.parse(piece)
        del piece
        bbox, start, end, variables = self.subset
        missing = sorted(set(variables or ()) - set(frame.columns))
        if missing:
            from .stage import StageError

            raise StageError(f"unknown variable(s) {missing}; choose among {list(frame.columns)}")
        frame = _filter(frame, bbox, start, end, variables)
        checkpoint = {**self.attrs, "stage_rows": self.rows + len(frame), "stage_bytes": consumed,
                      "stage_columns": list(self.parser.columns)}
        if not len(frame):  # only rows outside the subset: move the checkpoint on
            if (self.partial / ".zattrs").exists():
                zarr.open_group(str(self.partial), mode="r+", zarr_format=2).attrs.update(checkpoint)
            return
        ds = _dataset(frame)
        del frame
        ds.attrs = checkpoint  # an append rewrites the group's attributes too
        if (self.partial / ".zattrs").exists():
            ds.to_zarr(self.partial, append_dim="row", zarr_format=2, consolidated=False)
        else:
            ds.to_zarr(self.partial, mode="w", zarr_format=2, consolidated=False,
                       encoding={name: {"chunks": (CHUNK_ROWS,)} for name in ds.data_vars})
        self.rows += ds.sizes["row"]


def read_errors() -> tuple[type[BaseException], ...]:
    """What a server failing half-way raises while the answer streams."""
    return (OSError, http.client.HTTPException, ValueError)
