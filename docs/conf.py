"""Sphinx configuration of the aiida-clathrate documentation (`make docs`: warnings are errors)."""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load_temporary_profile() -> None:
    """An in-memory AiiDA profile: ``aiida-workchain`` directives load one to read the process
    specifications; nothing is stored and no configuration on disk is touched."""
    from aiida import load_profile
    from aiida.storage.sqlite_temp import SqliteTempBackend

    load_profile(SqliteTempBackend.create_profile("docs"), allow_switch=True)


_load_temporary_profile()

project = "aiida-clathrate"
author = "aiida-clathrate developers"
copyright = "2026, aiida-clathrate developers"  # noqa: A001

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_click",
    "aiida.sphinxext",
]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}
# Kernels import torch or python-sscha only where they use them; nothing is mocked.
nitpicky = False

html_theme = "furo"
html_title = "aiida-clathrate"
html_static_path: list[str] = []
