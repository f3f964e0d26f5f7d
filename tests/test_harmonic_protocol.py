"""HarmonicPhononWorkChain builders from the protocols, and input validation (no QE run)."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_clathrate.structures import clathrate
from aiida_clathrate.workflows.harmonic import HarmonicPhononWorkChain


@pytest.fixture
def krb_structure():
    return orm.StructureData(ase=clathrate("K", "Rb"))


@pytest.mark.parametrize(
    ("protocol", "ecut", "kmesh", "qmesh"),
    [
        ("fast", (30.0, 120.0), [2, 2, 2], [1, 1, 1]),
        ("balanced", (60.0, 240.0), [8, 8, 8], [2, 2, 2]),
        ("stringent", (80.0, 640.0), [24, 24, 24], [6, 6, 6]),
    ],
)
def test_protocols(qe_codes, krb_structure, protocol, ecut, kmesh, qmesh):
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes, krb_structure, protocol, pressure_gpa=15.0
    )
    relax = builder.relax.base_relax
    parameters = relax.pw.parameters.get_dict()
    assert (parameters["SYSTEM"]["ecutwfc"], parameters["SYSTEM"]["ecutrho"]) == ecut
    assert parameters["SYSTEM"]["occupations"] == "smearing"
    assert parameters["CONTROL"]["calculation"] == "vc-relax"
    assert parameters["CELL"]["press"] == pytest.approx(150.0)  # kbar
    assert parameters["CELL"]["cell_dofree"] == "all"
    assert parameters["SYSTEM"]["nosym"] is False
    assert relax.kpoints.get_kpoints_mesh()[0] == kmesh
    assert builder.dfpt.scf.kpoints.get_kpoints_mesh()[0] == kmesh
    assert builder.dfpt.ph.qpoints.get_kpoints_mesh()[0] == qmesh
    assert builder.dfpt.ph.ph.parameters["INPUTPH"]["nmix_ph"] <= 5
    assert builder.pressure_gpa.value == 15.0
    assert builder.relax.meta_convergence.value is (protocol != "fast")
    assert "parameters" not in builder.relax.base_init_relax.pw  # no initial relaxation
    assert builder.dfpt.scf.pw.metadata.options.withmpi is False


def test_overrides_and_mpi(qe_codes, krb_structure):
    builder = HarmonicPhononWorkChain.get_builder_from_protocol(
        qe_codes,
        krb_structure,
        "fast",
        overrides={
            "qpoints_mesh": [2, 2, 2],
            "stability_tolerance_cm1": 3.0,
            "ph": {"ph": {"parameters": {"INPUTPH": {"alpha_mix(1)": 0.3}}}},
        },
        num_mpiprocs=2,
        relax=False,
    )
    assert "parameters" not in builder.relax.base_relax.pw
    assert builder.dfpt.ph.qpoints.get_kpoints_mesh()[0] == [2, 2, 2]
    assert builder.stability_tolerance_cm1.value == 3.0
    assert builder.dfpt.ph.ph.parameters["INPUTPH"]["alpha_mix(1)"] == 0.3
    assert builder.dfpt.scf.pw.metadata.options.withmpi is True
    assert builder.dfpt.scf.pw.metadata.options.resources["num_mpiprocs_per_machine"] == 2


def test_bad_inputs(qe_codes, krb_structure):
    with pytest.raises(ValueError, match="codes missing"):
        HarmonicPhononWorkChain.get_builder_from_protocol(
            {"pw": qe_codes["pw"]}, krb_structure, "fast"
        )
    with pytest.raises(ValueError, match="ultrafast"):
        HarmonicPhononWorkChain.get_builder_from_protocol(qe_codes, krb_structure, "ultrafast")
    with pytest.raises(ValueError, match="aiida-pseudo install"):
        HarmonicPhononWorkChain.get_builder_from_protocol(
            qe_codes, krb_structure, "fast", pseudo_family="SSSP/1.3/PBE/efficiency"
        )
