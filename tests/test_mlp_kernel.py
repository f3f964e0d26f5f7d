"""The committee's kernel member: its quadratic form, its closed-form fit and its place in the
committee (prediction, spread, training metrics, save/load)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from finite_differences import strain_derivative

from aiida_clathrate.mlp import (
    CommitteePotential,
    DescriptorSpec,
    NetworkSpec,
    TrainingSettings,
    build_neighbours,
    compute_descriptors,
    load_potential,
    read_frames,
    train_committee,
)
from aiida_clathrate.mlp.featurisation import featurise
from aiida_clathrate.mlp.kernel import KernelFitSettings, KernelMember, fit_kernel_member
from aiida_clathrate.mlp.stress import deviatoric
from aiida_clathrate.mlp.training import error_metrics, featurise_committee

torch.set_num_threads(1)
ELEMENTS = ("K", "Rb", "B", "C")
DATA = "datasets/krbb6c6-displaced/krbb6c6_dft.xyz"
#: a small kernel descriptor (radially resolved angles within 3.5 Å, as the shipped one)
KERNEL_SPEC = DescriptorSpec(
    ELEMENTS, radial_order=5, angular_order=4, angular_cutoff_angstrom=3.5, angular_radial_order=1
)


@pytest.fixture(scope="module")
def data(shared_dir):
    return read_frames(shared_dir / DATA, index="0:40")


def _random_kernel(spec: DescriptorSpec, seed: int = 0) -> KernelMember:
    generator = torch.Generator().manual_seed(seed)
    kernel = KernelMember(spec).double()
    size = spec.size
    with torch.no_grad():
        kernel.feature_mean.normal_(0.0, 0.1, generator=generator)
        kernel.feature_std.uniform_(0.5, 2.0, generator=generator)
        kernel.energy_reference_ev.copy_(torch.tensor([-100.0, -90.0, -80.0, -150.0]))
        kernel.linear_ev.normal_(0.0, 0.01, generator=generator)
        q = torch.randn((spec.n_species, size, size), generator=generator, dtype=torch.float64)
        kernel.quadratic_ev.copy_(1e-3 * (q + q.transpose(1, 2)))
    return kernel


def _committee_with_kernel(weight: float = 0.4, message_layers: int = 0) -> CommitteePotential:
    torch.manual_seed(2)
    spec = DescriptorSpec(ELEMENTS, radial_order=5, angular_order=4)
    model = CommitteePotential(
        spec,
        NetworkSpec(8, 2, (16,), message_layers=message_layers, message_width=8),
        n_members=3,
        dtype="float64",
        kernel_descriptor=KERNEL_SPEC,
        kernel_weight=weight,
    )
    for member in model.members:
        member.feature_std.uniform_(0.5, 2.0)
        member.energy_reference_ev.copy_(torch.tensor([-100.0, -90.0, -80.0, -150.0]))
        with torch.no_grad():
            member.network.heads.weight.normal_(0.0, 0.3)
    model.kernel.load_state_dict(_random_kernel(KERNEL_SPEC).state_dict())
    return model.eval()


def _kernel_predictions(kernel: KernelMember, frames) -> tuple[np.ndarray, np.ndarray]:
    """Energies per atom (eV) and forces (eV/Å) of the kernel member alone."""
    found = [kernel.predict_frame(frame) for frame in frames]
    energies = np.array([e / f.n_atoms for (e, _, _), f in zip(found, frames, strict=True)])
    return energies, np.array([forces for _, forces, _ in found])


def test_quadratic_form_per_element_equals_direct_evaluation(data):
    """The per-element loop (no (atoms, D, D) gather) gives e_s + w_s·x + xᵀQ_s x, batched too."""
    kernel = _random_kernel(KERNEL_SPEC, seed=3)
    spec = KERNEL_SPEC
    batch = []
    for frame in data[:2]:
        positions, cell = torch.tensor(frame.positions_angstrom), torch.tensor(frame.cell_angstrom)
        species = spec.species_indices(frame.symbols)
        neighbours = build_neighbours(positions, cell, frame.pbc, spec)
        batch.append((compute_descriptors(positions, cell, species, neighbours, spec), species))
    features = torch.stack([f for f, _ in batch])
    species = torch.stack([s for _, s in batch])
    x = (features - kernel.feature_mean[species]) / kernel.feature_std[species]
    direct = (
        kernel.energy_reference_ev[species]
        + (kernel.linear_ev[species] * x).sum(-1)
        + torch.einsum("bnd,bnde,bne->bn", x, kernel.quadratic_ev[species], x)
    )
    torch.testing.assert_close(kernel.atomic_energies(features, species), direct)
    torch.testing.assert_close(kernel.atomic_energies(features[1], species[1]), direct[1])


@pytest.mark.parametrize("message_layers", [0, 1])
def test_committee_combines_networks_and_kernel_with_exact_gradients(data, message_layers):
    """Prediction = (1 - w)·network mean + w·kernel; forces and stress are its derivatives
    (finite differences); the spread is the networks'; the training path agrees (also when the
    frames carry the pairs of networks with message passing, which the kernel does not use)."""
    model = _committee_with_kernel(weight=0.4, message_layers=message_layers)
    frame = data[1]
    pred = model.predict_frame(frame, member_forces=True)
    members = pred.member_energies_ev
    assert len(members) == 3 and pred.kernel_energy_ev is not None
    assert pred.energy_ev == pytest.approx(0.6 * members.mean() + 0.4 * pred.kernel_energy_ev)
    assert pred.energy_std_ev == pytest.approx(np.std(members))
    assert abs(pred.kernel_energy_ev - members.mean()) > 1e-3  # the kernel is not a copy
    h = 1e-5

    def energy(positions, cell):
        return model.predict(frame.symbols, positions, cell).energy_ev

    for atom, axis in [(0, 0), (5, 1), (12, 2)]:
        plus, minus = frame.positions_angstrom.copy(), frame.positions_angstrom.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        fd = -(energy(plus, frame.cell_angstrom) - energy(minus, frame.cell_angstrom)) / (2 * h)
        assert pred.forces_ev_per_angstrom[atom, axis] == pytest.approx(fd, abs=1e-7, rel=1e-6)
    for a, b in [(0, 0), (0, 1)]:
        strain = np.zeros((3, 3))
        strain[a, b] = strain[b, a] = h / (2 if a != b else 1)
        values = [
            energy(
                frame.positions_angstrom @ (np.eye(3) + sign * strain),
                frame.cell_angstrom @ (np.eye(3) + sign * strain),
            )
            for sign in (1, -1)
        ]
        fd = (values[0] - values[1]) / (2 * h) / frame.volume_angstrom3
        assert pred.stress_ev_per_angstrom3[a, b] == pytest.approx(fd, abs=1e-9, rel=1e-5)
    # the metrics of training (Jacobian and autograd paths) combine the same way
    for jacobians in (True, False):
        groups = featurise_committee([frame], model, jacobians=jacobians)
        assert KERNEL_SPEC in groups
        metrics = error_metrics(groups, model)
        expected = 1e3 * abs(pred.energy_ev - frame.energy_ev) / frame.n_atoms
        assert metrics["energy_rmse_mev_per_atom"] == pytest.approx(expected, rel=1e-9)
        force_rmse = 1e3 * np.sqrt(
            np.mean((pred.forces_ev_per_angstrom - frame.forces_ev_per_angstrom) ** 2)
        )
        assert metrics["forces_rmse_mev_per_angstrom"] == pytest.approx(force_rmse, rel=1e-9)
    with pytest.raises(ValueError, match="kernel_weight must be in"):
        CommitteePotential(model.descriptor, model.network_spec, kernel_weight=0.3)


def test_kernel_fit_learns_energies_and_forces_and_is_seeded(data):
    """The closed-form fit reproduces its training labels closely and predicts held-out frames
    far better than the mean, the same from stored Jacobians (float32) as from recomputed ones;
    a centre cap samples centres by seed."""
    train = data[:30]
    kernel, summary = fit_kernel_member(featurise(train, KERNEL_SPEC, jacobians=False))
    assert summary["centres_per_element"] == {"K": 30, "Rb": 30, "B": 180, "C": 180}
    labels_e = np.array([f.energy_ev / f.n_atoms for f in data])
    labels_f = np.array([f.forces_ev_per_angstrom for f in data])
    energies, forces = _kernel_predictions(kernel, data)
    rmse_e = {
        part: np.sqrt(np.mean((energies - labels_e)[rows] ** 2))
        for part, rows in (("train", slice(0, 30)), ("test", slice(30, None)))
    }
    rmse_f = {
        part: np.sqrt(np.mean((forces - labels_f)[rows] ** 2))
        for part, rows in (("train", slice(0, 30)), ("test", slice(30, None)))
    }
    spread_e = np.std(labels_e[30:])
    force_rms = np.sqrt(np.mean(labels_f[30:] ** 2))
    assert rmse_f["train"] < 0.2 * force_rms and rmse_f["test"] < 0.5 * force_rms
    assert rmse_e["train"] < 0.2 * spread_e and rmse_e["test"] < 0.5 * spread_e
    assert rmse_f["train"] < rmse_f["test"]
    stored, _ = fit_kernel_member(featurise(train, KERNEL_SPEC, "float32", jacobians=True))
    stored_energies, stored_forces = _kernel_predictions(stored, data)
    assert np.abs(stored_energies - energies).max() < 1e-3 * spread_e
    assert np.abs(stored_forces - forces).max() < 1e-3 * force_rms
    # at most 20 centres per element: a seeded sample
    capped = KernelFitSettings(max_centres_per_element=20)
    few = featurise(train[:10], KERNEL_SPEC, jacobians=False)
    a, info = fit_kernel_member(few, capped)
    assert info["centres_per_element"] == {"K": 10, "Rb": 10, "B": 20, "C": 20}
    b, _ = fit_kernel_member(few, capped)
    c, _ = fit_kernel_member(few, dataclasses.replace(capped, seed=1))
    assert torch.equal(a.quadratic_ev, b.quadratic_ev)
    assert not torch.equal(a.quadratic_ev[2], c.quadratic_ev[2])  # other B centres
    with pytest.raises(ValueError, match="regularisation must be positive"):
        KernelFitSettings(regularisation=0.0)
    with pytest.raises(ValueError, match="no frames"):
        fit_kernel_member([])
    other = dataclasses.replace(KERNEL_SPEC, angular_cutoff_angstrom=4.0)
    with pytest.raises(ValueError, match="one descriptor"):
        fit_kernel_member(few + featurise(train[:2], other, jacobians=False))
    unlabelled = dataclasses.replace(train[0], energy_ev=None)
    with pytest.raises(ValueError, match="frame 1 has no energy"):
        featurise([train[1], unlabelled], KERNEL_SPEC)


def test_kernel_stress_is_the_strain_derivative_and_its_traceless_part_can_be_fitted(data):
    """The member's stress is (1/V) ∂E/∂ε (central differences). With a sigma for the traceless
    stress, the fit adds rows for every frame with a stress label (from either Jacobian path
    alike) and reproduces the traceless stress of its training frames far closer than without;
    held-out frames are closer too."""
    kernel = _random_kernel(KERNEL_SPEC, seed=5)
    frame = data[1]  # a = 4.9 Å, away from cutoff kinks
    _, _, stress = kernel.predict_frame(frame)

    def energy(positions: np.ndarray, cell: np.ndarray) -> float:
        moved = dataclasses.replace(frame, positions_angstrom=positions, cell_angstrom=cell)
        return kernel.predict_frame(moved)[0]

    for a, b in [(0, 0), (2, 2), (0, 1), (1, 2)]:
        fd = strain_derivative(energy, frame.positions_angstrom, frame.cell_angstrom, a, b)
        fd /= frame.volume_angstrom3
        assert stress[a, b] == pytest.approx(fd, abs=1e-9, rel=1e-5), (a, b)
    open_frame = dataclasses.replace(frame, pbc=(True, True, False))
    assert kernel.predict_frame(open_frame)[2] is None

    def traceless_rmse(member: KernelMember, frames) -> float:
        stresses = np.array([member.predict_frame(f)[2] for f in frames])
        labels = np.array([f.stress_ev_per_angstrom3 for f in frames])
        return float(np.sqrt(np.mean(deviatoric(torch.from_numpy(stresses - labels)).numpy() ** 2)))

    train, test = data[:30], data[30:]
    without = KernelFitSettings(deviatoric_stress_sigma_ev_per_angstrom3=None)
    plain, plain_summary = fit_kernel_member(
        featurise(train, KERNEL_SPEC, jacobians=False), without
    )
    settings = KernelFitSettings(deviatoric_stress_sigma_ev_per_angstrom3=3e-4)
    fitted, summary = fit_kernel_member(featurise(train, KERNEL_SPEC, jacobians=False), settings)
    assert plain_summary["n_frames_with_stress_rows"] == 0
    assert summary["n_frames_with_stress_rows"] == 30
    before, after = traceless_rmse(plain, train), traceless_rmse(fitted, train)
    assert after < 0.2 * before, (before, after)
    assert traceless_rmse(fitted, test) < traceless_rmse(plain, test)
    stored, _ = fit_kernel_member(
        featurise(train, KERNEL_SPEC, "float32", jacobians=True), settings
    )
    assert traceless_rmse(stored, train) == pytest.approx(after, rel=1e-2)
    # frames without a stress label get no stress rows
    some = [dataclasses.replace(f, stress_ev_per_angstrom3=None) for f in train[:4]] + train[4:10]
    _, partial = fit_kernel_member(featurise(some, KERNEL_SPEC, jacobians=False), settings)
    assert partial["n_frames_with_stress_rows"] == 6
    with pytest.raises(ValueError, match="deviatoric_stress_sigma_ev_per_angstrom3 must be"):
        KernelFitSettings(deviatoric_stress_sigma_ev_per_angstrom3=0.0)


def test_training_fits_kernel_on_training_frames_and_keeps_it_through_save(data, tmp_path):
    """One split for all members: the kernel is fitted on the training frames only, reported in
    the metrics, improves the held-out forces of a briefly trained committee, and survives
    save/load; a version-3 file (no kernel member) still loads; weight 0 means none."""
    settings = TrainingSettings(
        radial_order=5,
        angular_order=4,
        hidden=(8,),
        committee_size=2,
        max_epochs=2,
        finetune_epochs=0,
        valid_fraction=0.25,
        member_splits=False,
        descriptor_variants=({},),
        kernel_descriptor={
            "angular_radial_order": 1,
            "angular_cutoff_angstrom": 3.5,
            "angular_inner_cutoff_angstrom": None,
        },
    )
    frames = data[:24]
    result = train_committee(frames, settings)
    model, metrics = result.committee, result.metrics
    trained_order = ("B", "C", "K", "Rb")  # by atomic number
    assert model.kernel.descriptor == dataclasses.replace(KERNEL_SPEC, elements=trained_order)
    kernel = metrics["kernel"]
    assert kernel["n_frames"] == 18 and kernel["weight"] == 0.5
    assert kernel["n_frames_with_stress_rows"] == 18  # the traceless stress rows by default
    assert kernel["train"]["n_configurations"] == 18
    assert (
        kernel["train"]["forces_rmse_mev_per_angstrom"]
        < metrics["train"]["forces_rmse_mev_per_angstrom"]
    )
    plain = train_committee(frames, dataclasses.replace(settings, kernel_weight=0.0))
    assert plain.committee.kernel is None and "kernel" not in plain.metrics
    assert (
        metrics["validation"]["forces_rmse_mev_per_angstrom"]
        < plain.metrics["validation"]["forces_rmse_mev_per_angstrom"]
    )
    # the networks are the same with or without the kernel member
    torch.testing.assert_close(
        model.members[0].network.heads.weight, plain.committee.members[0].network.heads.weight
    )
    frame = frames[0]
    pred = model.predict_frame(frame)
    loaded = load_potential(model.save(tmp_path / "kernel.pt"))
    again = loaded.predict_frame(frame)
    assert again.energy_ev == pred.energy_ev and again.kernel_energy_ev == pred.kernel_energy_ev
    assert loaded.kernel_weight == 0.5
    old = plain.committee.to_payload()
    old["format_version"] = 3
    del old["kernel"]
    torch.save(old, tmp_path / "v3.pt")
    old_model = load_potential(tmp_path / "v3.pt")
    assert old_model.kernel is None
    assert (
        old_model.predict_frame(frame).energy_ev == plain.committee.predict_frame(frame).energy_ev
    )
    for bad, message in (
        ({"kernel_weight": 1.0}, "kernel_weight must be in"),
        ({"kernel_descriptor": {"hidden": 3}}, "kernel_descriptor may only set"),
        ({"kernel_forces_sigma_ev_per_angstrom": -1.0}, "must be positive"),
        ({"kernel_deviatoric_stress_sigma_ev_per_angstrom3": 0.0}, "must be positive or None"),
    ):
        with pytest.raises(ValueError, match=message):
            TrainingSettings(**bad)
    assert TrainingSettings.from_dict(settings.as_dict()).kernel_descriptor == (
        settings.kernel_descriptor
    )
    off = TrainingSettings(kernel_deviatoric_stress_sigma_ev_per_angstrom3=None)
    again = TrainingSettings.from_dict(off.as_dict()).kernel_fit_settings()
    assert again.deviatoric_stress_sigma_ev_per_angstrom3 is None
