"""Where the package's data files are: the schema, the conformance cases, the C sources, the digits.

One lookup for every reader, through `importlib.resources`. The data keep the repository's layout
in both places it can be: an installed wheel holds them inside the `tessera` package
(`tessera/schema/v1/`, `tessera/runtimes/c/src/`, `tessera/conformance/cases/`, ...), a source
checkout at the repository root, which `tessera/__init__.py` adds to the package's path. So
`path("schema", "v1")` names the same folder either way.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import tessera


def _roots() -> list[Path]:
    """The package folder first, then (checkout only) the repository root."""
    package = importlib.resources.files("tessera")
    if not isinstance(package, Path):
        # A zip import: the C extension and the CLIs that hand files to other processes need real
        # files, and pip always installs a wheel unpacked.
        raise RuntimeError(f"tessera's data must be on the file system, not in {package}")
    return [package, *(Path(p) for p in tessera.__path__[1:])]


def path(*parts: str) -> Path:
    """The data file or folder at `parts` (e.g. "schema", "v1"), where it exists.

    A folder that does not exist yet (the conformance cases before the first generation) is
    named under the first root that holds its parent folder; FileNotFoundError if none does.
    """
    candidates = [root.joinpath(*parts) for root in _roots()]
    for candidate in candidates:
        if candidate.exists():
            return candidate
    for candidate in candidates:
        if candidate.parent.is_dir():
            return candidate
    raise FileNotFoundError(f"tessera data {'/'.join(parts)} is missing (looked in {', '.join(map(str, candidates))})")
