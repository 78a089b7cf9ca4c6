"""Tessera: train in Python, run anywhere, get the same bits.

The components are subpackages: `tessera.trainer` (Theano-style symbolic autodiff),
`tessera.exporter` (the model format: export, check, reference runtime, C and ONNX
generators) and `tessera.conformance` (the cross-runtime suite). `tessera.cli` is the
`tessera` command.
"""

from __future__ import annotations

import os

__version__ = "0.2.0"

# In a source checkout the components are the repository's top-level folders (trainer/,
# exporter/, conformance/, schema/, runtimes/); an installed wheel holds them inside this
# package. Only a checkout (this folder has no trainer/ but its parent is the repository) adds
# the parent to the search path, so an installed tessera never picks up another distribution's
# top-level `trainer`.
_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
if not os.path.isdir(os.path.join(_HERE, "trainer")) and os.path.isfile(os.path.join(_REPO, "pyproject.toml")):
    __path__.append(_REPO)  # type: ignore[name-defined]  # noqa: F821
