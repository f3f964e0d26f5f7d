"""ElectronPhononWorkChain end to end with real pw.x, ph.x, q2r.x and matdyn.x (fcc Al, tiny settings)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_clathrate.calculations.eliashberg import xydata_to_alpha2f
from aiida_clathrate.eliashberg import spectral_moments
from aiida_clathrate.workflows.epc import ElectronPhononWorkChain

pytestmark = pytest.mark.qe

#: Tiny settings for fcc Al (seconds per step on two cores): scf 4x4x4, la2F 8x8x8, q 2x2x2.
TINY_EPC_OVERRIDES = {
    "kpoints_mesh": [4, 4, 4],
    "dense_kpoints_mesh": [8, 8, 8],
    "qpoints_mesh": [2, 2, 2],
    "dos_qpoints_mesh": [8, 8, 8],
    "ndos": 60,
    "degauss_ry": 0.05,
    "el_ph_sigma_ry": 0.01,
    "eliashberg_settings": {"gap_curve_points": 4},
}


@pytest.fixture(scope="module")
def epc_al(aiida_profile, qe_codes):
    """One full run shared by the tests of this module."""
    from ase.build import bulk

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    builder = ElectronPhononWorkChain.get_builder_from_protocol(
        qe_codes, structure, "fast", overrides=TINY_EPC_OVERRIDES
    )
    _, node = run_get_node(builder)
    return node


def test_finishes_with_all_outputs(epc_al):
    node = epc_al
    assert node.is_finished_ok, node.exit_message
    for name in (
        "alpha2f",
        "alpha2f_broadenings",
        "epc_summary",
        "eliashberg",
        "gap_curve",
        "phonon_dos",
        "dynamical_matrices",
        "ph_remote_folder",
    ):
        assert name in node.outputs, name
    assert len(node.outputs.alpha2f_broadenings) == 10


def test_lambda_from_alpha2f_matches_qe(epc_al):
    summary = epc_al.outputs.epc_summary.get_dict()
    omega, a2f = xydata_to_alpha2f(epc_al.outputs.alpha2f)
    assert np.all(np.isfinite(a2f)) and np.all(a2f >= 0) and a2f.max() > 0
    moments = spectral_moments(omega, a2f)
    assert moments.lambda_ == pytest.approx(summary["lambda_from_a2f"], rel=1e-10)
    # QE's lambda (sum over the q-mesh, matdyn 'lambda' file) against our integral of alpha^2F.
    assert 0.05 < summary["lambda"] < 2.0
    assert moments.lambda_ == pytest.approx(summary["lambda"], rel=0.05)
    # fcc Al phonons end near 40 meV (~320 cm^-1).
    assert 25 < moments.omega_max_mev < 55
    assert 0.3 * moments.omega_max_mev < moments.omega_log_mev < moments.omega_max_mev


def test_tc_is_finite_positive_and_consistent(epc_al):
    result = epc_al.outputs.eliashberg.get_dict()
    summary = epc_al.outputs.epc_summary.get_dict()
    assert result["lambda"] == pytest.approx(summary["lambda_from_a2f"], rel=1e-6)
    tcs = result["tc_eliashberg_kelvin"]
    assert all(np.isfinite(tc) and tc >= 0 for tc in tcs)
    assert tcs[0] > 0
    assert tcs == sorted(tcs, reverse=True)  # Tc falls as mu* grows


def test_broadening_rule_recorded(epc_al):
    summary = epc_al.outputs.epc_summary.get_dict()
    rows = summary["broadenings"]
    assert [row["index"] for row in rows] == list(range(1, 11))
    chosen = summary["chosen_index"]
    assert summary["chosen_label"] == f"broadening_{chosen:02d}"
    assert (
        epc_al.outputs.alpha2f.uuid
        == epc_al.outputs.alpha2f_broadenings[summary["chosen_label"]].uuid
    )
    if summary["plateau_found"]:
        a, b = rows[chosen - 1]["lambda_qe"], rows[chosen]["lambda_qe"]
        assert abs(a - b) / b < summary["plateau_tolerance"]


def test_report_names_each_step(epc_al):
    from aiida.cmdline.utils.common import get_workchain_report

    report = get_workchain_report(epc_al, "REPORT")
    for step in ("step 1/6", "step 2/6", "step 3/6", "step 4/6", "step 5/6", "step 6/6"):
        assert step in report


#: Dynamical matrices multiplied by this factor: frequencies x sqrt(1.21) = 1.1, and since ph.x keeps
#: the phonon linewidths (dvscf, eigenvectors unchanged), lambda = gamma / (pi N(Ef) omega^2) / 1.21.
MATRIX_SCALE = 1.21
_PAIR_LINE = re.compile(r"^\s*\d+\s+\d+\s*$")


def scaled_dynamical_matrices(folder: orm.FolderData, factor: float) -> orm.FolderData:
    """A copy of dyn0..dynN with every force-constant block (not the header) multiplied by ``factor``."""
    scaled = orm.FolderData()
    for name in folder.base.repository.list_object_names():
        lines = folder.base.repository.get_object_content(name).splitlines()
        out, remaining = [], 0
        for line in lines:
            if remaining:
                values = [float(v) * factor for v in line.split()]
                line = " ".join(f"{v:14.8f}" for v in values)
                remaining -= 1
            elif name != "dyn0" and _PAIR_LINE.match(line):
                remaining = 3
            out.append(line)
        scaled.base.repository.put_object_from_bytes(("\n".join(out) + "\n").encode(), name)
    for key in ("prefix", "nqirr", "qpoints_mesh"):
        scaled.base.attributes.set(key, folder.base.attributes.get(key))
    return scaled


_FREQ_CM1 = re.compile(r"freq \(\s*\d+\)\s*=\s*\S+\s*\[THz\]\s*=\s*(\S+)\s*\[cm-1\]")


def _ph_stdout(node, label: str) -> str:
    """ph.x standard output of the call ``label`` (a PhBaseWorkChain or a CalcJob)."""
    called = node.base.links.get_outgoing(link_label_filter=label).one().node
    calc = called if isinstance(called, orm.CalcJobNode) else called.called[-1]
    return calc.outputs.retrieved.base.repository.get_object_content("aiida.out")


@pytest.fixture(scope="module")
def epc_al_given(epc_al, qe_codes):
    """trans=.false. on the harmonic run's folder with stiffened matrices (the anharmonic mechanism)."""
    matrices = scaled_dynamical_matrices(epc_al.outputs.dynamical_matrices, MATRIX_SCALE)
    builder = ElectronPhononWorkChain.get_builder_from_protocol(
        qe_codes,
        epc_al.inputs.structure,
        "fast",
        overrides=TINY_EPC_OVERRIDES,
        dynamical_matrices=matrices,
        parent_ph_folder=epc_al.outputs.ph_remote_folder,
    )
    _, node = run_get_node(builder)
    return node


def test_given_matrices_rescale_lambda(epc_al, epc_al_given):
    assert epc_al_given.is_finished_ok, epc_al_given.exit_message
    harmonic = epc_al.outputs.epc_summary.get_dict()["broadenings"]
    given = epc_al_given.outputs.epc_summary.get_dict()["broadenings"]
    # Exact physics would give lambda / 1.21 and omega_log * 1.1. QE 6.7's trans=.false. path
    # re-derives the mode patterns, and even with the *unchanged* harmonic matrices its per-q
    # linewidths differ from the harmonic run's at q != Gamma (docs/epc.md): measured ratios here
    # are 0.79-0.83 against 0.826, so the check is that the given matrices are what ph.x used.
    for h, g in zip(harmonic, given, strict=True):
        if h["lambda_qe"] > 0.05:
            assert g["lambda_qe"] == pytest.approx(h["lambda_qe"] / MATRIX_SCALE, rel=0.06)
            assert g["omega_log_kelvin_qe"] == pytest.approx(
                h["omega_log_kelvin_qe"] * MATRIX_SCALE**0.5, rel=0.06
            )
    # ph.x read the given matrices: its frequencies are the harmonic ones times 1.1.
    given_out = _ph_stdout(epc_al_given, "ph_given")
    assert "Reading dynamics matrix from file" in given_out
    harmonic_max = max(float(f) for f in _FREQ_CM1.findall(_ph_stdout(epc_al, "ph")))
    given_max = max(float(f) for f in _FREQ_CM1.findall(given_out))
    assert given_max == pytest.approx(harmonic_max * MATRIX_SCALE**0.5, rel=1e-4)
    called = {link.link_label for link in epc_al_given.base.links.get_outgoing().all()}
    assert "ph_given" in called and "scf_dense" not in called and "ph" not in called
