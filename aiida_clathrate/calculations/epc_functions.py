"""Electron-phonon outputs of matdyn.x into nodes, and the rule that picks the broadening.

matdyn.x with ``la2F=.true.`` and ``dos=.true.`` writes one ``a2F.dosN`` per Gaussian broadening
(N = 1..el_ph_nsigma) and a ``lambda`` table; aiida-quantumespresso retrieves them but leaves them
unparsed. :func:`parse_epc_outputs` turns them into one ``XyData`` per broadening and a summary
``Dict``; :func:`choose_broadening` states the broadening rule (start of the lambda plateau).
:func:`parse_epc_linewidths` reads the linewidths of a second matdyn.x run on the band path
(``la2F=.true.``, ``dos=.false.``; readers in :mod:`.epc_linewidths`) at the chosen broadening.
:func:`dynamical_matrices_for_q2r` lays given dynamical matrices out for q2r.x (the given-matrices
branch of ``ElectronPhononWorkChain``).
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from pathlib import Path

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction
from aiida_quantumespresso.calculations.ph import PhCalculation

from ..data.dynamical_matrices import validate_dynamical_matrices
from ..eliashberg import read_matdyn_lambda, read_qe_a2f_dos, spectral_moments
from ..eliashberg.uncertainty import neighbour_changes
from ..phonons import THZ_TO_CM1
from ..units import KB_MEV_PER_KELVIN, MEV_PER_UNIT
from .eliashberg import ALPHA2F_Y_NAME
from .epc_linewidths import ELPH_GAMMA_NAME, GAM_LINES_NAME, mode_lambdas, read_linewidths_folder

#: Relative change of lambda between neighbouring broadenings that counts as the plateau.
DEFAULT_PLATEAU_TOLERANCE = 0.05
#: Output label of the alpha^2F of broadening N (two digits so the labels sort).
BROADENING_LABEL = "broadening_{:02d}"
_A2F_NAME = re.compile(r"^a2F\.dos(\d+)$")
_MEV_PER_RY = MEV_PER_UNIT["ry"]


def choose_broadening(
    lambdas: list[float], tolerance: float = DEFAULT_PLATEAU_TOLERANCE
) -> tuple[int, bool]:
    """Index (0-based) of the broadening where lambda reaches its plateau.

    Rule: broadenings are ordered from the smallest; the chosen one is the smallest broadening i
    whose lambda differs from that of broadening i+1 by less than ``tolerance`` relative to
    lambda(i+1), with lambda(i) > 0. Small broadenings under-sample the Fermi surface (lambda
    jumps around); large ones over-smooth it (lambda drifts): the first converged value is the
    standard choice. When no pair agrees within ``tolerance``, the pair with the smallest relative
    change is used and the second value returned is ``False``.

    :returns: (index, plateau_found)
    """
    values = np.asarray(lambdas, dtype=float)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"need lambda at two or more broadenings, got {list(lambdas)!r}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"non-finite lambda in {list(lambdas)!r}")
    if not 0.0 < tolerance < 1.0:
        raise ValueError(f"plateau tolerance must lie in (0, 1), got {tolerance!r}")
    changes = neighbour_changes(values)
    inside = np.flatnonzero(changes < tolerance)
    if inside.size:
        return int(inside[0]), True
    if not np.any(np.isfinite(changes)):
        raise ValueError(
            f"no two neighbouring broadenings with positive lambda in {list(lambdas)!r}"
        )
    return int(np.argmin(changes)), False


def alpha2f_modes_xydata(omega_mev: np.ndarray, a2f: np.ndarray, modes: np.ndarray | None):
    """XyData: x = omega (meV), y = total alpha^2F (named as the Eliashberg calcfunction expects)
    followed by the per-mode columns ``alpha2F_mode_N`` when present."""
    node = orm.XyData()
    node.set_x(np.asarray(omega_mev, dtype=float), "omega", "meV")
    arrays = [np.asarray(a2f, dtype=float)]
    names = [ALPHA2F_Y_NAME]
    if modes is not None:
        for j in range(modes.shape[1]):
            arrays.append(np.asarray(modes[:, j], dtype=float))
            names.append(f"{ALPHA2F_Y_NAME}_mode_{j + 1}")
    node.set_y(arrays, names, ["dimensionless"] * len(arrays))
    return node


def clip_negative_alpha2f(spectrum):
    """A copy of a matdyn.x spectrum with its negative values (total and per mode) set to zero,
    and the lambda they carried, 2∫min(alpha^2F, 0)/omega (<= 0).

    matdyn.x interpolates the linewidth matrices with the force constants; on a coarse q-mesh
    (the fast protocols' Γ point) acoustic and low optical modes get negative linewidths, so the
    spectrum has negative parts that the Eliashberg equations cannot take. Their size, reported
    per broadening as ``negative_lambda_removed``, measures how far the q-mesh is from converged.
    """
    negative = np.minimum(spectrum.a2f, 0.0)
    if not np.any(negative < 0.0):
        return spectrum, 0.0
    integrand = negative / spectrum.omega_mev
    removed = float(
        np.sum((integrand[1:] + integrand[:-1]) * np.diff(spectrum.omega_mev))
    )  # 2 × trapezoid
    modes = None if spectrum.modes is None else np.maximum(spectrum.modes, 0.0)
    clipped = dataclasses.replace(spectrum, a2f=np.maximum(spectrum.a2f, 0.0), modes=modes)
    return clipped, removed


def read_epc_folder(
    folder: Path, tolerance: float = DEFAULT_PLATEAU_TOLERANCE, chosen_index: int | None = None
):
    """Read every ``a2F.dosN`` and the ``lambda`` file of a matdyn.x working folder (no AiiDA nodes).

    :returns: (spectra, summary): spectra maps N to the reader's ``Alpha2F``; summary is a
        JSON-serialisable dict with one row per broadening and the chosen broadening.
    """
    folder = Path(folder)
    spectra = {}
    for path in sorted(folder.iterdir()):
        match = _A2F_NAME.match(path.name)
        if match:
            spectra[int(match.group(1))] = read_qe_a2f_dos(path)
    if not spectra:
        raise ValueError(f"{folder}: no a2F.dosN files (did matdyn.x run with la2F and dos?)")
    removed = {}
    for n, spectrum in spectra.items():
        spectra[n], removed[n] = clip_negative_alpha2f(spectrum)
    if not (folder / "lambda").is_file():
        raise ValueError(f"{folder}: no 'lambda' file written by matdyn.x")
    table = read_matdyn_lambda(folder / "lambda")
    extra = sorted(set(spectra) - set(range(1, len(table) + 1)))
    if extra:
        raise ValueError(
            f"{folder}: a2F.dosN files {extra} have no row in 'lambda' ({len(table)} rows)"
        )
    rows = []
    for n, qe in enumerate(table, start=1):
        dos_ef = qe["dos_ef"]
        row = {
            "index": n,
            "broadening_ry": qe["broadening_ry"],
            "broadening_mev": qe["broadening_ry"] * _MEV_PER_RY,
            "lambda_qe": qe["lambda"],
            "omega_log_kelvin_qe": qe["omega_log_kelvin"],
            "dos_ef_states_per_ry_spin": dos_ef,
            "dos_ef_states_per_ev_spin": dos_ef / (_MEV_PER_RY / 1000.0),
            "has_alpha2f": n in spectra,
        }
        if n in spectra:
            spectrum = spectra[n]
            moments = spectral_moments(spectrum.omega_mev, spectrum.a2f)
            row.update(
                {
                    "lambda_qe_a2f_footer": spectrum.reported_lambda,
                    "lambda_from_a2f": moments.lambda_,
                    "omega_log_mev_from_a2f": moments.omega_log_mev,
                    "omega_log_kelvin_from_a2f": moments.omega_log_mev / KB_MEV_PER_KELVIN,
                    "omega_max_mev": moments.omega_max_mev,
                    "omega_support_max_mev": moments.omega_support_max_mev,
                    "negative_lambda_removed": removed[n],
                }
            )
        rows.append(row)
    chosen, plateau = choose_broadening([row["lambda_qe"] for row in rows], tolerance)
    rule_index = rows[chosen]["index"]
    if chosen_index is not None:
        if not 1 <= chosen_index <= len(rows):
            raise ValueError(f"broadening index {chosen_index} not in 1..{len(rows)}")
        chosen = chosen_index - 1
    if not rows[chosen]["has_alpha2f"]:
        raise ValueError(f"{folder}: the chosen broadening has no a2F.dos{chosen + 1} file")
    summary = {
        "broadenings": rows,
        "chosen_index": rows[chosen]["index"],
        "chosen_label": BROADENING_LABEL.format(rows[chosen]["index"]),
        "plateau_found": plateau,
        "plateau_rule_index": rule_index,
        "broadening_given": chosen_index is not None,
        "plateau_tolerance": tolerance,
        "broadening_rule": (
            "smallest broadening whose QE lambda differs from the next broadening's by less than "
            f"{tolerance:g} (relative); without such a pair, the pair with the smallest change"
        ),
        "lambda": rows[chosen]["lambda_qe"],
        "lambda_from_a2f": rows[chosen]["lambda_from_a2f"],
        "omega_log_kelvin": rows[chosen]["omega_log_kelvin_qe"],
        "omega_log_mev_from_a2f": rows[chosen]["omega_log_mev_from_a2f"],
        "omega_log_kelvin_from_a2f": rows[chosen]["omega_log_kelvin_from_a2f"],
        "dos_ef_states_per_ev_spin": rows[chosen]["dos_ef_states_per_ev_spin"],
        "broadening_ry": rows[chosen]["broadening_ry"],
    }
    return spectra, summary


@calcfunction
def parse_epc_outputs(
    retrieved: orm.FolderData, plateau_tolerance: orm.Float, broadening_index: orm.Int | None = None
):
    """matdyn.x ``a2F.dosN`` + ``lambda`` -> ``broadening_NN`` XyData (omega in meV) and ``summary``.

    ``summary``: per broadening (QE's lambda, omega_log and N(Ef), and lambda / omega_log
    integrated from the alpha^2F written) and the broadening chosen by :func:`choose_broadening`,
    or ``broadening_index`` (1-based) when given (e.g. the harmonic branch's, so that harmonic
    and anharmonic results are compared at the same Fermi-surface broadening).
    Exit code 300 when the files are missing or malformed.
    """
    names = retrieved.base.repository.list_object_names()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if _A2F_NAME.match(name) or name == "lambda":
                content = retrieved.base.repository.get_object_content(name, mode="rb")
                (Path(tmp) / name).write_bytes(content)
        try:
            spectra, summary = read_epc_folder(
                Path(tmp),
                plateau_tolerance.value,
                None if broadening_index is None else broadening_index.value,
            )
        except ValueError as exc:
            return ExitCode(300, f"cannot read the electron-phonon files: {exc}")
    for row in summary["broadenings"]:
        row["source"] = f"a2F.dos{row['index']}"
    outputs = {
        BROADENING_LABEL.format(n): alpha2f_modes_xydata(s.omega_mev, s.a2f, s.modes)
        for n, s in spectra.items()
    }
    outputs["summary"] = orm.Dict(summary)
    return outputs


#: What the ``phonon_linewidths`` output says about its numbers.
LINEWIDTH_CONVENTION = (
    "gamma_qnu (GHz) as matdyn.x writes it (elph.gamma.N); lambda_qnu = gamma_qnu / (pi N(Ef) "
    "omega_qnu^2) with N(Ef) per spin (QE's convention), 0 where omega < 1 cm^-1"
)


def _qpoints_cartesian_2pi_alat(bands: orm.BandsData) -> np.ndarray:
    """The bands' q-points in matdyn's units: Cartesian, 2pi/alat with alat = |a1| (ibrav=0)."""
    cell = np.asarray(bands.cell, dtype=float)
    fractional = np.asarray(bands.get_kpoints(), dtype=float)
    return fractional @ np.linalg.inv(cell).T * np.linalg.norm(cell[0])


@calcfunction
def parse_epc_linewidths(
    retrieved: orm.FolderData, bands: orm.BandsData, epc_summary: orm.Dict
) -> orm.ArrayData:
    """Linewidths of matdyn.x on a q-point list (``gam.lines``, ``elph.gamma.N``) -> ``ArrayData``.

    Arrays (rows = the q-points of ``bands``, columns = modes in matdyn's order, that of the bands):
    ``linewidths_ghz`` and ``lambda_qnu`` at the broadening chosen in ``epc_summary`` (N(Ef) of that
    broadening), ``frequencies_cm1``, ``linewidths_all_broadenings_ghz`` (nsigma, nq, nmodes) and
    ``broadenings_ry``. Exit code 300 when the files are missing, malformed or do not match.
    """
    summary = epc_summary.get_dict()
    names = retrieved.base.repository.list_object_names()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            if name == GAM_LINES_NAME or name.startswith(ELPH_GAMMA_NAME.format("")):
                content = retrieved.base.repository.get_object_content(name, mode="rb")
                (Path(tmp) / name).write_bytes(content)
        try:
            table = read_linewidths_folder(Path(tmp))
        except ValueError as exc:
            return ExitCode(300, f"cannot read the linewidth files: {exc}")
    frequencies = np.asarray(bands.get_bands(), dtype=float)
    if bands.base.attributes.get("units", "THz") == "THz":
        frequencies = frequencies * THZ_TO_CM1
    if table.linewidths_ghz.shape[1:] != frequencies.shape:
        return ExitCode(
            300,
            f"linewidths of shape {table.linewidths_ghz.shape[1:]} (nq, nmodes), bands "
            f"{frequencies.shape}",
        )
    # Same points in the same order; matdyn's alat is that of the force constants (|a1| for
    # aiida-quantumespresso's ibrav=0), so allow one common scale.
    expected = _qpoints_cartesian_2pi_alat(bands)
    norm = float(np.sum(expected * expected))
    scale = float(np.sum(table.qpoints_cartesian * expected)) / norm if norm > 0 else 1.0
    offset = np.abs(table.qpoints_cartesian - scale * expected).max()
    if not scale > 0 or offset > 1e-4 * max(1.0, scale):
        return ExitCode(
            300, f"elph.gamma q-points differ from the bands' by {offset:.2e} (2pi/alat)"
        )
    rows = summary["broadenings"]
    if len(rows) != len(table.broadenings_ry) or not np.allclose(
        [row["broadening_ry"] for row in rows], table.broadenings_ry, atol=5e-5
    ):
        return ExitCode(
            300,
            f"broadenings {table.broadenings_ry.tolist()} differ from those of the summary "
            f"{[row['broadening_ry'] for row in rows]}",
        )
    chosen = int(summary["chosen_index"])
    row = rows[chosen - 1]
    widths = table.linewidths_ghz[chosen - 1]
    node = orm.ArrayData()
    node.set_array("linewidths_ghz", widths)
    node.set_array(
        "lambda_qnu", mode_lambdas(widths, frequencies, row["dos_ef_states_per_ry_spin"])
    )
    node.set_array("frequencies_cm1", frequencies)
    node.set_array("linewidths_all_broadenings_ghz", table.linewidths_ghz)
    node.set_array("broadenings_ry", table.broadenings_ry)
    node.base.attributes.set_many(
        {
            "chosen_index": chosen,
            "broadening_ry": row["broadening_ry"],
            "dos_ef_states_per_ry_spin": row["dos_ef_states_per_ry_spin"],
            "min_linewidth_ghz": float(widths.min()),
            "max_linewidth_ghz": float(widths.max()),
            "convention": LINEWIDTH_CONVENTION,
        }
    )
    return node


#: Where ph.x writes its dynamical matrices and q2r.x reads them (aiida-quantumespresso's fildyn).
Q2R_DYN_PREFIX = PhCalculation._OUTPUT_DYNAMICAL_MATRIX_PREFIX  # noqa: SLF001


def dyn_grid_header(text: str) -> tuple[list[int], int]:
    """q-mesh and number of files from a ``dyn0`` text (its first two lines, what q2r.x reads)."""
    tokens = text.split()
    try:
        return [int(t) for t in tokens[:3]], int(tokens[3])
    except (IndexError, ValueError) as exc:
        raise ValueError(f"not a dyn0 q-grid file: {text[:80]!r}") from exc


def given_matrices_qpoints_mesh(folder: orm.FolderData) -> list[int]:
    """The q-mesh of a dynamical-matrix folder (``{prefix}0``'s first line, else ``qpoints_mesh``).

    Raises ``ValueError`` when neither is there or when the two disagree.
    """
    error = validate_dynamical_matrices(folder)
    if error:
        raise ValueError(error)
    prefix = folder.base.attributes.get("prefix")
    nqirr = int(folder.base.attributes.get("nqirr"))
    attribute = folder.base.attributes.get("qpoints_mesh", None)
    attribute = [int(n) for n in attribute] if attribute is not None else None
    if f"{prefix}0" not in folder.base.repository.list_object_names():
        if attribute is None:
            raise ValueError(f"dynamical matrices: neither {prefix}0 nor `qpoints_mesh` is there")
        return attribute
    mesh, nfiles = dyn_grid_header(folder.base.repository.get_object_content(f"{prefix}0"))
    if attribute is not None and attribute != mesh:
        raise ValueError(
            f"dynamical matrices: {prefix}0 says q-mesh {mesh}, attribute `qpoints_mesh` {attribute}"
        )
    if nfiles != nqirr:
        raise ValueError(f"dynamical matrices: {prefix}0 lists {nfiles} files, `nqirr` is {nqirr}")
    return mesh


def ph_qpoints_mesh(ph_folder: orm.RemoteData) -> list[int]:
    """q-mesh of the ph.x calculation that made ``ph_folder`` (``ValueError`` if it had none)."""
    creator = ph_folder.creator
    if creator is None or "qpoints" not in creator.inputs:
        raise ValueError(f"RemoteData<{ph_folder.pk}> was not made by a ph.x calculation")
    try:
        return [int(n) for n in creator.inputs.qpoints.get_kpoints_mesh()[0]]
    except AttributeError as exc:
        raise ValueError(
            f"ph.x calculation<{creator.pk}> ran on a q-point list, not a mesh"
        ) from exc


@calcfunction
def dynamical_matrices_for_q2r(dynamical_matrices: orm.FolderData) -> orm.FolderData:
    """The given ``{prefix}0..{prefix}N`` as q2r.x's ``parent_folder``: ``DYN_MAT/dynamical-matrix-N``.

    aiida-quantumespresso's Q2rCalculation copies ``DYN_MAT/`` of a FolderData parent and reads
    ``fildyn = DYN_MAT/dynamical-matrix-``. File contents are copied unchanged; a missing ``{prefix}0``
    is written from the ``qpoints_mesh`` and ``nqirr`` attributes (q2r.x reads its first two lines).
    """
    mesh = given_matrices_qpoints_mesh(dynamical_matrices)
    prefix = dynamical_matrices.base.attributes.get("prefix")
    nqirr = int(dynamical_matrices.base.attributes.get("nqirr"))
    repository = dynamical_matrices.base.repository
    folder = orm.FolderData()
    for index in range(nqirr + 1):
        name = f"{prefix}{index}"
        if index == 0 and name not in repository.list_object_names():
            content = (" ".join(f"{n:4d}" for n in mesh) + f"\n{nqirr:4d}\n").encode()
        else:
            content = repository.get_object_content(name, mode="rb")
        folder.base.repository.put_object_from_bytes(content, f"{Q2R_DYN_PREFIX}{index}")
    folder.base.attributes.set("qpoints_mesh", mesh)
    folder.base.attributes.set("nqirr", nqirr)
    return folder
