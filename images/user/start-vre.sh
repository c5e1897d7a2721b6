#!/bin/bash
# Entry point of the user container: put the shipped notebooks into the home without
# overwriting a participant's edits, then run the command (jupyterhub-singleuser by default).
set -e
if [ -d "$VRE_NOTEBOOKS" ] && [ -w "$HOME" ]; then
    mkdir -p "$HOME/notebooks"
    cp -rn "$VRE_NOTEBOOKS/." "$HOME/notebooks/" 2>/dev/null || true
fi
exec "$@"
