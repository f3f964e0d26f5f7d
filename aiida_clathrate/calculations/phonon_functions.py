"""Calcfunctions of the harmonic phonon workflow: band path, verdict, structure summary, dyn files."""

from __future__ import annotations

import re

import numpy as np
import spglib
from aiida import orm
from aiida.engine import calcfunction
from aiida.repository import FileType

from ..phonons import THZ_TO_CM1, band_path, stability_verdict
from ..structures import boron_carbon_bond_lengths

#: Name of the dynamical-matrix files ph.x writes (``fildyn`` set by aiida-quantumespresso).
_PH_DYN_PATTERN = re.compile(r"^DYN_MAT/dynamical-matrix-(\d+)$")
#: The prefix under which the output FolderData stores them: python-sscha reads ``dyn1..dynN``.
DYN_PREFIX = "dyn"


@calcfunction
def phonon_band_path(structure: orm.StructureData, npoints: orm.Int) -> orm.KpointsData:
    """q-points along the standard path of the lattice (Γ–X–M–Γ–R–X|M–R for simple cubic), with labels."""
    qpoints, labels = band_path(structure.get_ase(), npoints.value)
    kpoints = orm.KpointsData()
    kpoints.set_cell_from_structure(structure)
    kpoints.set_kpoints(qpoints)
    kpoints.labels = labels
    return kpoints


@calcfunction
def phonon_stability(bands: orm.BandsData, tolerance_cm1: orm.Float) -> dict[str, orm.Data]:
    """Lowest frequency (cm^-1) along the path, Γ acoustic modes excluded, and the stability verdict."""
    frequencies = np.asarray(bands.get_bands())
    units = bands.base.attributes.get("units", "THz")
    if units == "THz":
        frequencies = frequencies * THZ_TO_CM1
    verdict = stability_verdict(bands.get_kpoints(), frequencies, tolerance_cm1.value)
    return {
        "min_frequency_cm1": orm.Float(verdict.min_frequency_cm1),
        "dynamically_stable": orm.Bool(verdict.dynamically_stable),
    }


@calcfunction
def structure_summary(structure: orm.StructureData) -> orm.Dict:
    """Lattice parameter (cube root of the volume), space group and, with a B–C framework, d_L and d_S."""
    atoms = structure.get_ase()
    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.get_atomic_numbers())
    dataset = spglib.get_symmetry_dataset(cell, symprec=1e-3)
    summary = {
        "lattice_parameter_angstrom": float(atoms.get_volume() ** (1.0 / 3.0)),
        "volume_angstrom3": float(atoms.get_volume()),
        "space_group_number": int(dataset.number) if dataset is not None else None,
        "formula": atoms.get_chemical_formula(mode="metal"),
    }
    symbols = set(atoms.get_chemical_symbols())
    if {"B", "C"} <= symbols:
        bonds = boron_carbon_bond_lengths(atoms)
        summary["d_long_angstrom"] = bonds.d_long_angstrom
        summary["d_short_angstrom"] = bonds.d_short_angstrom
    return orm.Dict(summary)


@calcfunction
def extract_dynamical_matrices(retrieved: orm.FolderData) -> orm.FolderData:
    """Copy ph.x's ``dynamical-matrix-N`` files to ``dyn0..dynN`` (``dyn0``: q-grid and q-point list)."""
    folder = orm.FolderData()
    indices = []
    for path in _walk(retrieved):
        match = _PH_DYN_PATTERN.match(path)
        if match:
            index = int(match.group(1))
            folder.base.repository.put_object_from_bytes(
                retrieved.base.repository.get_object_content(path, mode="rb"),
                f"{DYN_PREFIX}{index}",
            )
            indices.append(index)
    irreducible = sorted(i for i in indices if i > 0)
    if not irreducible or irreducible != list(range(1, len(irreducible) + 1)):
        raise ValueError(
            f"ph.x output holds no complete set of dynamical matrices: indices {sorted(indices)}"
        )
    folder.base.attributes.set("prefix", DYN_PREFIX)
    folder.base.attributes.set("nqirr", len(irreducible))
    if 0 in indices:
        header = folder.base.repository.get_object_content(f"{DYN_PREFIX}0").split()
        folder.base.attributes.set("qpoints_mesh", [int(n) for n in header[:3]])
    return folder


def _walk(folder: orm.FolderData, prefix: str = "") -> list[str]:
    paths = []
    for name in folder.base.repository.list_object_names(prefix or None):
        path = f"{prefix}/{name}" if prefix else name
        if folder.base.repository.get_object(path).file_type == FileType.DIRECTORY:
            paths.extend(_walk(folder, path))
        else:
            paths.append(path)
    return paths


#: The electron-phonon files ph.x writes per irreducible q-point ``iq`` into ``elph_dir/``.
_ELPH_FILE_PATTERN = re.compile(r"^elph_dir/(a2Fq2r\.\d+|elph\.inp_lambda)\.(\d+)$")


@calcfunction
def gather_qpoint_outputs(**retrieved: orm.FolderData) -> orm.FolderData:
    """One ph.x output folder from the q-points that ran as separate jobs.

    Inputs are the retrieved folders labelled ``q_<iq>`` (``iq`` = ph.x's index of the irreducible
    q-point, ``start_q = last_q = iq``). The result holds ``DYN_MAT/dynamical-matrix-0`` (grid and
    q-point list, identical in every job) and each job's ``dynamical-matrix-<iq>``, and, where the
    jobs computed electron-phonon coupling, their ``elph_dir/a2Fq2r.<51+s>.<iq>`` and
    ``elph_dir/elph.inp_lambda.<iq>``: the layout of one ph.x run over all q-points, for q2r.x.
    """
    if not retrieved:
        raise ValueError("no q-point outputs to gather")
    gathered = orm.FolderData()
    indices = sorted(int(label.split("_", 1)[1]) for label in retrieved)
    if indices != list(range(1, len(indices) + 1)):
        raise ValueError(f"q-point jobs {indices} are not the complete set 1..{len(indices)}")
    for iq in indices:
        folder = retrieved[f"q_{iq}"]
        names = set(_walk(folder))
        wanted = [f"DYN_MAT/dynamical-matrix-{iq}"]
        if iq == 1:
            wanted.append("DYN_MAT/dynamical-matrix-0")
        for name in wanted:
            if name not in names:
                raise ValueError(f"the ph.x job of q-point {iq} left no {name}")
        wanted += [
            name
            for name in sorted(names)
            if (match := _ELPH_FILE_PATTERN.match(name)) and int(match.group(2)) == iq
        ]
        for name in wanted:
            gathered.base.repository.put_object_from_bytes(
                folder.base.repository.get_object_content(name, mode="rb"), name
            )
    gathered.base.attributes.set("nqirr", len(indices))
    return gathered
