"""Dynamical matrices as a ``FolderData`` convention, and conversion to/from cellconstructor.

Convention (what ``HarmonicPhononWorkChain`` outputs as ``dynamical_matrices``): a plain
``FolderData`` with files ``{prefix}0`` (q-mesh, number of irreducible q-points, q-points) and
``{prefix}1 .. {prefix}{nqirr}`` in Quantum ESPRESSO's format, and attributes ``prefix``,
``nqirr`` and ``qpoints_mesh`` (equal to the supercell python-sscha works in).

A convention on ``FolderData`` rather than a new ``Data`` subclass: the harmonic workchain's
output is usable as it is (no conversion step in the provenance graph), SSCHA outputs have the
same type, and everything a subclass would add fits in three attributes checked by
:func:`validate_dynamical_matrices`.
"""

from __future__ import annotations

import pathlib
import tempfile

from aiida import orm

__all__ = (
    "dynamical_matrices_info",
    "from_directory",
    "from_phonons",
    "to_phonons",
    "validate_dynamical_matrices",
    "write_dyn_files",
)


def dynamical_matrices_info(folder: orm.FolderData) -> dict:
    """``prefix``, ``nqirr`` and ``qpoints_mesh`` of a dynamical-matrix folder (validated)."""
    error = validate_dynamical_matrices(folder)
    if error:
        raise ValueError(error)
    attributes = folder.base.attributes
    return {
        "prefix": attributes.get("prefix"),
        "nqirr": int(attributes.get("nqirr")),
        "qpoints_mesh": [int(n) for n in attributes.get("qpoints_mesh", [])],
    }


def validate_dynamical_matrices(folder: orm.FolderData, _ctx=None) -> str | None:
    """An error message when ``folder`` does not follow the convention, else ``None``."""
    if folder is None:
        return None
    attributes = folder.base.attributes
    prefix, nqirr = attributes.get("prefix", None), attributes.get("nqirr", None)
    if not isinstance(prefix, str) or not prefix:
        return "dynamical matrices: attribute `prefix` is missing"
    if not isinstance(nqirr, int) or nqirr < 1:
        return f"dynamical matrices: attribute `nqirr` must be a positive integer, got {nqirr!r}"
    names = set(folder.base.repository.list_object_names())
    missing = [f"{prefix}{i}" for i in range(1, nqirr + 1) if f"{prefix}{i}" not in names]
    if missing:
        return f"dynamical matrices: files {missing} are missing"
    return None


def write_dyn_files(folder: orm.FolderData, directory: str | pathlib.Path) -> dict:
    """Copy the dyn files into ``directory``; return the folder's info."""
    info = dynamical_matrices_info(folder)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in folder.base.repository.list_object_names():
        if name.startswith(info["prefix"]):
            (directory / name).write_bytes(
                folder.base.repository.get_object_content(name, mode="rb")
            )
    return info


def to_phonons(folder: orm.FolderData):
    """cellconstructor ``Phonons`` read from a dynamical-matrix folder."""
    from aiida_clathrate.sscha.dynamical_matrix import load_phonons

    with tempfile.TemporaryDirectory() as tmp:
        info = write_dyn_files(folder, tmp)
        return load_phonons(tmp, info["prefix"], info["nqirr"])


def from_phonons(phonons, prefix: str = "dyn") -> orm.FolderData:
    """An unstored ``FolderData`` following the convention, written from cellconstructor ``Phonons``."""
    from aiida_clathrate.sscha.dynamical_matrix import save_phonons

    folder = orm.FolderData()
    with tempfile.TemporaryDirectory() as tmp:
        names = save_phonons(phonons, tmp, prefix)
        for name in names:
            folder.base.repository.put_object_from_file(str(pathlib.Path(tmp) / name), name)
    folder.base.attributes.set("prefix", prefix)
    folder.base.attributes.set("nqirr", int(phonons.nqirr))
    folder.base.attributes.set("qpoints_mesh", [int(n) for n in phonons.GetSupercell()])
    return folder


def from_directory(directory: str | pathlib.Path, prefix: str = "dyn") -> orm.FolderData:
    """An unstored ``FolderData`` from ``{prefix}0..{prefix}N`` files in ``directory``."""
    from aiida_clathrate.sscha.dynamical_matrix import read_grid_file

    directory = pathlib.Path(directory)
    grid = directory / f"{prefix}0"
    if not grid.is_file():
        raise ValueError(f"{grid} (q-grid file) is missing")
    mesh, nqirr = read_grid_file(grid.read_text())
    folder = orm.FolderData()
    for index in range(nqirr + 1):
        path = directory / f"{prefix}{index}"
        if not path.is_file():
            raise ValueError(f"{path} is missing")
        folder.base.repository.put_object_from_file(str(path), path.name)
    folder.base.attributes.set("prefix", prefix)
    folder.base.attributes.set("nqirr", nqirr)
    folder.base.attributes.set("qpoints_mesh", mesh)
    return folder
