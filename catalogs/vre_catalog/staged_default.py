"""Make a staged copy the default source of its entry, in the pole catalogue file itself.

Plain intake has no "use this file if it exists, else that one" and refuses the same source name in two
merged files, so a staged copy can only become what ``cat.<pole>.<name>`` opens by changing that entry. The
change is small and written in place (atomically) so that anyone can read it in the file (and in ``git diff``):

- ``driver``/``args`` of ``<name>`` now open the Zarr store in Dataref through
  ``{{ env('VRE_DATAREF', '/data/ref') }}`` (where the spawner mounts Dataref; an operator's host sets
  ``VRE_DATAREF``); the embedded sample's ``driver``/``args`` stay in the file as a comment, to put back by hand;
- ``metadata.sample.kind`` becomes ``staged`` and ``metadata.sample.staged`` holds the provenance.

``<name>_remote`` is untouched. Staging again replaces the generated lines, never the comment.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

DATAREF_TEMPLATE = "{{ env('VRE_DATAREF', '/data/ref') }}"
MARK = "# staged by `vre data stage`"


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Index of the first line after ``start`` that is neither blank nor indented deeper than ``indent``."""
    for i in range(start + 1, len(lines)):
        text = lines[i]
        if text.strip() and len(text) - len(text.lstrip(" ")) <= indent and not text.lstrip().startswith("#"):
            return i
    return len(lines)


def set_default(pole_file: Path, name: str, store: Path, dataref: Path, attrs: dict) -> Path:
    """Switch ``name`` of ``pole_file`` to open ``store`` (a staged copy under ``dataref``); return the file."""
    pole_file = Path(pole_file)
    lines = pole_file.read_text(encoding="utf-8").splitlines()
    try:
        head = lines.index(f"  {name}:")
    except ValueError:
        raise ValueError(f"{pole_file}: no `  {name}:` source line to switch; was the file reformatted?") from None
    end = _block_end(lines, head, 2)
    body = lines[head + 1:end]
    rel = Path(store).resolve().relative_to(Path(dataref).resolve()).as_posix()
    generated = ["    driver: zarr", "    args:", f'      urlpath: "{DATAREF_TEMPLATE}/{rel}"', "      chunks: {}"]
    if any(line.startswith(f"    {MARK}") for line in body):  # staged before: replace the generated lines only
        first = next(i for i, line in enumerate(body) if line.startswith("    driver:"))
        last = _block_end(body, next(i for i, line in enumerate(body) if line.startswith("    args:")), 4)
        body[first:last] = generated
    else:
        first = next(i for i, line in enumerate(body) if line.startswith("    driver:"))
        args = next(i for i, line in enumerate(body) if line.startswith("    args:"))
        last = _block_end(body, args, 4)
        original = body[first:last]
        body[first:last] = ([f"    {MARK}; the embedded sample was:"] + [f"    #  {line[4:]}" for line in original]
                            + generated)
    # metadata.sample: kind staged, provenance under `staged` (flow mapping in JSON, which YAML reads).
    sample = next((i for i, line in enumerate(body) if line == "      sample:"), None)
    if sample is None:
        raise ValueError(f"{pole_file}: source {name} has no `sample:` block in its metadata; add one")
    sample_end = _block_end(body, sample, 6)
    block = body[sample + 1:sample_end]
    kind = next((i for i, line in enumerate(block) if re.match(r"^        kind: ", line)), None)
    was = block[kind].split(":", 1)[1].strip() if kind is not None else None
    block = [line for line in block if not line.startswith("        staged: ")]
    provenance = {"path": rel, "source_url": attrs.get("stage_source_url"), "query": json.loads(attrs.get("stage_query", "{}")),
                  "time": attrs.get("stage_time"), "checksum_sha256": attrs.get("stage_checksum_sha256")}
    old = next((json.loads(line.split(":", 1)[1]) for line in body[sample + 1:sample_end]
                if line.startswith("        staged: ")), {})
    provenance["was"] = old.get("was") or was
    block = [("        kind: staged" if re.match(r"^        kind: ", line) else line) for line in block]
    block.append("        staged: " + json.dumps(provenance))
    body[sample + 1:sample_end] = block
    lines[head + 1:end] = body
    tmp = pole_file.with_name(f".{pole_file.name}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, pole_file)
    return pole_file
