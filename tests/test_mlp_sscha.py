"""python-sscha evaluates an ensemble through the MLP's ASE calculator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aiida_clathrate.mlp import (
    CommitteePotential,
    DescriptorSpec,
    MlpCalculator,
    NetworkSpec,
    frame_to_atoms,
    read_frames,
)


def _small_committee() -> CommitteePotential:
    torch.manual_seed(7)
    spec = DescriptorSpec(("K", "Rb", "B", "C"), radial_order=4, angular_order=3)
    model = CommitteePotential(spec, NetworkSpec(8, 2, (16,)), n_members=2)
    for member in model.members:
        with torch.no_grad():
            member.network.heads.weight.normal_(0.0, 0.3)
            member.linear_ev.normal_(0.0, 0.01)
    return model.eval()


def test_sscha_compute_ensemble_with_mlp_calculator(shared_dir, tmp_path, monkeypatch):
    cc_phonons = pytest.importorskip("cellconstructor.Phonons")
    cc_structure = pytest.importorskip("cellconstructor.Structure")
    sscha_ensemble = pytest.importorskip("sscha.Ensemble")

    monkeypatch.chdir(tmp_path)
    frame = read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="1:2")[0]
    atoms = frame_to_atoms(frame)
    atoms.calc = None
    structure = cc_structure.Structure()
    structure.generate_from_ase_atoms(atoms)
    dyn = cc_phonons.Phonons(structure, nqirr=1)
    # a harmonic Gamma-point force-constant matrix (Ry/bohr^2): on-site springs plus a weak,
    # symmetric coupling, positive definite
    rng = np.random.default_rng(0)
    n3 = 3 * structure.N_atoms
    coupling = rng.normal(scale=0.005, size=(n3, n3))
    dyn.dynmats[0] = (0.25 * np.eye(n3) + 0.5 * (coupling + coupling.T)).astype(
        dyn.dynmats[0].dtype
    )
    np.random.seed(3)  # sscha draws displacements with numpy's global generator
    ensemble = sscha_ensemble.Ensemble(dyn, 0.0, dyn.GetSupercell())
    ensemble.generate(4)

    rydberg, bohr = sscha_ensemble.Rydberg, sscha_ensemble.Bohr  # sscha uses CODATA 2006
    model = _small_committee()
    ensemble.compute_ensemble(MlpCalculator(model), compute_stress=True, verbose=False)

    assert ensemble.force_computed.all() and ensemble.stress_computed.all()
    for k, structure_k in enumerate(ensemble.structures):
        reference = model.predict(
            structure_k.atoms, structure_k.coords, structure_k.unit_cell, member_forces=False
        )
        assert ensemble.energies[k] == pytest.approx(reference.energy_ev / rydberg, rel=1e-10)
        np.testing.assert_allclose(
            ensemble.forces[k], reference.forces_ev_per_angstrom / rydberg, rtol=1e-8, atol=1e-12
        )
        # sscha stores minus the ASE stress in Ry/bohr^3
        np.testing.assert_allclose(
            ensemble.stresses[k],
            -reference.stress_ev_per_angstrom3 * bohr**3 / rydberg,
            rtol=1e-8,
            atol=1e-14,
        )
    displaced = np.abs(ensemble.xats - ensemble.xats.mean(axis=0)).max()
    assert displaced > 1e-3  # the configurations really differ
