"""Render the participant version of the workshop notebooks: the same notebooks without the solution cells.

The notebooks in this folder are the teacher version; cells tagged ``solution`` hold the exercise solutions.
This removes them (nbconvert's TagRemovePreprocessor) and clears outputs:

    python notebooks/render_participant.py --out DIR [NOTEBOOK ...]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

HERE = Path(__file__).resolve().parent
SOLUTION_TAG = "solution"


def participant_version(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(notebook)  # a copy: the teacher version stays untouched
    resources: dict = {}
    notebook, resources = TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}).preprocess(notebook, resources)
    notebook, resources = ClearOutputPreprocessor().preprocess(notebook, resources)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the participant notebooks")
    parser.add_argument("notebooks", nargs="*", type=Path, help="teacher notebooks (default: all in this folder)")
    args = parser.parse_args(argv)
    sources = args.notebooks or sorted(HERE.glob("*.ipynb"))
    if not sources:
        print(f"error: no notebooks found in {HERE}; give notebook paths", file=sys.stderr)
        return 1
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for source in sources:
            teacher = nbformat.read(source, as_version=4)
            participant = participant_version(teacher)
            nbformat.write(participant, args.out / source.name)
            removed = len(teacher.cells) - len(participant.cells)
            print(f"{source.name}: {removed} solution cell(s) removed -> {args.out / source.name}")
    except (OSError, nbformat.ValidationError) as error:
        print(f"error: {error}; check the notebook paths and that --out is writable", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
