"""ClathrateSuperconductorWorkChain with the SSCHA end to end on fcc Al with real Quantum ESPRESSO
and the real SSCHA (``dft`` engine: pw.x per configuration of the 2x2x2 supercell, 8 atoms):
harmonic -> SSCHA -> harmonic EPC -> Hessian correction onto the EPC q-mesh -> anharmonic EPC
(q2r.x/matdyn.x on the given matrices with the harmonic run's gamma matrices) -> tags."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from conftest import TINY_EPC_OVERRIDES, TINY_HARMONIC_OVERRIDES

from aiida_clathrate.workflows.compound import ClathrateSuperconductorWorkChain
from aiida_clathrate.workflows.sscha import dft_runs

#: tests/test_compound_qe.py's tiny harmonic and EPC settings: q 2x2x2 for both, so the SSCHA
#: supercell is 2x2x2 (8 atoms, k 2x2x2 = the harmonic 4x4x4 divided by the q-mesh).
#: The harmonic scf (and so the SSCHA's pw.x, which takes its cutoffs) at 20/80 Ry instead of the
#: fast protocol's 30/120 Ry: the eight supercell pw.x runs dominate the cost. The EPC keeps 30/120.
TINY_HARMONIC = {
    **TINY_HARMONIC_OVERRIDES,
    "scf": {"pw": {"parameters": {"SYSTEM": {"ecutwfc": 20.0, "ecutrho": 80.0}}}},
}
#: Small populations; a large meaningful_factor so that python-sscha calls the first population
#: converged (the Hessian, the verdict and the anharmonic branch then run).
TINY_SSCHA = {
    "population_sizes": [8, 16],
    "max_populations": 2,
    "seed": 1,
    "max_concurrent_dft": 8,
    "minimizer_settings": {"meaningful_factor": 100.0},
}
MUSTAR = [0.10, 0.13, 0.15]
PH_PROCESS_TYPE = "aiida.calculations:quantumespresso.ph"


def _overrides(epc_qpoints=None) -> dict:
    epc = copy.deepcopy(TINY_EPC_OVERRIDES)
    if epc_qpoints is not None:
        epc.update(
            qpoints_mesh=epc_qpoints,
            kpoints_mesh=[2 * n for n in epc_qpoints],
            dense_kpoints_mesh=[4 * n for n in epc_qpoints],
        )
    return {
        "harmonic": copy.deepcopy(TINY_HARMONIC),
        "epc": epc,
        "sscha": copy.deepcopy(TINY_SSCHA),
    }


def _codes(qe_codes) -> dict[str, str]:
    return {**qe_codes, "sscha": "clathrate-sscha@localhost"}


def test_epc_qmesh_must_be_a_multiple_of_the_sscha_qmesh(aiida_profile, qe_codes, aluminium):
    codes = _codes(qe_codes)
    with pytest.raises(ValueError, match=r"q-mesh \[3, 3, 3\].*not a multiple.*\[2, 2, 2\]"):
        ClathrateSuperconductorWorkChain.get_builder_from_protocol(
            codes, aluminium, "fast", overrides=_overrides([3, 3, 3])
        )
    # The spec validator refuses the same before anything runs (e.g. a builder edited by hand).
    builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        codes, aluminium, "fast", overrides=_overrides([4, 4, 4])
    )
    assert builder.sscha.minimizer_settings.get_dict()["meaningful_factor"] == 100.0
    # the SSCHA's pw.x takes the harmonic scf's cutoffs and smearing, the supercell's k-mesh
    harmonic_system = builder.harmonic.dfpt.scf.pw.parameters.get_dict()["SYSTEM"]
    sscha_system = builder.sscha.dft.pw.parameters.get_dict()["SYSTEM"]
    for key in ("ecutwfc", "ecutrho", "smearing", "degauss"):
        assert sscha_system[key] == harmonic_system[key], key
    assert sscha_system["ecutwfc"] == 20.0
    assert builder.sscha.dft.kpoints.get_kpoints_mesh()[0] == [2, 2, 2]
    qpoints = orm.KpointsData()
    qpoints.set_kpoints_mesh([3, 3, 3])
    builder.epc.dfpt.ph.qpoints = qpoints
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match="not a multiple of the SSCHA q-mesh"):
        run_get_node(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before


@pytest.fixture(scope="module")
def compound_sscha_al(aiida_profile, clathrate_setup, qe_codes):
    """One full run with the SSCHA, shared by the tests below (wall times printed). The
    structure is not relaxed (``relax=False``): the vc-relax is tested in test_compound_qe.py."""
    from ase.build import bulk

    structure = orm.StructureData(ase=bulk("Al", "fcc", a=4.05))
    builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        _codes(qe_codes),
        structure,
        "fast",
        overrides=_overrides(),
        run_sscha=True,
        sscha_engine="dft",
        mustar=MUSTAR,
        relax=False,
    )
    start = time.perf_counter()
    _, node = run_get_node(builder)
    print(f"compound with SSCHA: {time.perf_counter() - start:.1f} s wall")
    _print_step_times(node)
    _print_step_times(node.base.links.get_outgoing(link_label_filter="sscha").one().node, "sscha/")
    return node


def _print_step_times(node, prefix: str = "") -> None:
    """Wall time of each process ``node`` called (and pw.x's own wall time where there is one)."""
    for link in sorted(node.base.links.get_outgoing().all(), key=lambda x: x.node.ctime):
        called = link.node
        if not isinstance(called, orm.ProcessNode):
            continue
        seconds = (called.mtime - called.ctime).total_seconds()
        code = ""
        if "output_parameters" in called.outputs:
            wall = called.outputs.output_parameters.get("wall_time_seconds")
            code = "" if wall is None else f" (pw.x {wall:.1f} s)"
        print(f"  {prefix}{link.link_label} ({called.process_label}): {seconds:.1f} s{code}")


def _signed_squares_per_q(matrices) -> dict[tuple, np.ndarray]:
    """omega*|omega| (cm^-2) per q-point (crystal coordinates folded into [0, 1))."""
    from aiida_clathrate.data.dynamical_matrices import to_phonons
    from aiida_clathrate.sscha.interpolation import frequencies_per_qpoint_cm1

    qpoints, frequencies = frequencies_per_qpoint_cm1(to_phonons(matrices))
    folded = [tuple(np.round(np.mod(q, 1.0), 6) % 1.0) for q in qpoints]
    return {q: w * np.abs(w) for q, w in zip(folded, frequencies, strict=True)}


def _called(node, label):
    return node.base.links.get_outgoing(link_label_filter=label).one().node


@pytest.mark.qe
@pytest.mark.slow
def test_sscha_converged_and_anharmonic_branch_ran(compound_sscha_al):
    node = compound_sscha_al
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    summary = node.outputs.summary.get_dict()
    print("compound summary:", summary)
    # both branches at the same Fermi-surface broadening (the harmonic branch's plateau choice)
    harmonic_epc = node.outputs.epc_harmonic.epc_summary.get_dict()
    anharmonic_epc = node.outputs.epc_anharmonic.epc_summary.get_dict()
    assert anharmonic_epc["broadening_given"] and not harmonic_epc["broadening_given"]
    assert anharmonic_epc["chosen_index"] == harmonic_epc["chosen_index"]
    # the SSCHA: real pw.x per configuration of the 8-atom supercell, converged, stable
    sscha = _called(node, "sscha")
    assert sscha.is_finished_ok and node.outputs.sscha.converged.value is True
    table = node.outputs.sscha.populations
    print(
        "populations:",
        table.get_array("n_configurations").tolist(),
        "DFT",
        table.get_array("n_dft").tolist(),
        "lowest",
        table.get_array("lowest_frequency_cm1").tolist(),
    )
    assert table.get_array("n_dft")[0] == TINY_SSCHA["population_sizes"][0]
    pw_runs = list(dft_runs(sscha).values())
    assert len(pw_runs) == int(table.get_array("n_dft").sum())
    assert all(len(n.inputs.pw.structure.sites) == 8 for n in pw_runs)
    assert summary["sscha_category"] == "stable"
    assert summary["sscha_lowest_hessian_cm1"] > 0
    # the anharmonic geometry: the SSCHA keeps the cell (no target pressure; its round trip
    # through cellconstructor's units moves the 8th digit); Al has no B-C bonds
    assert summary["sscha_lattice_parameter_angstrom"] == pytest.approx(
        summary["lattice_parameter_angstrom"], rel=1e-6
    )
    assert summary["sscha_d_long_angstrom"] is None and summary["d_long_angstrom"] is None
    # In a 2x2x2 supercell of a one-atom Bravais lattice, inversion about any atom maps every atom
    # onto itself, so the third-order force constants vanish and the Hessian is the auxiliary matrix.
    assert summary["sscha_lowest_hessian_cm1"] == pytest.approx(
        summary["sscha_lowest_auxiliary_cm1"], rel=1e-9
    )
    assert node.outputs.sscha.hessian_dynamical_matrices.base.attributes.get("qpoints_mesh") == [
        2,
        2,
        2,
    ]

    # the Hessian correction, onto the EPC q-mesh, from exactly these three matrices
    epc_harmonic = _called(node, "epc_harmonic")
    interpolation = _called(node, "anharmonic_on_epc_grid")
    assert interpolation.process_label == "anharmonic_on_fine_grid"
    assert interpolation.is_finished_ok
    inputs = {
        label: interpolation.base.links.get_incoming(link_label_filter=label).one().node.uuid
        for label in ("anharmonic", "harmonic_coarse", "harmonic_fine")
    }
    assert inputs == {
        "anharmonic": node.outputs.sscha.hessian_dynamical_matrices.uuid,
        "harmonic_coarse": node.outputs.harmonic.dynamical_matrices.uuid,
        "harmonic_fine": epc_harmonic.outputs.dynamical_matrices.uuid,
    }
    given = node.outputs.anharmonic_dynamical_matrices
    assert given.creator.uuid == interpolation.uuid
    assert given.base.attributes.get("qpoints_mesh") == TINY_EPC_OVERRIDES["qpoints_mesh"]
    frequencies = node.outputs.anharmonic_frequencies_cm1.get_array("frequencies_cm1")
    assert frequencies.shape == (8, 3)  # every q-point of the 2x2x2 grid, 3 modes
    assert summary["anharmonic_lowest_frequency_cm1"] > 0
    # Same grid here (2x2x2 both), so at every q: EPC matrices + (Hessian - harmonic). In fcc Al
    # the eigenvectors at Gamma, X and L are fixed by symmetry, so omega^2 adds mode by mode.
    squared = {
        name: _signed_squares_per_q(matrices)
        for name, matrices in (
            ("result", given),
            ("epc", epc_harmonic.outputs.dynamical_matrices),
            ("hessian", node.outputs.sscha.hessian_dynamical_matrices),
            ("harmonic", node.outputs.harmonic.dynamical_matrices),
        )
    }
    assert sorted(squared["result"]) == sorted(squared["epc"])
    for q, result in squared["result"].items():
        expected = squared["epc"][q] + squared["hessian"][q] - squared["harmonic"][q]
        np.testing.assert_allclose(result, expected, rtol=1e-4, atol=0.5)
    print(
        "lowest anharmonic frequency on the EPC grid:", summary["anharmonic_lowest_frequency_cm1"]
    )

    # the anharmonic EPC: given-matrices branch on the harmonic EPC's gamma matrices, no ph.x
    epc_anharmonic = _called(node, "epc_anharmonic")
    assert epc_anharmonic.inputs.dynamical_matrices.uuid == given.uuid
    assert epc_anharmonic.inputs.parent_elph_folder.uuid == epc_harmonic.outputs.elph_folder.uuid
    assert not [n for n in epc_anharmonic.called_descendants if n.process_type == PH_PROCESS_TYPE]
    ph_runs = [n for n in node.called_descendants if n.process_type == PH_PROCESS_TYPE]
    # two passes (the harmonic and EPC protocols differ in degauss here), each the q-point list
    # and one job per irreducible q-point of the 2x2x2 mesh
    assert len(ph_runs) == 2 * (1 + 3)
    dfpt = _called(epc_anharmonic, "dfpt")
    assert {"q2r", "matdyn_dos", "matdyn_bands"} <= {
        link.link_label for link in dfpt.base.links.get_outgoing().all()
    }


@pytest.mark.qe
@pytest.mark.slow
def test_both_branches_give_lambda_and_tc(compound_sscha_al):
    node = compound_sscha_al
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    summary = node.outputs.summary.get_dict()
    for branch in ("harmonic", "anharmonic"):
        epc = node.outputs[f"epc_{branch}"]
        lam, lam_a2f = summary[f"lambda_{branch}"], summary[f"lambda_from_a2f_{branch}"]
        tcs = summary[f"tc_{branch}_kelvin"]
        print(
            f"{branch}: lambda {lam:.4f} (QE) / {lam_a2f:.4f} (alpha^2F), omega_log "
            f"{summary[f'omega_log_{branch}_mev']:.2f} meV, Tc {tcs}"
        )
        assert lam == epc.epc_summary["lambda"]
        assert np.isfinite(lam) and lam > 0
        assert lam_a2f == pytest.approx(lam, rel=0.10)
        assert np.isfinite(summary[f"omega_log_{branch}_mev"])
        assert summary[f"omega_log_{branch}_mev"] > 0
        assert len(tcs) == len(MUSTAR) and all(np.isfinite(tc) and tc > 0 for tc in tcs)
        assert tcs == epc.eliashberg["tc_eliashberg_kelvin"]
    assert "ph.x" in summary["anharmonic_method"] and "anharmonic_caveat" not in summary


@pytest.mark.qe
@pytest.mark.slow
def test_extras_report_and_show(compound_sscha_al):
    from aiida.cmdline.utils.common import get_workchain_report
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root
    from aiida_clathrate.query import mustar_key

    node = compound_sscha_al
    summary = node.outputs.summary.get_dict()
    extras = node.base.extras.all
    assert extras["stability_source"] == "sscha" and extras["stability_category"] == "stable"
    assert extras["tc_anharmonic_kelvin"] == summary["tc_anharmonic_kelvin"]
    assert extras["lambda_anharmonic"] == summary["lambda_anharmonic"]
    assert extras["sscha_lattice_parameter_angstrom"] == summary["sscha_lattice_parameter_angstrom"]
    assert "sscha_d_long_angstrom" not in extras
    for mustar, tc in zip(MUSTAR, summary["tc_anharmonic_kelvin"], strict=True):
        assert extras[mustar_key("anharmonic", mustar)] == tc
    report = get_workchain_report(node, "REPORT")
    for text in (
        "step 2/4 SSCHA: launched",
        "interpolated onto the electron-phonon q-mesh 2x2x2",
        "SSCHA centroids: lattice_parameter",
    ):
        assert text in report, text
    assert "trans=.false." not in report and "caveat" not in report
    result = CliRunner().invoke(cmd_root, ["show", str(node.pk)])
    assert result.exit_code == 0, result.output
    assert f"{summary['lambda_anharmonic']:.4f}" in result.output
    assert f"{summary['anharmonic_lowest_frequency_cm1']:.4f}" in result.output
    assert "anharmonic_method" in result.output


@pytest.mark.qe
@pytest.mark.slow
def test_elph_outputs_of_the_harmonic_run(compound_sscha_al):
    """The fallback used when the harmonic EPC (run only for the anharmonic branch) fails after
    its DFPT: the same folder and the same matrices as the finished run's outputs."""
    from aiida_clathrate.workflows.compound import elph_outputs

    epc = _called(compound_sscha_al, "epc_harmonic")
    outputs = elph_outputs(epc)
    assert outputs["elph_folder"].uuid == epc.outputs.elph_folder.uuid
    expected = epc.outputs.dynamical_matrices
    assert outputs["dynamical_matrices"].base.attributes.all == expected.base.attributes.all
    for name in expected.base.repository.list_object_names():
        assert outputs["dynamical_matrices"].base.repository.get_object_content(
            name
        ) == expected.base.repository.get_object_content(name)


@pytest.mark.qe
@pytest.mark.slow
def test_plot_dispersion_with_linewidths(compound_sscha_al, tmp_path):
    """Fig. 2 from the real run: both EPC branches carry linewidths on the band path, and
    ``aiida-clathrate plot`` draws them (harmonic dashed, anharmonic red)."""
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    node = compound_sscha_al
    tables = {}
    for branch in ("harmonic", "anharmonic"):
        outputs = node.outputs[f"epc_{branch}"]
        bands, table = outputs["phonon_bands"], outputs["phonon_linewidths"]
        widths = table.get_array("linewidths_ghz")
        assert widths.shape == (len(bands.get_kpoints()), 3) and widths.min() >= 0.0
        tables[branch] = table
        dfpt = _called(_called(node, f"epc_{branch}"), "dfpt")
        steps = {
            label: (_called(dfpt, label).mtime - _called(dfpt, label).ctime).total_seconds()
            for label in ("matdyn_dos", "matdyn_bands")
        }
        print(
            f"{branch}: linewidths {widths.min():.3f}..{widths.max():.3f} GHz at "
            f"{table.base.attributes.get('broadening_ry')} Ry, lambda_qnu max "
            f"{table.get_array('lambda_qnu').max():.3f}; matdyn DOS {steps['matdyn_dos']:.1f} s, "
            f"band path {steps['matdyn_bands']:.1f} s (concurrent)"
        )
    # One atom per cell: the linewidths summed over the modes (the trace of the gamma matrix) do
    # not depend on the phonons, so both branches agree where they chose the same broadening.
    harmonic, anharmonic = tables["harmonic"], tables["anharmonic"]
    if harmonic.base.attributes.get("chosen_index") == anharmonic.base.attributes.get(
        "chosen_index"
    ):
        np.testing.assert_allclose(
            anharmonic.get_array("linewidths_ghz").sum(1),
            harmonic.get_array("linewidths_ghz").sum(1),
            rtol=1e-3,
            atol=1e-3,
        )
    result = CliRunner().invoke(cmd_root, ["plot", str(node.pk), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = tmp_path / f"dispersion_linewidths_{node.pk}.png"
    assert result.output.split() == [str(path)]
    assert path.stat().st_size > 20_000
    print("figure:", path)


@pytest.mark.qe
@pytest.mark.slow
def test_one_pass_runs_the_harmonic_epc_beside_the_sscha(aiida_profile, clathrate_setup, qe_codes):
    """With one ph.x pass the harmonic EPC needs nothing from the SSCHA: it is launched with it and
    its jobs run while the SSCHA's pw.x run; the anharmonic branch still follows both."""
    from ase.build import bulk

    overrides = _overrides()
    overrides["harmonic"]["degauss_ry"] = overrides["epc"]["degauss_ry"]
    overrides["epc"]["scf"] = copy.deepcopy(overrides["harmonic"]["scf"])
    builder = ClathrateSuperconductorWorkChain.get_builder_from_protocol(
        _codes(qe_codes),
        orm.StructureData(ase=bulk("Al", "fcc", a=4.05)),
        "fast",
        overrides=overrides,
        run_sscha=True,
        sscha_engine="dft",
        mustar=MUSTAR,
        relax=False,
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, (node.exit_status, node.exit_message)
    assert "one ph.x pass" in node.description
    sscha, epc_harmonic = _called(node, "sscha"), _called(node, "epc_harmonic")
    epc_jobs = [n for n in epc_harmonic.called_descendants if isinstance(n, orm.CalcJobNode)]
    sscha_pw = [
        n
        for n in sscha.called_descendants
        if n.process_type == "aiida.calculations:quantumespresso.pw"
    ]
    assert epc_jobs and sscha_pw
    # launched in the same step as the SSCHA, its first job before the SSCHA's last pw.x ended
    assert abs((epc_harmonic.ctime - sscha.ctime).total_seconds()) < 5.0
    assert min(n.ctime for n in epc_jobs) < max(n.mtime for n in sscha_pw)
    report = get_workchain_report_text(node)
    assert "step 3/4 harmonic EPC: launched" in report and "beside the SSCHA" in report
    # the anharmonic branch after both: the harmonic run's gamma matrices, the harmonic EPC's
    # broadening
    epc_anharmonic = _called(node, "epc_anharmonic")
    assert epc_anharmonic.ctime > max(sscha.mtime, epc_harmonic.mtime)
    assert epc_anharmonic.inputs.parent_elph_folder.uuid == node.outputs.harmonic.elph_folder.uuid
    summary = node.outputs.summary.get_dict()
    print("one pass with the SSCHA:", summary)
    for branch in ("harmonic", "anharmonic"):
        assert summary[f"lambda_{branch}"] > 0
        assert all(np.isfinite(tc) and tc > 0 for tc in summary[f"tc_{branch}_kelvin"])
    assert len([n for n in node.called_descendants if n.process_type == PH_PROCESS_TYPE]) == 1 + 3


def get_workchain_report_text(node) -> str:
    from aiida.cmdline.utils.common import get_workchain_report

    return get_workchain_report(node, "REPORT")


@pytest.mark.qe
@pytest.mark.slow
def test_tc_with_its_uncertainty(compound_sscha_al):
    """Tc ± spread per branch: the middle mu*'s Tc, half the mu* range, the broadening plateau
    and, for the anharmonic branch, the bootstrap of the last SSCHA population (8 resamples in
    the fast protocol)."""
    from click.testing import CliRunner

    from aiida_clathrate.cli import cmd_root

    node = compound_sscha_al
    summary = node.outputs.summary.get_dict()
    sscha = _called(node, "sscha")
    # the lowest auxiliary frequency per q-point of the SSCHA grid, per population
    table = sscha.outputs.populations
    per_q = table.get_array("lowest_frequency_per_qpoint_cm1")
    mesh = sscha.outputs.dynamical_matrices.base.attributes.get("qpoints_mesh")
    assert per_q.shape == (len(table.get_array("population")), int(np.prod(mesh)))
    np.testing.assert_allclose(
        np.nanmin(per_q, axis=1), table.get_array("lowest_frequency_cm1"), rtol=1e-4
    )
    bootstrap = sscha.outputs.hessian_frequencies_cm1.get_array("bootstrap_frequencies_cm1")
    assert bootstrap.shape[0] == sscha.inputs.hessian_bootstrap_samples.value == 8  # fast
    for branch in ("harmonic", "anharmonic"):
        tcs = summary[f"tc_{branch}_kelvin"]
        components = summary[f"tc_{branch}_uncertainty"]
        assert components["mustar"] == MUSTAR[1]
        assert summary[f"tc_{branch}_central_kelvin"] == tcs[1]
        assert components["mustar_kelvin"] == pytest.approx((max(tcs) - min(tcs)) / 2)
        calc = _called(node, f"tc_uncertainty_{branch}")
        result = calc.outputs.result.get_dict()
        chosen = node.outputs[f"epc_{branch}"].epc_summary["chosen_index"]
        assert result["plateau_broadening_indices"][0] == chosen
        assert len(result["plateau_tc_kelvin"]) == len(result["plateau_broadening_indices"]) >= 2
        assert components["broadening_kelvin"] == pytest.approx(
            (max(result["plateau_tc_kelvin"]) - min(result["plateau_tc_kelvin"])) / 2
        )
        expected = [components["mustar_kelvin"], components["broadening_kelvin"]]
        if branch == "anharmonic":
            samples = result["bootstrap_tc_kelvin"]
            assert len(samples) + result["bootstrap_unstable"] == 8
            assert components["sscha_kelvin"] == pytest.approx(np.std(samples, ddof=1))
            expected.append(components["sscha_kelvin"])
            assert "hessian_frequencies" in calc.inputs
        else:
            assert components["sscha_kelvin"] is None and "hessian_frequencies" not in calc.inputs
        assert summary[f"tc_{branch}_uncertainty_kelvin"] == pytest.approx(
            np.sqrt(np.sum(np.square(expected)))
        )
        assert node.base.extras.get(f"tc_{branch}_uncertainty_kelvin") == pytest.approx(
            summary[f"tc_{branch}_uncertainty_kelvin"]
        )
        print(f"{branch}: {calc.outputs.result.get_dict()['tc_kelvin']:.2f} K, {components}")
    output = CliRunner().invoke(cmd_root, ["show", str(node.pk)]).output
    assert f"{summary['tc_anharmonic_central_kelvin']:.1f} ± " in output
