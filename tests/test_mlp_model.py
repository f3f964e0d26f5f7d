"""Descriptors, neighbour lists, forces/stress, save/load and the ASE calculator of the MLP."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from finite_differences import strain_derivative

from aiida_clathrate.mlp import (
    CommitteePotential,
    DescriptorSpec,
    MlpCalculator,
    NetworkSpec,
    build_neighbours,
    compute_descriptors,
    load_potential,
    read_frames,
)
from aiida_clathrate.mlp.descriptors import descriptor_jacobians, descriptor_jacobians_autodiff
from aiida_clathrate.mlp.potential import FILE_FORMAT_VERSION

torch.set_num_threads(1)
ELEMENTS = ("K", "Rb", "B", "C")


@pytest.fixture(scope="module")
def frames(shared_dir):
    return read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:6")


def _brute_force_descriptors(frame, spec: DescriptorSpec) -> np.ndarray:
    """Plain loops over atoms and periodic images (independent of the torch implementation)."""
    pos, cell = frame.positions_angstrom, frame.cell_angstrom
    species = [spec.elements.index(s) for s in frame.symbols]
    n_species = spec.n_species
    n_radial = spec.angular_radial_order + 1
    n_channels = n_species * n_radial  # channel (a, n) has index a * n_radial + n
    pairs = [(c, d) for c in range(n_channels) for d in range(c, n_channels)]
    images = range(-3, 4)
    out = []
    for i in range(len(pos)):
        radial = np.zeros((n_species, spec.radial_order + 1))
        close = []  # (vector, species) within the angular cutoff
        for j in range(len(pos)):
            for n in itertools.product(images, images, images):
                if i == j and n == (0, 0, 0):
                    continue
                v = pos[j] + np.array(n) @ cell - pos[i]
                r = float(np.linalg.norm(v))
                if r < spec.radial_cutoff_angstrom:
                    rc = spec.radial_cutoff_angstrom
                    fc = 0.5 * (math.cos(math.pi * r / rc) + 1)
                    x = 2 * r / rc - 1
                    for k in range(spec.radial_order + 1):
                        radial[species[j], k] += math.cos(k * math.acos(x)) * fc
                if r < spec.angular_cutoff_angstrom:
                    close.append((v, r, species[j]))
        blocks = []
        for ra in spec.angular_cutoffs:

            def channel(r, n, ra=ra):  # T_n(2 r / Ra - 1) f_c(r; Ra)
                fc = 0.5 * (math.cos(math.pi * r / ra) + 1)
                return math.cos(n * math.acos(2 * r / ra - 1)) * fc

            angular = np.zeros((len(pairs), spec.angular_order + 1))
            for m, (vm, rm, sm) in enumerate(close):
                for p, (vp, rp, sp) in enumerate(close):
                    if m == p or rm >= ra or rp >= ra:
                        continue
                    theta = math.acos(float(np.clip(vm @ vp / (rm * rp), -1, 1)))
                    for n, q in itertools.product(range(n_radial), range(n_radial)):
                        c, d = sm * n_radial + n, sp * n_radial + q
                        if c > d:
                            continue  # G[c, d], c <= d, sums ordered pairs with m in c, p in d
                        w = channel(rm, n) * channel(rp, q)
                        for order in range(spec.angular_order + 1):
                            angular[pairs.index((c, d)), order] += math.cos(order * theta) * w
            blocks.append(angular.ravel())
        out.append(np.concatenate([radial.ravel(), *blocks]))
    return np.array(out)


@pytest.mark.parametrize(
    ("inner", "angular_radial", "angular_order"),
    [(None, 0, 3), (3.0, 0, 3), (3.0, 2, 3), (3.0, 0, 10)],
)
def test_descriptors_match_brute_force_with_many_images(
    frames, inner, angular_radial, angular_order
):
    """Cutoffs of 6 and 5 Å exceed half of the 4.8 Å cell: every image must be counted once.
    Order 10 is the shipped angular order (the addition theorem at its highest degree)."""
    spec = DescriptorSpec(
        ELEMENTS,
        radial_order=4,
        angular_order=angular_order,
        angular_inner_cutoff_angstrom=inner,
        angular_radial_order=angular_radial,
    )
    frame = frames[0]
    assert spec.radial_cutoff_angstrom > frame.cell_angstrom[0, 0]
    pos = torch.tensor(frame.positions_angstrom)
    cell = torch.tensor(frame.cell_angstrom)
    neighbours = build_neighbours(pos, cell, frame.pbc, spec)
    got = compute_descriptors(pos, cell, spec.species_indices(frame.symbols), neighbours, spec)
    expected = _brute_force_descriptors(frame, spec)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-9)


def _tiny_committee(
    dtype: str = "float64",
    n_members: int = 2,
    seed: int = 1,
    angular_tokens="channel_pairs",
    message_layers: int = 0,
) -> CommitteePotential:
    """Random committee whose odd members use a second descriptor (radially resolved angles)."""
    torch.manual_seed(seed)
    spec = DescriptorSpec(ELEMENTS, radial_order=5, angular_order=4)
    variant = DescriptorSpec(
        ELEMENTS,
        radial_order=3,
        angular_order=4,
        angular_inner_cutoff_angstrom=3.0,
        angular_radial_order=1,
    )
    model = CommitteePotential(
        spec,
        NetworkSpec(
            8,
            2,
            (16,),
            angular_tokens=angular_tokens,
            message_layers=message_layers,
            message_width=8,
        ),
        n_members=n_members,
        dtype=dtype,
        member_descriptors=[(spec, variant)[k % 2] for k in range(n_members)],
    )
    for member in model.members:  # non-trivial normalisation so that it is exercised
        member.feature_mean.normal_(0.0, 0.1)
        member.feature_std.uniform_(0.5, 2.0)
        member.energy_reference_ev.copy_(torch.tensor([-100.0, -90.0, -80.0, -150.0]))
        member.energy_scale_ev.fill_(0.7)
        with torch.no_grad():  # heads start at zero in training; randomise them here
            member.network.heads.weight.normal_(0.0, 0.3)
            member.linear_ev.normal_(0.0, 0.01)
            if message_layers:
                member.network.messages.head.weight.normal_(0.0, 0.3)
    return model.eval()


@pytest.mark.parametrize("angular_radial", [0, 2])
def test_descriptor_jacobians_analytic_equal_autodiff(frames, angular_radial):
    spec = DescriptorSpec(
        ELEMENTS,
        radial_order=6,
        angular_order=5,
        angular_inner_cutoff_angstrom=3.2,
        angular_radial_order=angular_radial,
    )
    frame = frames[1]
    pos, cell = torch.tensor(frame.positions_angstrom), torch.tensor(frame.cell_angstrom)
    species = spec.species_indices(frame.symbols)
    neighbours = build_neighbours(pos, cell, frame.pbc, spec)
    analytic = descriptor_jacobians(pos, cell, species, neighbours, spec)
    autodiff = descriptor_jacobians_autodiff(pos, cell, species, neighbours, spec)
    for a, b in zip(analytic, autodiff, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(
    "angular_tokens, message_layers",
    [("channel_pairs", 0), ("species_pairs", 0), ("species_pairs", 2)],
)
def test_forces_and_stress_equal_energy_finite_differences(frames, angular_tokens, message_layers):
    """float64: forces = -dE/dr and stress = (1/V) dE/dε (ASE convention) by central differences;
    the training path (stored Jacobians, pair gradients) gives the same."""
    model = _tiny_committee(angular_tokens=angular_tokens, message_layers=message_layers)
    frame = frames[1]  # a = 4.9 Å; at a = 5.0 Å self-images sit on the 5 Å angular cutoff (C1 kink)
    pred = model.predict_frame(frame)
    h = 1e-5

    def energy(positions, cell):
        return model.predict(frame.symbols, positions, cell).energy_ev

    for atom, axis in [(0, 0), (3, 1), (9, 2), (13, 0)]:
        plus, minus = frame.positions_angstrom.copy(), frame.positions_angstrom.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        fd = -(energy(plus, frame.cell_angstrom) - energy(minus, frame.cell_angstrom)) / (2 * h)
        assert pred.forces_ev_per_angstrom[atom, axis] == pytest.approx(fd, abs=1e-7, rel=1e-6)
    volume = frame.volume_angstrom3
    for a, b in [(0, 0), (1, 1), (0, 1), (1, 2)]:
        fd = strain_derivative(energy, frame.positions_angstrom, frame.cell_angstrom, a, b, h)
        fd /= volume
        assert pred.stress_ev_per_angstrom3[a, b] == pytest.approx(fd, abs=1e-9, rel=1e-5), (a, b)
    # the analytic-Jacobian path used in training gives the same forces and stress
    from aiida_clathrate.mlp.featurisation import featurise
    from aiida_clathrate.mlp.training import (
        error_metrics,
        featurise_committee,
        group_predictions,
    )

    assert len(model.descriptor_groups) == 2  # the members use different descriptors
    with pytest.raises(ValueError, match="use featurise_committee"):
        error_metrics(featurise([frame], model.descriptor), model)
    groups = featurise_committee([frame], model)
    outputs = [
        group_predictions(m, groups[spec][0])
        for m, spec in zip(model.members, model.member_descriptors, strict=True)
    ]
    energies, forces, stress = ([o[k] for o in outputs] for k in range(3))
    assert float(torch.stack(energies).mean()) == pytest.approx(pred.energy_ev, rel=1e-12)
    np.testing.assert_allclose(
        torch.stack(forces).mean(0)[0].detach().numpy(), pred.forces_ev_per_angstrom, atol=1e-10
    )
    np.testing.assert_allclose(
        torch.stack(stress).mean(0)[0].detach().numpy(), pred.stress_ev_per_angstrom3, atol=1e-12
    )


@pytest.mark.parametrize("message_layers", [0, 2])
def test_invariances_and_supercell_extensivity(frames, message_layers):
    """Rotation, permutation and translation invariance; a 2x1x1 supercell doubles the energy."""
    model = _tiny_committee(message_layers=message_layers)
    frame = frames[3]
    ref = model.predict_frame(frame)
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    perm = rng.permutation(frame.n_atoms)
    rotated = model.predict(
        [frame.symbols[k] for k in perm],
        frame.positions_angstrom[perm] @ q.T + np.array([0.3, -1.2, 7.0]),
        frame.cell_angstrom @ q.T,
    )
    assert rotated.energy_ev == pytest.approx(ref.energy_ev, rel=1e-12)
    np.testing.assert_allclose(
        rotated.forces_ev_per_angstrom, ref.forces_ev_per_angstrom[perm] @ q.T, atol=1e-10
    )
    cell = frame.cell_angstrom
    positions = np.concatenate([frame.positions_angstrom, frame.positions_angstrom + cell[0]])
    supercell = np.array([2 * cell[0], cell[1], cell[2]])
    double = model.predict(frame.symbols * 2, positions, supercell)
    assert double.energy_ev == pytest.approx(2 * ref.energy_ev, rel=1e-12)
    np.testing.assert_allclose(
        double.forces_ev_per_angstrom[: frame.n_atoms], ref.forces_ev_per_angstrom, atol=1e-10
    )
    np.testing.assert_allclose(
        double.stress_ev_per_angstrom3, ref.stress_ev_per_angstrom3, atol=1e-12
    )


def test_float32_matches_float64_and_seed_is_deterministic(frames):
    a, b = _tiny_committee(seed=3), _tiny_committee(seed=3)
    pa, pb = a.predict_frame(frames[0]), b.predict_frame(frames[0])
    assert pa.energy_ev == pb.energy_ev
    np.testing.assert_array_equal(pa.forces_ev_per_angstrom, pb.forces_ev_per_angstrom)
    p32 = a.set_dtype("float32").predict_frame(frames[0])
    assert p32.energy_ev == pytest.approx(pa.energy_ev, abs=1e-3)
    np.testing.assert_allclose(p32.forces_ev_per_angstrom, pa.forces_ev_per_angstrom, atol=1e-3)
    assert _tiny_committee(seed=4).predict_frame(frames[0]).energy_ev != pa.energy_ev


def test_save_load_roundtrip_and_clear_errors(frames, tmp_path):
    model = _tiny_committee(n_members=3, angular_tokens="species_pairs", message_layers=1)
    model.metadata = {"note": "test"}
    path = model.save(tmp_path / "model.pt")
    loaded = load_potential(path)
    assert loaded.elements == ELEMENTS and len(loaded.members) == 3
    assert loaded.metadata == {"note": "test"}
    assert loaded.member_descriptors == model.member_descriptors
    p0, p1 = model.predict_frame(frames[0]), loaded.predict_frame(frames[0])
    assert p1.energy_ev == p0.energy_ev and p1.energy_std_ev == p0.energy_std_ev
    assert loaded.network_spec == model.network_spec and loaded.network_spec.message_layers == 1
    np.testing.assert_array_equal(p1.forces_ev_per_angstrom, p0.forces_ev_per_angstrom)
    # a version-1 file (one descriptor for all members, no angular radial order, no message
    # passing) still loads
    plain = dataclasses.replace(model.network_spec, message_layers=0)
    single = CommitteePotential(model.descriptor, plain, n_members=2)
    old = single.to_payload()
    old["format_version"] = 1
    del old["member_descriptors"], old["descriptor"]["angular_radial_order"]
    del old["network"]["angular_tokens"]
    for key in [k for k in old["network"] if k.startswith("message_")]:
        del old["network"][key]
    torch.save(old, tmp_path / "v1.pt")
    old_model = load_potential(tmp_path / "v1.pt")
    assert old_model.member_descriptors == [model.descriptor] * 2
    assert old_model.network_spec.angular_tokens == "channel_pairs"
    assert old_model.network_spec.message_layers == 0

    with pytest.raises(FileNotFoundError):
        load_potential(tmp_path / "missing.pt")
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"this is not a model")
    with pytest.raises(ValueError, match="not a readable"):
        load_potential(broken)
    payload = model.to_payload()
    payload["format_version"] = FILE_FORMAT_VERSION + 1
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(ValueError, match="format version"):
        load_potential(tmp_path / "future.pt")
    payload = model.to_payload()
    del payload["members"][0]["energy_scale_ev"]
    torch.save(payload, tmp_path / "truncated.pt")
    with pytest.raises(ValueError, match="broken"):
        load_potential(tmp_path / "truncated.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an"):
        load_potential(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not among the model's elements"):
        model.predict(["K", "Pb"], np.zeros((2, 3)) + [[0, 0, 0], [1, 1, 1]], np.eye(3) * 5)


def test_ase_calculator_results_and_committee_spread(frames):
    from aiida_clathrate.mlp import frame_to_atoms

    model = _tiny_committee(n_members=3)
    atoms = frame_to_atoms(frames[0])
    atoms.calc = MlpCalculator(model, member_forces=True)
    energy = atoms.get_potential_energy()
    forces = atoms.get_forces()
    stress = atoms.get_stress()
    results = atoms.calc.results
    pred = model.predict_frame(frames[0], member_forces=True)
    assert energy == pytest.approx(pred.energy_ev)
    np.testing.assert_allclose(forces, pred.forces_ev_per_angstrom)
    s = pred.stress_ev_per_angstrom3
    np.testing.assert_allclose(stress, [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
    members = results["committee_energies"]
    assert len(members) == 3 and results["energy_std"] == pytest.approx(np.std(members))
    assert results["energy_std"] > 0  # members have different weights
    assert results["forces_std"].shape == forces.shape and results["forces_std"].max() > 0


def test_short_training_loss_falls_and_forces_are_gradients(frames, shared_dir, tmp_path):
    from aiida_clathrate.mlp import TrainingSettings, train_committee

    data = read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:24")
    settings = TrainingSettings(
        radial_order=5,
        angular_order=4,
        token_dim=8,
        hidden=(16,),
        committee_size=2,
        max_epochs=8,
        finetune_epochs=3,
        batch_size=4,
        valid_fraction=0.25,
        seed=11,
        descriptor_variants=(
            {},
            {"angular_radial_order": 1, "angular_inner_cutoff_angstrom": None},
        ),
    )
    result = train_committee(data, settings)
    # trained in float32 (the default), returned in float64 (``model_dtype``)
    assert settings.dtype == "float32" and result.committee.dtype_name == "float64"
    assert all(p.dtype == torch.float64 for p in result.committee.parameters())
    first, second = result.committee.member_descriptors
    assert (first.angular_radial_order, second.angular_radial_order) == (0, 1)
    assert second.angular_inner_cutoff_angstrom is None and first.angular_inner_cutoff_angstrom
    curve = [row for row in result.learning_curve if row["member"] == 0]
    assert [row["stage"] for row in curve] == [1] * 8 + [2] * 3
    assert [row["epoch"] for row in curve] == list(range(1, 12))
    assert result.metrics["epochs_per_member"] == [11, 11]
    curve = curve[:8]
    assert min(row["train_loss"] for row in curve[1:]) < curve[0]["train_loss"]
    metrics = result.metrics
    # each member held out its own 6 frames: the committee saw all 24, validation pools 2 x 6
    assert metrics["validation_kind"] == "members on their own held-out frames"
    assert (
        metrics["train"]["n_configurations"] == 24
        and metrics["validation"]["n_configurations"] == 12
    )
    member_refs = [m.energy_reference_ev.clone() for m in result.committee.members]
    assert not torch.equal(member_refs[0], member_refs[1])  # fitted on different frames
    force_rms_mev = 1e3 * np.sqrt(np.mean([np.mean(f.forces_ev_per_angstrom**2) for f in data]))
    assert metrics["validation"]["forces_rmse_mev_per_angstrom"] < 0.5 * force_rms_mev
    for key in (
        "energy_rmse_mev_per_atom",
        "energy_mae_mev_per_atom",
        "forces_mae_mev_per_angstrom",
        "stress_rmse_gpa",
        "stress_mae_gpa",
    ):
        assert np.isfinite(metrics["validation"][key])
    # forces of the trained committee are -dE/dr (finite differences, float64)
    model = result.committee
    frame = data[1]
    pred = model.predict_frame(frame)
    h = 1e-5
    for atom, axis in [(2, 0), (8, 2)]:
        plus, minus = frame.positions_angstrom.copy(), frame.positions_angstrom.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        e_plus = model.predict(frame.symbols, plus, frame.cell_angstrom).energy_ev
        e_minus = model.predict(frame.symbols, minus, frame.cell_angstrom).energy_ev
        fd = -(e_plus - e_minus) / (2 * h)
        assert pred.forces_ev_per_angstrom[atom, axis] == pytest.approx(fd, abs=1e-6, rel=1e-5)
    assert pred.energy_std_ev > 0
    # the same seed gives the same committee
    again = train_committee(data, settings).committee.predict_frame(frame)
    assert again.energy_ev == pred.energy_ev
    # save / load keeps the predictions and the metadata
    path = model.save(tmp_path / "trained.pt")
    loaded = load_potential(path)
    assert loaded.predict_frame(frame).energy_ev == pred.energy_ev
    assert loaded.metadata["metrics"]["validation"]["n_configurations"] == 12
    # the committee's force spread on its 24 training frames: the active engine's reference
    reference = metrics["committee_spread_reference"]
    spreads = [
        np.max(model.predict_frame(f, member_forces=True).forces_std_ev_per_angstrom) for f in data
    ]
    assert reference["n_configurations"] == 24 and reference["n_atoms_max"] == 14
    # (the reference comes from the float32 training, the spreads from the float64 committee)
    assert reference["p95_ev_per_angstrom"] == pytest.approx(np.percentile(spreads, 95), rel=1e-4)
    assert reference["max_ev_per_angstrom"] == pytest.approx(max(spreads), rel=1e-4)
    assert reference["median_ev_per_angstrom"] == pytest.approx(np.median(spreads), rel=1e-4)
    assert 0 < reference["median_ev_per_angstrom"] < reference["p95_ev_per_angstrom"]


def test_one_split_for_all_members(shared_dir):
    """``member_splits=False``: every member holds out the same frames; committee metrics."""
    from aiida_clathrate.mlp import TrainingSettings, train_committee

    data = read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:16")
    settings = TrainingSettings(
        radial_order=4,
        angular_order=3,
        angular_inner_cutoff_angstrom=None,
        hidden=(8,),
        committee_size=3,
        max_epochs=2,
        finetune_epochs=1,
        valid_fraction=0.25,
        member_splits=False,
        descriptor_variants=({}, {"angular_radial_order": 1}),
    )
    result = train_committee(data, settings)
    metrics = result.metrics
    assert metrics["validation_kind"] == "committee"
    assert metrics["train"]["n_configurations"] == 12
    assert metrics["validation"]["n_configurations"] == 4
    first, second, third = result.committee.members
    assert torch.equal(first.linear_ev, third.linear_ev)  # same descriptor, same frames
    assert second.linear_ev.shape[1] > first.linear_ev.shape[1]  # the variant's descriptor
    with pytest.raises(ValueError, match="descriptor_variants may only set"):
        TrainingSettings(descriptor_variants=({"hidden": (8,)},))
    with pytest.raises(ValueError, match="angular_tokens must be one of"):
        TrainingSettings(angular_tokens="atoms")
    loaded = TrainingSettings.from_dict(settings.as_dict())  # JSON-like lists round-trip
    assert loaded.descriptor_variants == settings.descriptor_variants


def test_species_pair_tokens_partition_the_angular_channel_pairs():
    from aiida_clathrate.mlp.network import AttentionAtomicNetwork, species_pair_groups

    resolved = DescriptorSpec(ELEMENTS, angular_radial_order=2, angular_inner_cutoff_angstrom=3.0)
    groups = species_pair_groups(resolved)
    assert len(groups) == 2 * 10  # two shells x unordered pairs of four species
    assert sorted(i for g in groups for i in g) == list(range(resolved.n_angular_channels))
    assert sorted({len(g) for g in groups}) == [6, 9]  # same species: n <= n'; else all (n, n')
    spec = NetworkSpec(8, 2, (16,), angular_tokens="species_pairs")
    assert AttentionAtomicNetwork(resolved, spec).n_tokens == 4 + 20
    # without bond-length resolution the species-pair tokens are the channel-pair tokens
    plain = DescriptorSpec(ELEMENTS, angular_inner_cutoff_angstrom=3.0)
    assert [len(g) for g in species_pair_groups(plain)] == [1] * plain.n_angular_channels
    torch.manual_seed(0)
    a = AttentionAtomicNetwork(plain, spec)
    torch.manual_seed(0)
    b = AttentionAtomicNetwork(plain, NetworkSpec(8, 2, (16,)))
    x, z = torch.randn(5, plain.size), torch.tensor([0, 1, 2, 3, 2])
    torch.testing.assert_close(a(x, z), b(x, z), rtol=0, atol=0)
    with pytest.raises(ValueError, match="angular_tokens"):
        NetworkSpec(angular_tokens="atoms")


def test_spread_reference_draws_at_most_the_limit_and_thresholds_need_it(frames):
    from aiida_clathrate.mlp.uncertainty import (
        max_force_spread_ev_per_angstrom,
        spread_reference,
        spread_threshold_ev_per_angstrom,
    )

    committee = _tiny_committee(seed=2)
    single = _tiny_committee(n_members=1)
    reference = spread_reference(committee, frames[:5], max_configurations=3, seed=1)
    assert reference["n_configurations"] == 3
    every = [max_force_spread_ev_per_angstrom(committee, f) for f in frames[:5]]
    assert np.isclose(every, reference["max_ev_per_angstrom"]).any()  # one of the drawn frames
    assert spread_threshold_ev_per_angstrom(reference, 3.0) == pytest.approx(
        3.0 * reference["median_ev_per_angstrom"]
    )
    with pytest.raises(ValueError, match="no committee spread reference"):
        spread_threshold_ev_per_angstrom(None, 2.0)
    with pytest.raises(ValueError, match="must be positive"):
        spread_threshold_ev_per_angstrom(reference, 0.0)
    with pytest.raises(ValueError, match="at least two members"):
        max_force_spread_ev_per_angstrom(single, frames[0])
    with pytest.raises(ValueError, match="no configurations"):
        spread_reference(committee, [])


def test_message_block_starts_at_zero_sums_over_pairs_and_needs_them():
    """An untrained message block adds nothing; its messages are sums over the given pairs (a
    pair beyond the cutoff counts zero); bad settings and missing pairs give clear errors."""
    from aiida_clathrate.mlp import TrainingSettings
    from aiida_clathrate.mlp.messages import MessageBlock, PairBatch
    from aiida_clathrate.mlp.network import AttentionAtomicNetwork

    spec = DescriptorSpec(ELEMENTS, radial_order=3, angular_order=2)
    torch.manual_seed(0)
    plain = AttentionAtomicNetwork(spec, NetworkSpec(8, 2, (16,)))
    torch.manual_seed(0)
    passing = AttentionAtomicNetwork(spec, NetworkSpec(8, 2, (16,), message_layers=1))
    x, z = torch.randn(2, 3, spec.size), torch.tensor([[0, 2, 3], [1, 3, 3]])
    pairs = PairBatch(
        configuration=torch.tensor([0, 0, 1, 1]),
        centre=torch.tensor([0, 1, 2, 1]),
        neighbour=torch.tensor([1, 0, 1, 2]),
        vectors=torch.tensor([[1.5, 0, 0], [-1.5, 0, 0], [0, 2.0, 0], [0, -2.0, 0]]),
    )
    torch.testing.assert_close(passing(x, z, pairs), plain(x, z), rtol=0, atol=0)
    with pytest.raises(ValueError, match="needs .* features and pairs"):
        passing(x, z)

    torch.manual_seed(1)
    block = MessageBlock(spec.size, spec.n_species, 1, 8, 4, 4.5)
    with torch.no_grad():
        block.head.weight.normal_(0.0, 1.0)
    isolated = PairBatch(
        *(t[:0] for t in (pairs.configuration, pairs.centre, pairs.neighbour)), pairs.vectors[:0]
    )
    far = PairBatch(pairs.configuration, pairs.centre, pairs.neighbour, 3.5 * pairs.vectors)
    alone = block(x, z, isolated)
    assert not torch.allclose(block(x, z, pairs), alone)
    torch.testing.assert_close(block(x, z, far), alone, rtol=0, atol=1e-14)  # 5.25, 7 Å > 4.5 Å
    for name in ("dtype", "model_dtype"):
        with pytest.raises(ValueError, match=f"{name} must be one of"):
            TrainingSettings(**{name: "float16"})
    for bad in ({"message_layers": -1}, {"message_width": 0}, {"message_cutoff_angstrom": 0.0}):
        with pytest.raises(ValueError, match="message"):
            NetworkSpec(**bad)
        with pytest.raises(ValueError, match="message"):
            TrainingSettings(**bad)


def test_message_pairs_from_the_radial_list_equal_a_new_search(frames):
    """Pairs taken from the descriptor's radial neighbour list (which reaches further) are the
    pairs a search within the message cutoff finds, in the same order; a list that does not reach
    far enough is not used."""
    from aiida_clathrate.mlp.messages import FramePairs

    frame = frames[2]
    pos = torch.tensor(frame.positions_angstrom)
    cell = torch.tensor(frame.cell_angstrom)
    spec = DescriptorSpec(ELEMENTS, radial_cutoff_angstrom=6.0)
    radial = build_neighbours(pos, cell, frame.pbc, spec).radial
    for cutoff in (4.5, 6.0):
        searched = FramePairs.build(pos, cell, frame.pbc, cutoff)
        derived = FramePairs.build(pos, cell, frame.pbc, cutoff, radial, 6.0)
        assert len(searched.centre) > 14
        for a, b in zip(dataclasses.astuple(searched), dataclasses.astuple(derived), strict=True):
            torch.testing.assert_close(b, a, rtol=0, atol=1e-12)
    farther = FramePairs.build(pos, cell, frame.pbc, 7.0, radial, 6.0)  # searched again
    assert len(farther.centre) > len(FramePairs.build(pos, cell, frame.pbc, 6.0).centre)
