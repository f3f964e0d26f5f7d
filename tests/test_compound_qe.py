"""ClathrateSuperconductorWorkChain end to end with real Quantum ESPRESSO (fcc Al, tiny settings,
no SSCHA): harmonic -> EPC -> Eliashberg -> extras and groups; and its builder's checks."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import TINY_EPC_OVERRIDES, TINY_HARMONIC_OVERRIDES

from aiida_clathrate.workflows.compound import ClathrateSuperconductorWorkChain, guest_metals
from aiida_clathrate.workflows.sscha import supercell_kpoints_mesh

#: The tiny harmonic settings of tests/conftest.py and the tiny EPC settings of tests/test_epc_qe.py.
MUSTAR = [0.10, 0.13, 0.15]


def _tiny_overrides() -> dict:
    """Harmonic and EPC settings that agree on the DFPT (one ph.x pass)."""
    harmonic = copy.deepcopy(TINY_HARMONIC_OVERRIDES)
    harmonic["degauss_ry"] = TINY_EPC_OVERRIDES["degauss_ry"]
    return {"harmonic": harmonic, "epc": copy.deepcopy(TINY_EPC_OVERRIDES)}


def test_helpers():
    from ase.build import bulk

    from aiida_clathrate.structures import clathrate

    assert supercell_kpoints_mesh([8, 8, 8], [2, 2, 2]) == [4, 4, 4]
    assert supercell_kpoints_mesh([3, 3, 3], [2, 2, 2]) == [2, 2, 2]
    assert guest_metals(orm.StructureData(ase=clathrate("K", "Rb"))) == ["K", "Rb"]
    assert guest_metals(orm.StructureData(ase=bulk("Al", "fcc", a=4.05))) == ["Al"]


def test_builder_checks(aiida_profile, qe_codes, aluminium):
    with pytest.raises(ValueError, match="sscha_engine"):
        ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            qe_codes, aluminium, "fast", sscha_engine="quantum"
        )
    with pytest.raises(ValueError, match="codes needs `sscha`"):
        ClathrateSuperconductorWorkChain.get_builder_from_protocol(qe_codes, aluminium, "fast")
    with pytest.raises(ValueError, match="unknown override"):
        ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            qe_codes, aluminium, "fast", overrides={"phonons": {}}, run_sscha=False
        )
    # With the SSCHA: DFT engine inputs on the supercell's k-mesh (fast: 2x2x2 k, q at Gamma).
    codes = {**qe_codes, "sscha": "clathrate-sscha@localhost"}
    builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        codes, aluminium, "fast", metals=("Al",)
    )
    assert builder.sscha.engine.value == "dft"
    assert builder.sscha.dft.kpoints.get_kpoints_mesh()[0] == [2, 2, 2]
    assert builder.sscha.dft.pw.parameters["CONTROL"]["tprnfor"] is True
    assert builder.sscha.population_sizes.get_list() == [20, 40]
    assert builder.metal_x.value == "Al"
    # The active engine: the same DFT inputs plus the MLP codes and the committee settings.
    with pytest.raises(ValueError, match="codes\\['mlp'\\]"):
        ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            codes, aluminium, "fast", sscha_engine="active"
        )
    active = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        {**codes, "mlp": "clathrate-mlp@localhost"}, aluminium, "fast", sscha_engine="active"
    )
    assert active.sscha.engine.value == "active"
    assert active.sscha.train.code.label == active.sscha.mlp.code.label == "clathrate-mlp"
    assert active.sscha.committee_size.value == 4
    assert active.sscha.spread_threshold_factor.value == pytest.approx(3.0)
    assert "spread_threshold_ev_per_angstrom" not in active.sscha
    tuned = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        {**codes, "mlp": "clathrate-mlp@localhost"},
        aluminium,
        "fast",
        sscha_engine="active",
        overrides={
            "sscha": {
                "spread_threshold_ev_per_angstrom": 0.2,
                "max_validation_force_rmse_mev_per_angstrom": 80.0,
            }
        },
    )
    assert tuned.sscha.spread_threshold_ev_per_angstrom.value == pytest.approx(0.2)
    assert tuned.sscha.max_validation_force_rmse_mev_per_angstrom.value == pytest.approx(80.0)
    assert active.sscha.dft.kpoints.get_kpoints_mesh()[0] == [2, 2, 2]


def _compound_al(qe_codes, one_pass: bool):
    from ase.build import bulk

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        qe_codes,
        structure,
        "fast",
        overrides=_tiny_overrides(),
        run_sscha=False,
        mustar=MUSTAR,
        one_pass=one_pass,
    )
    _, node = run_get_node(builder)
    return node


@pytest.fixture(scope="module")
def compound_al(aiida_profile, qe_codes):
    """One full run (harmonic -> EPC -> Eliashberg -> tags) shared by the tests below."""
    return _compound_al(qe_codes, one_pass=True)


PH_PROCESS_TYPE = "aiida.calculations:quantumespresso.ph"


def _ph_runs(node) -> list:
    return [n for n in node.called_descendants if n.process_type == PH_PROCESS_TYPE]


@pytest.mark.qe
def test_one_ph_pass_gives_the_two_pass_result(compound_al, qe_codes):
    """Phonons and gamma matrices from the same ph.x runs: the q-point list and one job per
    irreducible q-point (3 on the 2x2x2 mesh) once, against twice with ``one_pass=False``; the
    same frequencies, lambda and Tc."""
    two_pass = _compound_al(qe_codes, one_pass=False)
    assert compound_al.is_finished_ok and two_pass.is_finished_ok, two_pass.exit_message
    assert "one ph.x pass" in compound_al.description
    assert "two ph.x passes" in two_pass.description
    assert len(_ph_runs(compound_al)) == 1 + 3
    assert len(_ph_runs(two_pass)) == 2 * (1 + 3)
    assert "elph_folder" in compound_al.outputs.harmonic
    assert "elph_folder" not in two_pass.outputs.harmonic
    one, two = compound_al.outputs.summary.get_dict(), two_pass.outputs.summary.get_dict()
    print("one pass:", one)
    print("two passes:", two)
    for key in ("harmonic_min_frequency_cm1", "lambda_harmonic", "omega_log_harmonic_mev"):
        assert one[key] == pytest.approx(two[key], rel=1e-4), key
    np.testing.assert_allclose(one["tc_harmonic_kelvin"], two["tc_harmonic_kelvin"], rtol=1e-4)


@pytest.mark.qe
def test_compound_finishes_with_tc(compound_al):
    node = compound_al
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    summary = node.outputs.summary.get_dict()
    print("compound summary:", summary)
    assert summary["harmonic_stable"] is True
    assert summary["sscha_category"] is None
    assert "tc_anharmonic_kelvin" not in summary and "sscha" not in node.outputs
    tcs = summary["tc_harmonic_kelvin"]
    assert len(tcs) == len(MUSTAR)
    assert all(np.isfinite(tc) and tc > 0 for tc in tcs)
    assert tcs == sorted(tcs, reverse=True)
    # lambda and Tc are the EPC work chain's own numbers
    epc = node.outputs.epc_harmonic
    assert summary["lambda_harmonic"] == epc.epc_summary["lambda"]
    assert 0.05 < summary["lambda_harmonic"] < 2.0
    assert summary["lambda_from_a2f_harmonic"] == pytest.approx(epc.eliashberg["lambda"], rel=1e-12)
    # QE's lambda against the integral of the written alpha^2F (0.6 % apart in test_epc_qe.py on
    # the unrelaxed cell; the broadening chosen on the relaxed cell may differ)
    assert summary["lambda_from_a2f_harmonic"] == pytest.approx(
        summary["lambda_harmonic"], rel=0.10
    )
    assert tcs == epc.eliashberg["tc_eliashberg_kelvin"]
    assert 5 < summary["omega_log_harmonic_mev"] < 50
    assert summary["dos_ef_harmonic_states_per_ev_spin"] > 0
    # geometry from the harmonic relaxation: fcc Al near 4.05 Å (cube root of the primitive cell)
    a_conventional = summary["lattice_parameter_angstrom"] * 4 ** (1 / 3)
    assert 3.9 < a_conventional < 4.2
    # the EPC ran on the harmonic work chain's relaxed structure
    relaxed = node.outputs.harmonic.relaxed_structure
    epc_node = node.base.links.get_outgoing(link_label_filter="epc_harmonic").one().node
    assert epc_node.inputs.structure.uuid == relaxed.uuid


@pytest.mark.qe
def test_compound_is_tagged_and_found(compound_al):
    from aiida_clathrate.query import COMPOUNDS_GROUP, STABLE_GROUP, query_compounds

    node = compound_al
    extras = node.base.extras.all
    summary = node.outputs.summary.get_dict()
    assert extras["clathrate_pair"] == ["Al"]
    assert extras["formula"] == "Al"
    assert extras["stable"] is True and extras["stability_category"] == "stable"
    assert extras["stability_source"] == "harmonic"
    assert extras["tc_harmonic_kelvin"] == summary["tc_harmonic_kelvin"]
    assert extras["lambda_harmonic"] == summary["lambda_harmonic"]
    assert extras["lambda_harmonic_tc"] == summary["lambda_from_a2f_harmonic"]
    assert extras["tc_harmonic_kelvin_mustar_010"] == summary["tc_harmonic_kelvin"][0]
    for label in (COMPOUNDS_GROUP, STABLE_GROUP):
        group = orm.load_group(label)
        assert node.uuid in {n.uuid for n in group.nodes}
    rows = query_compounds(stable=True, tc_min_kelvin=0.0, branch="harmonic", pressure_gpa=0.0)
    assert node.pk in [row["pk"] for row in rows]
    row = next(row for row in rows if row["pk"] == node.pk)
    assert row["tc_kelvin"] == max(summary["tc_harmonic_kelvin"])
    too_high = max(summary["tc_harmonic_kelvin"]) + 1.0
    assert node.pk not in [
        r["pk"] for r in query_compounds(tc_min_kelvin=too_high, branch="harmonic")
    ]


@pytest.mark.qe
def test_compound_report_names_each_step(compound_al):
    from aiida.cmdline.utils.common import get_workchain_report

    report = get_workchain_report(compound_al, "REPORT")
    for text in ("step 1/4 harmonic", "step 2/4 SSCHA: skipped", "step 3/4 harmonic EPC", "tagged"):
        assert text in report, text
    summary = compound_al.outputs.summary.get_dict()
    assert (
        f"harmonic: Tc from the lambda of the alpha^2F given to the solver, "
        f"{summary['lambda_from_a2f_harmonic']:.4f}; Quantum ESPRESSO's lambda "
        f"{summary['lambda_harmonic']:.4f}" in report
    )


@pytest.mark.qe
def test_show_prints_the_compound_summary(compound_al):
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    result = CliRunner().invoke(cmd_root, ["show", str(compound_al.pk)])
    assert result.exit_code == 0, result.output
    summary = compound_al.outputs.summary.get_dict()
    assert "ClathrateSuperconductorWorkChain" in result.output
    assert f"{summary['lambda_harmonic']:.4f}" in result.output
    assert f"{summary['tc_harmonic_kelvin'][0]:.2f}" in result.output
    # the lambda behind Tc (alpha^2F given to the solver) beside QE's, with the difference named
    line = next(row for row in result.output.splitlines() if row.startswith("lambda_harmonic_tc"))
    assert f"{summary['lambda_from_a2f_harmonic']:.4f}" in line
    assert "the lambda behind Tc" in result.output


@pytest.mark.qe
def test_compound_archive_round_trip_is_exact(compound_al, tmp_path):
    """`aiida-clathrate export` of the compound and a group holding it, imported into a fresh
    profile: the same nodes (UUIDs), attributes, extras, repository files, links and group."""
    from archive_roundtrip import import_snapshot, snapshot
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    archive = tmp_path / "compound.aiida"
    # a group of its own: the session's clathrate/compounds also holds other tests' nodes, some
    # of them unsealed (aiida refuses to export those)
    group, _ = orm.Group.collection.get_or_create("roundtrip/compound")
    group.add_nodes(compound_al)
    arguments = ["export", str(compound_al.pk), "-o", str(archive), "-g", group.label]
    result = CliRunner().invoke(cmd_root, arguments)
    assert result.exit_code == 0, result.output
    imported = import_snapshot(archive, tmp_path / "fresh")
    provenance = {compound_al.uuid, *(n.uuid for n in compound_al.called_descendants)}
    assert provenance <= set(imported["nodes"])
    assert len(imported["nodes"]) > 50  # the DFPT's q-point jobs, their inputs and outputs
    original = snapshot(imported["nodes"])
    assert set(original["nodes"]) == set(imported["nodes"])
    for uuid, record in original["nodes"].items():
        assert imported["nodes"][uuid] == record, (uuid, record["node_type"])
    assert imported["links"] == original["links"]
    # only the exported group comes along (not the pseudopotential family, not clathrate/stable)
    assert imported["groups"] == {group.label: [compound_al.uuid]}
    assert original["groups"][group.label] == [compound_al.uuid]
