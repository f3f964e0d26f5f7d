"""ElectronPhononWorkChain end to end with real pw.x, ph.x, q2r.x and matdyn.x (fcc Al, tiny settings).

One harmonic run (module fixture) serves every test, including the given-matrices branch, which reuses
its ph.x folder and runs only q2r.x, matdyn.x, the parser and Eliashberg.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import TINY_EPC_OVERRIDES

from aiida_clathrate.calculations.eliashberg import xydata_to_alpha2f
from aiida_clathrate.eliashberg import spectral_moments
from aiida_clathrate.workflows.epc import ElectronPhononWorkChain

pytestmark = pytest.mark.qe


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
        "elph_folder",
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
    for step in (
        "scf on the dense k-mesh (la2F)",
        "scf on the phonon k-mesh from the la2F run's folder",
        "3 irreducible q-points: one ph.x job each",
        "q2r.x with la2F (gamma matrices to real space)",
        "matdyn.x: launched matdyn_dos",
        "lambda per broadening",
        "Eliashberg: Tc",
    ):
        assert step in report, step


def test_report_names_the_branch(epc_al):
    from aiida.cmdline.utils.common import get_workchain_report

    assert "branch: harmonic" in get_workchain_report(epc_al, "REPORT")


# Given-matrices branch: q2r.x/matdyn.x on given dynamical matrices with the harmonic run's
# electron-phonon gamma matrices (no ph.x rerun), reusing the harmonic run's ph.x folder.

#: Force constants multiplied by this factor: frequencies x 1.2, eigenvectors unchanged, so
#: lambda_nu = gamma_nu / (pi N(Ef) omega_nu^2) falls by 1/1.44 (gamma_nu does not change).
MATRIX_SCALE = 1.44
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


def gamma_only_matrices(folder: orm.FolderData) -> orm.FolderData:
    """The Gamma file of a 2x2x2 set as a genuine 1x1x1 set (dyn0 says 1 1 1, one file)."""
    gamma = orm.FolderData()
    gamma.base.repository.put_object_from_bytes(b"   1   1   1\n   1\n   0.0 0.0 0.0\n", "dyn0")
    gamma.base.repository.put_object_from_bytes(
        folder.base.repository.get_object_content("dyn1", mode="rb"), "dyn1"
    )
    gamma.base.attributes.set_many({"prefix": "dyn", "nqirr": 1, "qpoints_mesh": [1, 1, 1]})
    return gamma


def _given_builder(epc_al, qe_codes, matrices: orm.FolderData):
    return ElectronPhononWorkChain.get_builder_from_protocol(
        qe_codes,
        epc_al.inputs.structure,
        "fast",
        overrides=TINY_EPC_OVERRIDES,
        dynamical_matrices=matrices,
        parent_elph_folder=epc_al.outputs.elph_folder,
    )


@pytest.fixture(scope="module")
def epc_al_same(epc_al, qe_codes):
    """The given-matrices branch on the harmonic run's own, unchanged matrices."""
    _, node = run_get_node(_given_builder(epc_al, qe_codes, epc_al.outputs.dynamical_matrices))
    return node


@pytest.fixture(scope="module")
def epc_al_scaled(epc_al, qe_codes):
    """The given-matrices branch on the harmonic matrices scaled by MATRIX_SCALE."""
    matrices = scaled_dynamical_matrices(epc_al.outputs.dynamical_matrices, MATRIX_SCALE)
    _, node = run_get_node(_given_builder(epc_al, qe_codes, matrices))
    return node


def _rows(node) -> list[dict]:
    return node.outputs.epc_summary.get_dict()["broadenings"]


def _dfpt_step(node, label: str):
    """The process ``label`` called by the ``DfptWorkChain`` of an ElectronPhononWorkChain."""
    dfpt = node.base.links.get_outgoing(link_label_filter="dfpt").one().node
    return dfpt.base.links.get_outgoing(link_label_filter=label).one().node


def _matdyn_frequencies_thz(node) -> np.ndarray:
    """matdyn.x frequencies (THz, as aiida-quantumespresso converts them) on the DOS q-grid."""
    from aiida_quantumespresso.parsers.matdyn import parse_raw_matdyn_phonon_file

    workchain = _dfpt_step(node, "matdyn_dos")
    retrieved = workchain.called[-1].outputs.retrieved
    text = retrieved.base.repository.get_object_content("phonon_frequencies.dat")
    return np.asarray(parse_raw_matdyn_phonon_file(text)["phonon_bands"], dtype=float)


def test_given_unchanged_matrices_reproduce_harmonic(epc_al, epc_al_same):
    from aiida.cmdline.utils.common import get_workchain_report

    node = epc_al_same
    assert node.is_finished_ok, node.exit_message
    harmonic, given = _rows(epc_al), _rows(node)
    assert len(given) == len(harmonic) == 10
    for h, g in zip(harmonic, given, strict=True):
        # QE prints lambda with 4 decimals: the same matrices give the same digits.
        assert g["lambda_qe"] == pytest.approx(h["lambda_qe"], abs=1e-4)
        assert g["dos_ef_states_per_ry_spin"] == h["dos_ef_states_per_ry_spin"]
        assert g["lambda_from_a2f"] == pytest.approx(h["lambda_from_a2f"], rel=1e-6)
    for label, spectrum in epc_al.outputs.alpha2f_broadenings.items():
        omega_h, a2f_h = xydata_to_alpha2f(spectrum)
        omega_g, a2f_g = xydata_to_alpha2f(node.outputs.alpha2f_broadenings[label])
        np.testing.assert_allclose(omega_g, omega_h, rtol=1e-6)
        np.testing.assert_allclose(a2f_g, a2f_h, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(
        _matdyn_frequencies_thz(node), _matdyn_frequencies_thz(epc_al), atol=1e-4
    )
    dfpt = node.base.links.get_outgoing(link_label_filter="dfpt").one().node
    called = {link.link_label for link in dfpt.base.links.get_outgoing().all()}
    assert {"q2r", "given_dyn_for_q2r", "matdyn_dos", "matdyn_bands"} <= called
    assert not called & {"scf_dense", "scf", "ph", "ph_init"}
    assert _dfpt_step(node, "q2r").inputs.q2r.parameters["INPUT"]["la2f"] is False
    report = get_workchain_report(node, "REPORT")
    assert "branch: GIVEN dynamical matrices" in report and "no scf or ph.x" in report


def test_given_scaled_matrices_rescale_lambda_and_frequencies(epc_al, epc_al_scaled):
    node = epc_al_scaled
    assert node.is_finished_ok, node.exit_message
    for h, g in zip(_rows(epc_al), _rows(node), strict=True):
        # lambda_nu ~ 1/omega_nu^2 with unchanged linewidths: lambda / s per broadening.
        assert g["lambda_qe"] == pytest.approx(h["lambda_qe"] / MATRIX_SCALE, rel=0.01)
        assert g["lambda_from_a2f"] == pytest.approx(h["lambda_from_a2f"] / MATRIX_SCALE, rel=0.01)
        assert g["omega_log_mev_from_a2f"] == pytest.approx(
            h["omega_log_mev_from_a2f"] * MATRIX_SCALE**0.5, rel=0.01
        )
    harmonic, scaled = _matdyn_frequencies_thz(epc_al), _matdyn_frequencies_thz(node)
    assert 7.5 < harmonic.max() < 11.0  # fcc Al: about 9.5 THz (320 cm^-1) at the zone boundary
    finite = harmonic > 0.3  # acoustic modes at Gamma are 0 in both
    np.testing.assert_allclose(scaled[finite] / harmonic[finite], MATRIX_SCALE**0.5, rtol=1e-4)


def test_given_matrices_on_another_q_mesh_are_refused(epc_al, qe_codes):
    matrices = gamma_only_matrices(epc_al.outputs.dynamical_matrices)
    # the builder compares with the protocol's q-mesh ...
    with pytest.raises(ValueError, match=r"q-mesh \[1, 1, 1\], not \[2, 2, 2\]"):
        _given_builder(epc_al, qe_codes, matrices)
    # ... and the spec with the q-mesh of the ph.x run that wrote the gamma matrices.
    builder = _given_builder(epc_al, qe_codes, epc_al.outputs.dynamical_matrices)
    builder.dynamical_matrices = matrices
    with pytest.raises(ValueError, match="inconsistent nr1, nr2, nr3") as error:
        run_get_node(builder)
    assert "q-mesh [1, 1, 1], the electron-phonon q-mesh of the electron-phonon run" in str(
        error.value
    )
    assert "is [2, 2, 2]" in str(error.value)


def test_given_matrices_written_by_cellconstructor(epc_al, qe_codes):
    """The SSCHA path: matrices read and written again by cellconstructor (as SSCHA outputs are)."""
    from aiida_clathrate.data.dynamical_matrices import from_phonons, to_phonons

    matrices = from_phonons(to_phonons(epc_al.outputs.dynamical_matrices))
    _, node = run_get_node(_given_builder(epc_al, qe_codes, matrices))
    assert node.is_finished_ok, node.exit_message
    for h, g in zip(_rows(epc_al), _rows(node), strict=True):
        assert g["lambda_qe"] == pytest.approx(h["lambda_qe"], rel=1e-3)


# Electron-phonon linewidths on the band path (matdyn.x la2F, dos=.false.: gam.lines, elph.gamma.N).

_PH_Q = re.compile(r"^\s+q = \(\s*(\S+)\s+(\S+)\s+(\S+)\s*\)")
_PH_BROADENING = re.compile(r"Gaussian Broadening:\s+(\S+) Ry")
_PH_GAMMA = re.compile(r"lambda\(\s*\d+\)=\s*(\S+)\s+gamma=\s*(\S+) GHz")


def _ph_linewidth_sums(node) -> dict[tuple, dict[float, float]]:
    """ph.x's printed gamma summed over the modes, per q (Cartesian, 2pi/alat) and broadening (Ry)."""
    dfpt = node.base.links.get_outgoing(link_label_filter="dfpt").one().node
    jobs = [
        link.node.called[-1]
        for link in dfpt.base.links.get_outgoing().all()
        if link.link_label.startswith("ph_q_")
    ]
    text = "\n".join(
        job.outputs.retrieved.base.repository.get_object_content("aiida.out") for job in jobs
    )
    sums: dict[tuple, dict[float, float]] = {}
    q = broadening = None
    for line in text.splitlines():
        if match := _PH_Q.match(line):
            q = tuple(float(v) for v in match.groups())
        elif match := _PH_BROADENING.search(line):
            broadening = float(match.group(1))
        elif match := _PH_GAMMA.search(line):
            per_q = sums.setdefault(q, {})
            per_q[broadening] = per_q.get(broadening, 0.0) + float(match.group(2))
    return sums


def _star_key(q) -> tuple:
    """fcc (cubic point group): q-points of one star share their sorted absolute components."""
    return tuple(np.round(np.sort(np.abs(np.asarray(q, dtype=float))), 4))


def test_linewidths_on_the_band_path(epc_al):
    """Shape, units and sign of the linewidths at the chosen broadening (fcc Al, 2x2x2 q-mesh)."""
    from aiida.cmdline.utils.common import get_workchain_report

    node = epc_al
    bands, table = node.outputs.phonon_bands, node.outputs.phonon_linewidths
    summary = node.outputs.epc_summary.get_dict()
    frequencies_thz = bands.get_bands()
    nq = len(bands.get_kpoints())
    assert nq >= 100 and frequencies_thz.shape == (nq, 3)  # 120 requested, 3N = 3 modes
    assert {name for _, name in bands.labels} >= {"GAMMA", "X", "L", "K", "W"}
    widths = table.get_array("linewidths_ghz")
    assert widths.shape == (nq, 3)
    assert table.get_array("linewidths_all_broadenings_ghz").shape == (10, nq, 3)
    assert table.base.attributes.get("chosen_index") == summary["chosen_index"]
    assert table.base.attributes.get("broadening_ry") == pytest.approx(summary["broadening_ry"])
    np.testing.assert_allclose(
        table.get_array("linewidths_all_broadenings_ghz")[summary["chosen_index"] - 1], widths
    )
    np.testing.assert_allclose(
        table.get_array("frequencies_cm1"), frequencies_thz * 33.35640951981521, rtol=1e-9
    )
    print(
        f"linewidths at {summary['broadening_ry']} Ry: min {widths.min():.4f}, median "
        f"{np.median(widths):.3f}, max {widths.max():.3f} GHz; lambda_qnu max "
        f"{table.get_array('lambda_qnu').max():.3f}"
    )
    assert widths.min() >= 0.0  # QE writes -0.0000 at Gamma
    assert 1.0 < widths.max() < 100.0 and 0.1 < np.median(widths) < 30.0  # GHz
    lambdas = table.get_array("lambda_qnu")
    assert lambdas.min() >= 0.0 and 0.05 < lambdas.max() < 10.0
    report = get_workchain_report(node, "REPORT")
    assert "linewidths on the band path" in report and "matdyn_bands<" in report


def test_linewidths_at_mesh_points_are_ph_x_ones(epc_al):
    """On the 2x2x2 q-mesh points of the path (X, L) the linewidths summed over the modes are
    ph.x's sums at that q, at every broadening; at Gamma they are zero (ph.x's are not).

    matdyn.x imposes the acoustic sum rule on the real-space gamma matrices too. With
    ``asr='crystal'`` (the protocol's) the correction vanishes at the mesh points other than
    Gamma; with ``asr='simple'`` it would subtract ph.x's Gamma value from every q (seen by hand
    on QE 6.7: 65.80 = 66.58 - 0.78 GHz at X, broadening 0.04 Ry). The sum over the modes does
    not depend on how matdyn.x splits degenerate modes (ph.x does not symmetrise them)."""
    node = epc_al
    path_run = _dfpt_step(node, "matdyn_bands")
    assert path_run.inputs.matdyn.parameters["INPUT"]["asr"] == "crystal"
    table = node.outputs.phonon_linewidths
    widths = table.get_array("linewidths_all_broadenings_ghz")
    broadenings = table.get_array("broadenings_ry")
    ph = _ph_linewidth_sums(node)
    assert len(ph) == 3  # Gamma, X, L: the irreducible points of the 2x2x2 mesh
    gamma_key = _star_key([0, 0, 0])
    by_star = {_star_key(q): per_q for q, per_q in ph.items()}
    fractional = node.outputs.phonon_bands.get_kpoints()
    from aiida_clathrate.calculations.epc_functions import _qpoints_cartesian_2pi_alat

    cartesian = _qpoints_cartesian_2pi_alat(node.outputs.phonon_bands)
    on_mesh = np.flatnonzero(np.all(np.abs(2 * fractional - np.round(2 * fractional)) < 1e-8, 1))
    seen = set()
    for index in on_mesh:
        key = _star_key(cartesian[index])
        assert key in by_star, (key, list(by_star))
        seen.add(key)
        for n, broadening in enumerate(broadenings):
            expected = 0.0 if key == gamma_key else by_star[key][round(broadening, 3)]
            # ph.x prints two decimals per mode: 3 x 0.005 GHz
            assert widths[n, index].sum() == pytest.approx(expected, abs=0.02), (key, n)
    assert len(seen) == 3
    at_gamma = [per_q for q, per_q in ph.items() if _star_key(q) == gamma_key][0]
    print("ph.x's linewidth sum at Gamma per broadening (GHz):", at_gamma)


def test_mode_lambdas_average_to_qe_lambda(epc_al, qe_codes):
    """The linewidth-weighted sum: matdyn.x on every q of the DOS mesh as a list (la2F,
    dos=.false.), then the mean over q of sum_nu gamma_qnu / (pi N(Ef) omega_qnu^2) equals the
    lambda matdyn.x prints for the DOS run, broadening by broadening."""
    import itertools
    import tempfile
    from pathlib import Path

    from aiida.plugins import CalculationFactory

    from aiida_clathrate.calculations.epc_linewidths import (
        mode_lambdas,
        read_linewidths_folder,
        retrieve_names,
    )

    path_run = _dfpt_step(epc_al, "matdyn_bands")
    calculation = path_run.called[-1]
    mesh = TINY_EPC_OVERRIDES["dos_qpoints_mesh"]
    qpoints = orm.KpointsData()
    qpoints.set_cell_from_structure(epc_al.inputs.structure)
    qpoints.set_kpoints(
        [
            [i / mesh[0], j / mesh[1], k / mesh[2]]
            for i, j, k in itertools.product(*map(range, mesh))
        ]
    )
    inputs = {
        "code": calculation.inputs.code,
        "force_constants": calculation.inputs.force_constants,
        "parent_folder": calculation.inputs.parent_folder,
        "parameters": calculation.inputs.parameters,
        "kpoints": qpoints,
        "metadata": {
            "options": {
                "resources": {"num_machines": 1, "num_mpiprocs_per_machine": 1},
                "withmpi": False,
                "additional_retrieve_list": retrieve_names(10),
            }
        },
    }
    outputs, node = run_get_node(CalculationFactory("quantumespresso.matdyn"), **inputs)
    assert node.is_finished_ok, node.exit_message
    frequencies_cm1 = outputs["output_phonon_bands"].get_bands() * 33.35640951981521
    with tempfile.TemporaryDirectory() as tmp:
        for name in outputs["retrieved"].base.repository.list_object_names():
            content = outputs["retrieved"].base.repository.get_object_content(name, mode="rb")
            (Path(tmp) / name).write_bytes(content)
        table = read_linewidths_folder(Path(tmp))
    assert table.linewidths_ghz.shape == (10, int(np.prod(mesh)), 3)
    for row, widths in zip(_rows(epc_al), table.linewidths_ghz, strict=True):
        lam = mode_lambdas(widths, frequencies_cm1, row["dos_ef_states_per_ry_spin"])
        print(f"{row['broadening_ry']:.3f} Ry: {lam.sum(1).mean():.4f} vs QE {row['lambda_qe']}")
        assert lam.sum(1).mean() == pytest.approx(row["lambda_qe"], abs=2e-4)


def test_linewidths_of_the_given_matrices_branch(epc_al, epc_al_same, epc_al_scaled):
    """Given matrices: the same linewidths for the same matrices; for the force constants x 1.44,
    frequencies x 1.2, the same linewidth summed over the modes (one atom: the trace of G) and
    lambda_qnu / 1.44."""
    harmonic = epc_al.outputs.phonon_linewidths
    same = epc_al_same.outputs.phonon_linewidths
    np.testing.assert_allclose(
        same.get_array("linewidths_all_broadenings_ghz"),
        harmonic.get_array("linewidths_all_broadenings_ghz"),
        atol=2e-4,
    )
    scaled = epc_al_scaled.outputs.phonon_linewidths
    np.testing.assert_allclose(
        scaled.get_array("linewidths_ghz").sum(1),
        harmonic.get_array("linewidths_ghz").sum(1),
        rtol=1e-3,
        atol=1e-3,
    )
    omega_h = harmonic.get_array("frequencies_cm1")
    omega_s = scaled.get_array("frequencies_cm1")
    finite = omega_h > 10.0
    np.testing.assert_allclose(omega_s[finite] / omega_h[finite], MATRIX_SCALE**0.5, rtol=1e-4)
    lam_h = harmonic.get_array("lambda_qnu").sum(1)
    lam_s = scaled.get_array("lambda_qnu").sum(1)
    big = lam_h > 0.01
    np.testing.assert_allclose(lam_s[big] / lam_h[big], 1 / MATRIX_SCALE, rtol=0.01)


def test_plot_draws_the_linewidths(epc_al, tmp_path):
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ["plot", str(epc_al.pk), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"dispersion_linewidths_{epc_al.pk}.png"
    assert str(path) in result.output.split()
    assert path.stat().st_size > 20_000
