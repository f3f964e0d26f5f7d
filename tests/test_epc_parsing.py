"""Parsing of matdyn.x a2F.dosN / lambda files into nodes, the broadening rule, and builder checks."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
from aiida import orm

from aiida_clathrate.calculations.eliashberg import xydata_to_alpha2f
from aiida_clathrate.calculations.epc_functions import (
    choose_broadening,
    parse_epc_outputs,
    read_epc_folder,
)
from aiida_clathrate.eliashberg import read_qe_a2f_dos
from aiida_clathrate.workflows.epc import ElectronPhononWorkChain, validate_meshes

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eliashberg_al_qe67"
#: QE's lambda per broadening in the example 'lambda' file (0.005 ... 0.050 Ry).
EXAMPLE_LAMBDAS = [0.0133, 0.1967, 0.3031, 0.3260, 0.3253, 0.3186, 0.3115, 0.3061, 0.3022, 0.2990]


def test_rule_picks_start_of_plateau():
    # 0.3031 -> 0.3260 changes by 7 %; 0.3260 -> 0.3253 by 0.2 %: broadening 4 (index 3).
    assert choose_broadening(EXAMPLE_LAMBDAS) == (3, True)
    assert choose_broadening(EXAMPLE_LAMBDAS, tolerance=0.08) == (2, True)


def test_rule_ignores_vanishing_lambda_and_falls_back():
    # two tiny equal values at small broadening are not a plateau (lambda must be positive).
    assert choose_broadening([0.0, 0.0, 0.5, 0.51]) == (2, True)
    index, plateau = choose_broadening([0.1, 0.3, 0.5, 0.58])
    assert (index, plateau) == (2, False)  # smallest change 0.5 -> 0.58, flagged


@pytest.mark.parametrize(
    "values, tolerance",
    [([0.3], 0.05), ([0.3, float("nan")], 0.05), ([0.3, 0.3], 0.0), ([0.0, 0.0], 0.05)],
)
def test_rule_rejects_bad_input(values, tolerance):
    with pytest.raises(ValueError):
        choose_broadening(values, tolerance)


def test_read_folder_rows_and_units():
    spectra, summary = read_epc_folder(EXAMPLE, tolerance=0.08)
    assert sorted(spectra) == [3, 10]
    rows = summary["broadenings"]
    assert [row["lambda_qe"] for row in rows] == EXAMPLE_LAMBDAS
    assert summary["chosen_index"] == 3 and summary["chosen_label"] == "broadening_03"
    assert summary["lambda"] == pytest.approx(0.3031)
    # lambda = 2 int a2F/omega of the written a2F.dos3 agrees with QE's footer and its q-sum.
    assert summary["lambda_from_a2f"] == pytest.approx(rows[2]["lambda_qe_a2f_footer"], rel=1e-4)
    assert summary["lambda_from_a2f"] == pytest.approx(summary["lambda"], rel=0.01)
    # N(Ef): 2.0881 states/Ry/spin = 0.15347 states/eV/spin.
    assert summary["dos_ef_states_per_ev_spin"] == pytest.approx(2.0881 / 13.605693, rel=1e-6)
    assert summary["omega_log_kelvin"] == pytest.approx(325.3161)
    assert summary["omega_log_kelvin_from_a2f"] == pytest.approx(325.3161, rel=0.01)
    assert rows[0]["has_alpha2f"] is False and "lambda_from_a2f" not in rows[0]


def test_chosen_broadening_without_file_is_an_error():
    with pytest.raises(ValueError, match="a2F.dos4"):
        read_epc_folder(EXAMPLE)  # the 5 % rule picks broadening 4, not shipped in the example


def test_missing_files_are_errors(tmp_path):
    with pytest.raises(ValueError, match="no a2F.dosN"):
        read_epc_folder(tmp_path)
    shutil.copy(EXAMPLE / "a2F.dos3", tmp_path)
    with pytest.raises(ValueError, match="no 'lambda'"):
        read_epc_folder(tmp_path)


def _example_folder() -> orm.FolderData:
    folder = orm.FolderData()
    for name in ("a2F.dos3", "a2F.dos10", "lambda", "README.md"):
        folder.base.repository.put_object_from_file(str(EXAMPLE / name), name)
    return folder


def test_calcfunction_outputs(aiida_profile):
    results, node = parse_epc_outputs.run_get_node(_example_folder(), orm.Float(0.08))
    assert node.is_finished_ok
    assert set(results) == {"broadening_03", "broadening_10", "summary"}
    xy = results["broadening_03"]
    assert xy.get_x()[2] == "meV"
    names = [y[0] for y in xy.get_y()]
    assert names == ["alpha2F", "alpha2F_mode_1", "alpha2F_mode_2", "alpha2F_mode_3"]
    omega, a2f = xydata_to_alpha2f(xy)
    reference = read_qe_a2f_dos(EXAMPLE / "a2F.dos3")
    np.testing.assert_allclose(omega, reference.omega_mev)
    np.testing.assert_allclose(a2f, reference.a2f)
    modes = np.sum([y[1] for y in xy.get_y()[1:]], axis=0)
    np.testing.assert_allclose(modes, a2f, rtol=1e-4, atol=1e-9)  # total = sum of the modes
    assert results["summary"]["broadenings"][2]["source"] == "a2F.dos3"


def test_calcfunction_exit_code_on_empty_folder(aiida_profile):
    _, node = parse_epc_outputs.run_get_node(orm.FolderData(), orm.Float(0.05))
    assert node.exit_status == 300
    assert "a2F.dosN" in node.exit_message


def test_meshes_must_be_commensurate():
    validate_meshes([4, 4, 4], [8, 8, 8], [2, 2, 2])
    with pytest.raises(ValueError, match="dense_kpoints_mesh"):
        validate_meshes([4, 4, 4], [9, 9, 9], [2, 2, 2])
    with pytest.raises(ValueError, match="kpoints_mesh"):
        validate_meshes([3, 3, 3], [6, 6, 6], [2, 2, 2])


def test_builder_sets_the_recipe(qe_codes, aluminium):
    builder = ElectronPhononWorkChain.get_builder_from_protocol(qe_codes, aluminium, "fast")
    dfpt = builder.dfpt
    assert dfpt.scf_dense.pw.parameters["SYSTEM"]["la2f"] is True
    assert dfpt.scf_dense.kpoints.get_kpoints_mesh()[0] == [4, 4, 4]
    assert dfpt.scf.kpoints.get_kpoints_mesh()[0] == [2, 2, 2]
    assert dfpt.max_concurrent_qpoints.value == 4
    inputph = dfpt.ph.ph.parameters["INPUTPH"]
    assert inputph["electron_phonon"] == "interpolated" and inputph["fildvscf"]
    assert inputph["nmix_ph"] <= 5 and inputph["el_ph_nsigma"] == 10
    assert dfpt.q2r.q2r.parameters["INPUT"]["la2f"] is True
    assert dfpt.matdyn.matdyn.parameters["INPUT"]["la2f"] is True
    assert list(builder.mustar) == [0.10, 0.13, 0.15]
    # the linewidth run on the band path: on by default, off by override
    assert builder.compute_linewidths.value is True and dfpt.bands_npoints.value == 120
    off = ElectronPhononWorkChain.get_builder_from_protocol(
        qe_codes, aluminium, "fast", overrides={"compute_linewidths": False, "bands_npoints": 60}
    )
    assert off.compute_linewidths.value is False and off.dfpt.bands_npoints.value == 60
    stringent = ElectronPhononWorkChain.get_protocol_inputs("stringent")
    assert stringent["kpoints_mesh"] == [24, 24, 24] and stringent["qpoints_mesh"] == [6, 6, 6]


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"el_ph_nsigma": 12}, "el_ph_nsigma"),
        ({"qpoints_mesh": [2, 2, 2], "dense_kpoints_mesh": [5, 5, 5]}, "not a multiple"),
    ],
)
def test_builder_rejects_bad_settings(qe_codes, aluminium, overrides, match):
    with pytest.raises(ValueError, match=match):
        ElectronPhononWorkChain.get_builder_from_protocol(
            qe_codes, aluminium, "fast", overrides=overrides
        )


def test_spec_rejects_missing_fildvscf(qe_codes, aluminium):
    from aiida.engine import run_get_node

    builder = ElectronPhononWorkChain.get_builder_from_protocol(qe_codes, aluminium, "fast")
    parameters = builder.dfpt.ph.ph.parameters.get_dict()
    del parameters["INPUTPH"]["fildvscf"]
    builder.dfpt.ph.ph.parameters = orm.Dict(parameters)
    with pytest.raises(ValueError, match="DeltaVscf"):
        run_get_node(builder)


def _synthetic_matrices(mesh=(2, 2, 2), nqirr=2, with_dyn0=True) -> orm.FolderData:
    """A dyn-convention folder whose files only need the right names (no QE run reads them)."""
    folder = orm.FolderData()
    if with_dyn0:
        header = " ".join(f"{n:4d}" for n in mesh) + f"\n{nqirr:4d}\n"
        folder.base.repository.put_object_from_bytes(header.encode(), "dyn0")
    for index in range(1, nqirr + 1):
        folder.base.repository.put_object_from_bytes(f"matrix {index}\n".encode(), f"dyn{index}")
    folder.base.attributes.set_many({"prefix": "dyn", "nqirr": nqirr, "qpoints_mesh": list(mesh)})
    return folder


def test_given_matrices_laid_out_for_q2r(aiida_profile):
    from aiida_clathrate.calculations.epc_functions import dynamical_matrices_for_q2r

    given = _synthetic_matrices()
    laid_out = dynamical_matrices_for_q2r(given)
    names = laid_out.base.repository.list_object_names("DYN_MAT")
    assert sorted(names) == [f"dynamical-matrix-{i}" for i in range(3)]
    for i in range(3):
        assert laid_out.base.repository.get_object_content(
            f"DYN_MAT/dynamical-matrix-{i}"
        ) == given.base.repository.get_object_content(f"dyn{i}")
    # without dyn0, q2r.x's two header lines come from the attributes
    laid_out = dynamical_matrices_for_q2r(_synthetic_matrices(mesh=(3, 3, 3), with_dyn0=False))
    header = laid_out.base.repository.get_object_content("DYN_MAT/dynamical-matrix-0")
    assert header.split() == ["3", "3", "3", "2"]


def test_given_matrices_mesh_must_be_consistent(aiida_profile):
    from aiida_clathrate.calculations.epc_functions import given_matrices_qpoints_mesh

    assert given_matrices_qpoints_mesh(_synthetic_matrices()) == [2, 2, 2]
    inconsistent = _synthetic_matrices()
    inconsistent.base.attributes.set("qpoints_mesh", [4, 4, 4])
    with pytest.raises(ValueError, match=r"dyn0 says q-mesh \[2, 2, 2\]"):
        given_matrices_qpoints_mesh(inconsistent)
    wrong_count = _synthetic_matrices()
    wrong_count.base.attributes.set("nqirr", 1)
    with pytest.raises(ValueError, match="lists 2 files"):
        given_matrices_qpoints_mesh(wrong_count)


def test_spec_refuses_given_matrices_off_the_ph_mesh(qe_codes, aluminium):
    from aiida.engine import run_get_node

    builder = ElectronPhononWorkChain.get_builder_from_protocol(qe_codes, aluminium, "fast")
    builder.dynamical_matrices = _synthetic_matrices(mesh=(2, 2, 2))  # fast: q-mesh 1x1x1
    with pytest.raises(ValueError, match="go together"):
        run_get_node(builder)
    remote = _elph_folder_stub(mesh=(1, 1, 1))
    builder.parent_elph_folder = remote
    with pytest.raises(ValueError, match=r"electron-phonon q-mesh .* is \[1, 1, 1\]"):
        run_get_node(builder)


def _elph_folder_stub(mesh) -> orm.RemoteData:
    """A RemoteData made by a (stored, unrun) q2r.x node with la2F on a gathered folder."""
    from aiida.common.links import LinkType

    parent = orm.FolderData()
    parent.base.repository.put_object_from_bytes(
        (" ".join(f"{n:4d}" for n in mesh) + "\n   1\n").encode(), "DYN_MAT/dynamical-matrix-0"
    )
    parent.store()
    q2r = orm.CalcJobNode(
        computer=orm.load_computer("localhost"),
        process_type="aiida.calculations:clathrate.q2r",
    )
    q2r.base.links.add_incoming(parent, LinkType.INPUT_CALC, "parent_folder")
    q2r.base.links.add_incoming(
        orm.Dict({"INPUT": {"la2f": True}}).store(), LinkType.INPUT_CALC, "parameters"
    )
    q2r.store()
    remote = orm.RemoteData(computer=orm.load_computer("localhost"), remote_path="/tmp")
    remote.base.links.add_incoming(q2r, LinkType.CREATE, "remote_folder")
    return remote.store()


def test_spec_refuses_a_parent_folder_not_from_q2r(qe_codes, aluminium, clathrate_setup):
    from aiida.engine import run_get_node

    remote = orm.RemoteData(computer=orm.load_computer("localhost"), remote_path="/tmp").store()
    builder = ElectronPhononWorkChain.get_builder_from_protocol(
        qe_codes,
        aluminium,
        "fast",
        dynamical_matrices=_synthetic_matrices(mesh=(1, 1, 1), nqirr=1),
        parent_elph_folder=remote,
    )
    with pytest.raises(ValueError, match="is not the folder of a q2r.x run"):
        run_get_node(builder)


def test_negative_alpha2f_is_clipped_and_its_lambda_reported(tmp_path):
    """matdyn.x on a Γ-only q-mesh writes negative alpha^2F (negative interpolated linewidths):
    the spectrum handed on is clipped at zero and the lambda removed is recorded (<= 0)."""
    from aiida_clathrate.calculations.epc_functions import clip_negative_alpha2f

    spectrum = read_qe_a2f_dos(EXAMPLE / "a2F.dos3")
    assert np.all(spectrum.a2f >= 0)
    unchanged, removed = clip_negative_alpha2f(spectrum)
    assert removed == 0.0 and unchanged is spectrum
    shifted = spectrum.a2f - 0.5 * spectrum.a2f.max() * (spectrum.omega_mev < 10.0)
    broken = type(spectrum)(**{**spectrum.__dict__, "a2f": shifted})
    clipped, removed = clip_negative_alpha2f(broken)
    above = spectrum.omega_mev >= 10.0
    assert np.all(clipped.a2f >= 0) and np.allclose(clipped.a2f[above], spectrum.a2f[above])
    negative = np.minimum(shifted, 0.0)
    expected = 2 * np.trapezoid(negative / spectrum.omega_mev, spectrum.omega_mev)
    assert removed == pytest.approx(expected, rel=1e-12) and removed < 0
    assert np.all(clipped.modes >= 0)
    # through the folder reader: the row of each broadening carries the removed lambda
    folder = tmp_path / "epc"
    shutil.copytree(EXAMPLE, folder)
    lines = (folder / "a2F.dos3").read_text().splitlines()
    first_data = next(i for i, line in enumerate(lines) if line.strip()[:1].isdigit())
    values = lines[first_data].split()
    values[1] = "-0.500000E-01"
    lines[first_data] = "   " + "   ".join(values)
    (folder / "a2F.dos3").write_text("\n".join(lines) + "\n")
    _, summary = read_epc_folder(folder, tolerance=0.08)
    assert summary["broadenings"][2]["negative_lambda_removed"] < 0
    assert summary["broadenings"][9]["negative_lambda_removed"] == 0.0


def test_given_broadening_overrides_the_plateau_rule():
    _, rule = read_epc_folder(EXAMPLE, tolerance=0.08)
    _, given = read_epc_folder(EXAMPLE, tolerance=0.08, chosen_index=10)
    assert rule["chosen_index"] == 3 and not rule["broadening_given"]
    assert given["chosen_index"] == 10 and given["broadening_given"]
    assert given["plateau_rule_index"] == 3
    assert given["lambda"] == pytest.approx(EXAMPLE_LAMBDAS[9])
    with pytest.raises(ValueError, match="not in 1..10"):
        read_epc_folder(EXAMPLE, tolerance=0.08, chosen_index=11)
