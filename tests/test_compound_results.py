"""``collect_compound_results``: the summary Dict of the compound work chain, both branches."""

from __future__ import annotations

import numpy as np
from aiida import orm

from aiida_clathrate.workflows.compound import (
    ANHARMONIC_METHOD,
    ClathrateSuperconductorWorkChain,
    collect_compound_results,
    sscha_epc_mesh_error,
)


def _eliashberg(lam: float, omega_log: float, tcs: list[float]) -> orm.Dict:
    return orm.Dict(
        {
            "lambda": lam,
            "omega_log_mev": omega_log,
            "mustar": [0.10, 0.15],
            "tc_eliashberg_kelvin": tcs,
        }
    )


def _epc(lam: float) -> orm.Dict:
    return orm.Dict({"lambda": lam, "dos_ef_states_per_ev_spin": 1.5, "broadening_ry": 0.02})


def test_harmonic_only(aiida_profile):
    result = collect_compound_results(
        structure_parameters=orm.Dict(
            {"lattice_parameter_angstrom": 4.9, "d_long_angstrom": 1.8, "d_short_angstrom": 1.6}
        ),
        dynamically_stable=orm.Bool(False),
        min_frequency_cm1=orm.Float(-120.0),
    ).get_dict()
    assert result["harmonic_stable"] is False
    assert result["harmonic_min_frequency_cm1"] == -120.0
    assert result["sscha_category"] is None
    assert (result["d_long_angstrom"], result["d_short_angstrom"]) == (1.8, 1.6)
    assert not any(key.startswith(("tc_", "lambda_")) for key in result)


def _frequencies() -> orm.ArrayData:
    """Two q-points: Gamma (acoustic modes, one slightly imaginary) and X."""
    array = orm.ArrayData()
    array.set_array("qpoints_crystal", np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5]]))
    array.set_array("frequencies_cm1", np.array([[-2.0, 0.0, 1.0], [120.0, 120.0, 300.0]]))
    return array


def test_both_branches_and_the_anharmonic_method(aiida_profile):
    result = collect_compound_results(
        structure_parameters=orm.Dict({"lattice_parameter_angstrom": 4.9}),
        dynamically_stable=orm.Bool(True),
        min_frequency_cm1=orm.Float(50.0),
        sscha_verdict=orm.Dict(
            {"category": "stable", "lowest_hessian_cm1": 40.0, "lowest_auxiliary_cm1": 60.0}
        ),
        anharmonic_frequencies=_frequencies(),
        epc_summary_harmonic=_epc(1.2),
        eliashberg_harmonic=_eliashberg(1.19, 40.0, [30.0, 25.0]),
        epc_summary_anharmonic=_epc(1.0),
        eliashberg_anharmonic=_eliashberg(0.98, 45.0, [27.0, 22.0]),
    ).get_dict()
    assert result["sscha_category"] == "stable"
    assert result["lambda_harmonic"] == 1.2 and result["lambda_anharmonic"] == 1.0
    assert result["lambda_from_a2f_anharmonic"] == 0.98
    assert result["tc_harmonic_kelvin"] == [30.0, 25.0]
    assert result["tc_anharmonic_kelvin"] == [27.0, 22.0]
    assert result["omega_log_anharmonic_mev"] == 45.0
    assert result["mustar"] == [0.10, 0.15]
    assert result["anharmonic_method"] == ANHARMONIC_METHOD
    assert "anharmonic_on_fine_grid" in result["anharmonic_method"]
    assert "trans=.false." not in result["anharmonic_method"]
    assert "anharmonic_caveat" not in result
    # lowest over the grid without the acoustic modes at Gamma
    assert result["anharmonic_lowest_frequency_cm1"] == 120.0


def test_epc_qmesh_must_be_a_multiple_of_the_sscha_qmesh():
    def mesh(n):
        kpoints = orm.KpointsData()
        kpoints.set_kpoints_mesh([n, n, n])
        return kpoints

    assert sscha_epc_mesh_error(mesh(2), mesh(6)) is None
    assert sscha_epc_mesh_error(mesh(1), mesh(3)) is None
    assert "[3, 3, 3] (`epc.dfpt.ph.qpoints`) is not a multiple" in sscha_epc_mesh_error(
        mesh(2), mesh(3)
    )
    explicit = orm.KpointsData()
    explicit.set_kpoints([[0.0, 0.0, 0.0]])
    assert "must be q-meshes" in sscha_epc_mesh_error(mesh(2), explicit)


class _Outputs(dict):
    """Attribute and ``in`` access to real output nodes, as ``node.outputs`` gives them."""

    __getattr__ = dict.__getitem__


class _Sscha:
    def __init__(self, **outputs):
        self.outputs = _Outputs(outputs)


def _populations(count: int) -> orm.ArrayData:
    array = orm.ArrayData()
    array.set_array("population", np.arange(1, count + 1))
    return array


def test_anharmonic_skip_reasons(aiida_profile):
    """Why the anharmonic branch does not run (a non-converged SSCHA costs minutes of pw.x to
    produce for real; the reason only reads these outputs)."""
    reason = ClathrateSuperconductorWorkChain._anharmonic_skip_reason
    undetermined = orm.Dict({"category": "undetermined", "message": "no Hessian"})
    text = reason(
        _Sscha(verdict=undetermined, converged=orm.Bool(False), populations=_populations(3))
    )
    assert "did not converge in 3 populations" in text and "no free-energy Hessian" in text
    text = reason(_Sscha(verdict=undetermined, converged=orm.Bool(True)))
    assert "compute_hessian is False" in text
    hessian = orm.FolderData()
    imaginary = orm.Dict({"category": "auxiliary_stable_hessian_imaginary", "message": "-40"})
    text = reason(_Sscha(verdict=imaginary, hessian_dynamical_matrices=hessian))
    assert text.startswith("SSCHA verdict auxiliary_stable_hessian_imaginary")
    stable = orm.Dict({"category": "stable", "message": ""})
    assert reason(_Sscha(verdict=stable, hessian_dynamical_matrices=hessian)) is None
