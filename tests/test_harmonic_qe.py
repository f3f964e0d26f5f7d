"""HarmonicPhononWorkChain end to end with real pw.x, ph.x, q2r.x and matdyn.x (fcc Al, tiny settings)."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node

from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain

pytestmark = pytest.mark.qe


@pytest.fixture(scope="module")
def harmonic_al(aiida_profile, qe_codes):
    """One full run shared by the tests of this module (about a minute on two cores)."""
    from ase.build import bulk
    from conftest import TINY_HARMONIC_OVERRIDES

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes, structure, "fast", overrides=TINY_HARMONIC_OVERRIDES, pressure_gpa=0.0
    )
    _, node = run_get_node(builder)
    return node


def test_finishes_with_all_outputs(harmonic_al):
    node = harmonic_al
    assert node.is_finished_ok, node.exit_message
    for name in (
        "relaxed_structure",
        "dynamical_matrices",
        "force_constants",
        "phonon_bands",
        "phonon_dos",
        "min_frequency_cm1",
        "dynamically_stable",
        "structure_parameters",
    ):
        assert name in node.outputs, name


def test_al_is_stable_with_sensible_frequencies(harmonic_al):
    outputs = harmonic_al.outputs
    assert outputs.dynamically_stable.value is True
    bands_cm1 = outputs.phonon_bands.get_bands() * 33.3564
    # fcc Al: highest phonon about 300-350 cm^-1 (experiment ~ 320); tiny settings stay within 25%.
    assert 240 < bands_cm1.max() < 420
    assert 0 < outputs.min_frequency_cm1.value < 150
    dos_x, dos_y = outputs.phonon_dos.get_x()[1], outputs.phonon_dos.get_y()[0][1]
    assert np.all(dos_y >= -1e-8) and dos_x.max() > 200


def test_relaxation_changed_the_cell_and_kept_symmetry(harmonic_al):
    relaxed = harmonic_al.outputs.relaxed_structure
    assert relaxed.pk != harmonic_al.inputs.structure.pk
    assert harmonic_al.outputs.structure_parameters["space_group_number"] == 225
    start_volume = harmonic_al.inputs.structure.get_cell_volume()
    assert relaxed.get_cell_volume() != pytest.approx(start_volume, rel=1e-6)


def test_dynamical_matrices_for_sscha(harmonic_al):
    dyn = harmonic_al.outputs.dynamical_matrices
    nqirr = dyn.base.attributes.get("nqirr")
    assert dyn.base.attributes.get("qpoints_mesh") == [2, 2, 2]
    names = set(dyn.base.repository.list_object_names())
    assert {f"dyn{i}" for i in range(nqirr + 1)} <= names
    assert nqirr == 3  # fcc 2x2x2 q-mesh: Gamma, X, L
    assert "Dynamical  Matrix in cartesian axes" in dyn.base.repository.get_object_content("dyn1")


def test_report_names_each_step(harmonic_al):
    from aiida.cmdline.utils.common import get_workchain_report

    report = get_workchain_report(harmonic_al, "REPORT")
    for step in (
        "step 1/2 relax",
        "step 2/2 DFPT (phonons)",
        "scf on the phonon k-mesh",
        "3 irreducible q-points: one ph.x job each",
        "q2r.x on ph.x's matrices",
        "matdyn.x: launched",
    ):
        assert step in report


def test_show_reproduces_the_verdict(harmonic_al):
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ["show", str(harmonic_al.pk)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "dynamically_stable           True" in result.output
    assert f"{harmonic_al.outputs.min_frequency_cm1.value:.4f}" in result.output


def test_ph_failure_gives_exit_code_403(
    aiida_profile, qe_codes, aluminium, tiny_harmonic_overrides
):
    """A real ph.x failure (QE 6.7 rejects nmix_ph > 5) surfaces as the workchain's ph exit code."""
    tiny_harmonic_overrides["nmix_ph"] = 8
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes, aluminium, "fast", overrides=tiny_harmonic_overrides, relax=False
    )
    _, node = run_get_node(builder)
    assert node.exit_status == HarmonicPhononWorkChain.exit_codes.ERROR_SUB_PROCESS_FAILED_PH.status
    assert "ph.x" in node.exit_message
