"""The two ways of training on forces and stress (stored Jacobians, double backward) agree."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from aiida_clathrate.mlp import (
    CommitteePotential,
    DescriptorSpec,
    Frame,
    NetworkSpec,
    TrainingSettings,
    read_frames,
    train_committee,
    training,
)
from aiida_clathrate.mlp.featurisation import featurise, jacobian_memory_bytes
from aiida_clathrate.mlp.training import (
    JACOBIAN_MAX_ATOMS,
    _fit_linear_term,
    _fit_normalisation,
    _loss,
    _loss_and_gradients,
    choose_force_training,
    error_metrics,
    group_predictions,
    jacobian_peak_bytes,
)

torch.set_num_threads(1)
ELEMENTS = ("K", "Rb", "B", "C")


@pytest.fixture(scope="module")
def frames(shared_dir):
    return read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:12")


def supercell(frame: Frame, repeat=(2, 2, 2)) -> Frame:
    """The frame repeated (energy times the cell count, forces tiled, stress unchanged)."""
    count = int(np.prod(repeat))
    offsets = (
        np.array(
            [
                [i, j, k]
                for i in range(repeat[0])
                for j in range(repeat[1])
                for k in range(repeat[2])
            ]
        )
        @ frame.cell_angstrom
    )
    positions = (frame.positions_angstrom[None, :, :] + offsets[:, None, :]).reshape(-1, 3)
    return Frame(
        symbols=frame.symbols * count,
        positions_angstrom=positions,
        cell_angstrom=np.array(repeat)[:, None] * frame.cell_angstrom,
        energy_ev=frame.energy_ev * count,
        forces_ev_per_angstrom=np.tile(frame.forces_ev_per_angstrom, (count, 1)),
        stress_ev_per_angstrom3=frame.stress_ev_per_angstrom3,
    )


@pytest.mark.parametrize("message_layers", [0, 2])
def test_loss_gradients_and_metrics_equal_in_both_paths(frames, monkeypatch, message_layers):
    """One batch, stress in the loss: loss, parameter gradients, ridge fit and metrics agree
    (the autograd path as one graph and in chunks of two frames), also with message passing
    (whose pair vectors the jacobian path maps onto forces and virial itself)."""
    spec = DescriptorSpec(
        ELEMENTS, radial_order=5, angular_order=4, angular_inner_cutoff_angstrom=3.0
    )
    network = NetworkSpec(8, 2, (16,), message_layers=message_layers, message_width=8)
    cutoff = network.pair_cutoff_angstrom
    settings = TrainingSettings(stress_weight=3.0)
    batch = frames[:4]
    assert all(f.stress_ev_per_angstrom3 is not None for f in batch)
    (jacobian,) = featurise(batch, spec, pair_cutoff=cutoff)
    (autograd,) = featurise(batch, spec, jacobians=False, pair_cutoff=cutoff)
    assert jacobian.has_jacobians and not autograd.has_jacobians and autograd.jac_positions is None
    assert (jacobian.pairs is None) == (message_layers == 0)
    torch.testing.assert_close(autograd.features, jacobian.features, rtol=0, atol=0)

    torch.manual_seed(5)
    committee = CommitteePotential(spec, network, n_members=2)
    member = committee.members[0]
    _fit_normalisation(member, [jacobian], spec.n_species)
    _fit_linear_term(member, [jacobian], settings)
    linear = member.linear_ev.detach().clone()
    _fit_linear_term(member, [autograd], settings)  # per-frame Jacobians, same normal equations
    torch.testing.assert_close(member.linear_ev.detach(), linear, rtol=1e-12, atol=1e-12)
    for m in committee.members:  # a non-trivial network (output heads start at zero in training)
        m.load_state_dict(member.state_dict())
        with torch.no_grad():
            m.network.heads.weight.normal_(0.0, 0.3)
            if message_layers:
                m.network.messages.head.weight.normal_(0.0, 0.3)

    def loss_and_gradients(group, chunk_atoms=None, one_graph=False):
        if chunk_atoms is not None:
            monkeypatch.setattr(training, "AUTOGRAD_CHUNK_ATOMS", chunk_atoms)
        member.zero_grad()
        if one_graph:
            loss = _loss(member, group, settings)
            loss.backward()
            loss = float(loss.detach())
        else:
            loss = _loss_and_gradients(member, group, settings)
        monkeypatch.undo()
        return loss, {n: p.grad.clone() for n, p in member.named_parameters()}

    loss_j, grads_j = loss_and_gradients(jacobian)
    scale = max(float(g.abs().max()) for g in grads_j.values())
    assert scale > 0
    assert training._chunk_size(autograd) >= 4  # 14-atom frames: the batch is one chunk
    for options in ({}, {"one_graph": True}, {"chunk_atoms": 28}):
        loss_a, grads_a = loss_and_gradients(autograd, **options)
        assert loss_a == pytest.approx(loss_j, rel=1e-12), options
        assert set(grads_a) == set(grads_j)
        for name, grad in grads_j.items():
            torch.testing.assert_close(grads_a[name], grad, rtol=0, atol=1e-10 * scale, msg=name)

    # the stress term is really in both losses
    no_stress = TrainingSettings(stress_weight=0.0)
    loss_ns = float(_loss(member, autograd, no_stress, create_graph=False))
    assert loss_j - loss_ns > 1e-3 * loss_j

    predictions_j = group_predictions(member, jacobian)
    predictions_a = group_predictions(member, autograd)
    for j, a in zip(predictions_j, predictions_a, strict=True):
        torch.testing.assert_close(a.detach(), j.detach(), rtol=1e-12, atol=1e-12)
    metrics_j = error_metrics([jacobian], committee)
    for chunk_atoms in (128, 28):
        monkeypatch.setattr(training, "AUTOGRAD_CHUNK_ATOMS", chunk_atoms)
        metrics_a = error_metrics([autograd], committee)
        assert metrics_a.keys() == metrics_j.keys() and "stress_rmse_gpa" in metrics_a
        for key, value in metrics_j.items():
            assert metrics_a[key] == pytest.approx(value, rel=1e-10, abs=1e-12), key


@pytest.mark.parametrize("message_layers", [0, 1])
def test_short_training_same_in_both_paths(frames, message_layers):
    """Same seed, few epochs: the autograd path lowers the loss and gives the jacobian path's
    learning curve and metrics (also with message passing)."""
    base = dict(
        message_layers=message_layers,
        message_width=8,
        learning_rate=3e-3,  # the loss must fall within four epochs
        radial_order=4,
        angular_order=3,
        token_dim=8,
        hidden=(16,),
        committee_size=1,
        max_epochs=4,
        finetune_epochs=2,  # stage two goes through the same path
        batch_size=4,
        valid_fraction=0.25,
        stress_weight=1.0,
        seed=3,
        dtype="float64",  # the paths agree to rounding: float64 to compare at 1e-10
    )
    runs = {
        mode: train_committee(frames, TrainingSettings(force_training=mode, **base))
        for mode in ("jacobian", "autograd")
    }
    assert runs["jacobian"].metrics["force_training"] == "jacobian"
    assert runs["autograd"].metrics["force_training"] == "autograd"
    network = runs["jacobian"].committee.network_spec
    assert network.message_layers == message_layers
    assert (runs["autograd"].committee.members[0].network.messages is None) == (not message_layers)
    curve_j, curve_a = runs["jacobian"].learning_curve, runs["autograd"].learning_curve
    assert len(curve_a) == len(curve_j) == 6
    assert [row["stage"] for row in curve_a] == [1, 1, 1, 1, 2, 2]
    assert min(row["train_loss"] for row in curve_a[1:4]) < curve_a[0]["train_loss"]
    for row_j, row_a in zip(curve_j, curve_a, strict=True):
        for key in ("train_loss", "valid_loss", "learning_rate"):
            assert row_a[key] == pytest.approx(row_j[key], rel=1e-10), (row_j["epoch"], key)
    for split in ("train", "validation"):
        metrics_j, metrics_a = runs["jacobian"].metrics[split], runs["autograd"].metrics[split]
        assert metrics_a.keys() == metrics_j.keys()
        for key, value in metrics_j.items():
            assert metrics_a[key] == pytest.approx(value, rel=1e-10, abs=1e-12), (split, key)


def test_auto_choice_follows_the_jacobian_memory(frames):
    spec = DescriptorSpec(ELEMENTS, angular_inner_cutoff_angstrom=3.0)  # default descriptor
    cells = [supercell(f) for f in frames[:3]]
    assert cells[0].n_atoms == 112
    per_frame = 112 * spec.size * (3 * 112 + 9) * 8
    assert jacobian_memory_bytes(cells, spec) == 3 * per_frame  # about 84 MB a frame
    assert jacobian_memory_bytes(cells, spec, "float32") == 3 * per_frame // 2
    small = TrainingSettings(jacobian_memory_limit_gb=0.1, dtype="float64")
    assert choose_force_training(cells, spec, small) == "autograd"
    # the peak counts the stored Jacobians and three batches' worth of temporaries
    pairs = TrainingSettings(batch_size=2, dtype="float64")
    assert jacobian_peak_bytes(cells, spec, pairs) == (3 + 3 * 2) * per_frame
    # 0.76 GB < 2 GB, but supercells are faster by autograd: large frames never go by Jacobians
    assert choose_force_training(cells, spec, pairs) == "autograd"
    single = dataclasses.replace(pairs, dtype="float32")  # the default: half the bytes
    assert jacobian_peak_bytes(cells, spec, single) == (3 + 3 * 2) * per_frame // 2
    wide = TrainingSettings(dtype="float64", batch_size=8, batch_max_atoms=None)
    # a batch holds frames of one size: three supercells among small cells fill no batch of 8
    mixed = cells + list(frames)
    stored = jacobian_memory_bytes(mixed, spec)
    assert jacobian_peak_bytes(mixed, spec, wide) == stored + 3 * 3 * per_frame
    many = cells * 4  # 12 supercells: a full batch of 8
    assert jacobian_peak_bytes(many, spec, wide) == (12 + 3 * 8) * per_frame
    bounded = dataclasses.replace(wide, batch_max_atoms=224)  # the default: two supercells
    assert jacobian_peak_bytes(many, spec, bounded) == (12 + 3 * 2) * per_frame
    assert choose_force_training(many, spec, wide) == "autograd"  # 36 x 84 MB
    # small cells with supercells: the small ones by their Jacobians, the supercells by autograd
    assert choose_force_training(mixed, spec, wide) == "mixed"
    assert choose_force_training(many + list(frames), spec, wide) == "mixed"  # small ones fit
    assert choose_force_training(frames, spec, small) == "jacobian"  # 14-atom cells: 1.3 MB each
    forced = TrainingSettings(force_training="jacobian", jacobian_memory_limit_gb=0.0)
    assert choose_force_training(cells, spec, forced) == "jacobian"

    # end to end on 112-atom cells: auto with a small limit trains by double backward
    settings = TrainingSettings(
        radial_order=3,
        angular_order=2,
        angular_inner_cutoff_angstrom=None,
        hidden=(8,),
        committee_size=1,
        max_epochs=1,
        finetune_epochs=0,
        batch_size=2,
        jacobian_memory_limit_gb=0.001,
    )
    result = train_committee(cells[:2], settings, validation_frames=cells[2:])
    assert result.metrics["force_training"] == "autograd"
    assert result.metrics["jacobian_memory_estimate_gb"] > 0.001
    assert result.metrics["validation"]["n_configurations"] == 1
    assert np.isfinite(result.metrics["validation"]["forces_rmse_mev_per_angstrom"])


def test_mixed_paths_train_as_autograd_alone(frames):
    """Small cells by their Jacobians and supercells by autograd (``auto`` with both) give the
    autograd path's learning curve and metrics, float64 to rounding; each group took its path."""
    cells = [supercell(f) for f in frames[:2]]
    training = list(frames[:6]) + cells[:1]
    validation = list(frames[6:8]) + cells[1:]
    base = dict(
        radial_order=3,
        angular_order=2,
        angular_inner_cutoff_angstrom=None,
        hidden=(8,),
        committee_size=1,
        max_epochs=2,
        finetune_epochs=0,
        batch_size=4,
        seed=2,
        dtype="float64",
        kernel_weight=0.0,
    )
    mixed = train_committee(training, TrainingSettings(**base), validation_frames=validation)
    alone = train_committee(
        training,
        TrainingSettings(force_training="autograd", **base),
        validation_frames=validation,
    )
    assert mixed.metrics["force_training"] == "mixed"
    for row_m, row_a in zip(mixed.learning_curve, alone.learning_curve, strict=True):
        for key in ("train_loss", "valid_loss"):
            assert row_m[key] == pytest.approx(row_a[key], rel=1e-10), key
    for key, value in alone.metrics["validation"].items():
        assert mixed.metrics["validation"][key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
    spec = mixed.committee.member_descriptors[0]
    groups = featurise(training, spec, "float64", True, None, JACOBIAN_MAX_ATOMS)
    assert {g.n_atoms: g.has_jacobians for g in groups} == {14: True, 112: False}


def test_force_training_setting_is_validated_and_old_settings_load():
    with pytest.raises(ValueError, match="force_training must be one of"):
        TrainingSettings(force_training="double-backward")
    with pytest.raises(ValueError, match="jacobian_memory_limit_gb"):
        TrainingSettings(jacobian_memory_limit_gb=-1.0)
    with pytest.raises(ValueError, match="force_training must be one of"):
        TrainingSettings.from_dict({"force_training": "Autograd"})
    old = TrainingSettings().as_dict()
    del old["force_training"], old["jacobian_memory_limit_gb"]
    loaded = TrainingSettings.from_dict(old)  # settings saved before the option existed
    assert loaded.force_training == "auto" and loaded.jacobian_memory_limit_gb == 2.0
    assert TrainingSettings.from_dict({"force_training": "autograd"}).force_training == "autograd"


def test_weight_average_is_validated_and_kept(frames):
    """``ema_decay``: the averaged weights are what is validated and returned; the optimiser's
    weights keep training (so the result differs from a run without averaging)."""
    spec = DescriptorSpec(ELEMENTS, radial_order=4, angular_order=3)
    settings = TrainingSettings(
        max_epochs=4, finetune_epochs=0, batch_size=4, ema_decay=0.8, hidden=(16,)
    )
    train, valid = featurise(frames[:9], spec), featurise(frames[9:], spec)

    def trained(ema_decay: float):
        torch.manual_seed(2)
        member = CommitteePotential(spec, NetworkSpec(8, 2, (16,)), n_members=1).members[0]
        _fit_normalisation(member, train, spec.n_species)
        run = dataclasses.replace(settings, ema_decay=ema_decay)
        _fit_linear_term(member, train, run)
        curve = training.train_member(member, train, valid, run, seed=4)
        return member, curve

    member, curve = trained(0.8)
    best = min(row["valid_loss"] for row in curve)
    assert training._weighted_loss(member, valid, settings) == pytest.approx(best, rel=1e-12)
    plain, plain_curve = trained(0.0)
    assert plain_curve[0]["train_loss"] == pytest.approx(curve[0]["train_loss"], rel=1e-12)
    assert plain_curve[-1]["valid_loss"] != pytest.approx(curve[-1]["valid_loss"], rel=1e-6)
    with pytest.raises(ValueError, match="ema_decay"):
        TrainingSettings(ema_decay=1.0)


def test_stage_two_fine_tune_fits_energies_and_keeps_its_start_unless_beaten(frames):
    """Stage two (``finetune_*``) continues from stage one's best weights with a larger energy
    weight and its own learning rate; its starting state stays a candidate, so a fine-tune that
    only makes things worse hands back stage one's weights."""
    spec = DescriptorSpec(ELEMENTS, radial_order=4, angular_order=3)
    train = featurise(frames, spec, "float64")
    base = TrainingSettings(
        max_epochs=6, finetune_epochs=0, batch_size=4, hidden=(16,), learning_rate=3e-3
    )

    def trained(**changes):
        torch.manual_seed(2)
        member = CommitteePotential(spec, NetworkSpec(8, 2, (16,)), n_members=1).members[0]
        run = dataclasses.replace(base, **changes)
        _fit_normalisation(member, train, spec.n_species)
        _fit_linear_term(member, train, run)
        # validated on the training frames, so that keeping the best follows the objective
        return member, training.train_member(member, train, train, run, seed=4)

    def energy_rmse(member) -> float:
        energy, _, _ = group_predictions(member, train[0])
        return float((((energy - train[0].energy) / train[0].n_atoms) ** 2).mean().sqrt())

    first, first_curve = trained()
    tuning = {"finetune_epochs": 5, "finetune_energy_weight": 1e4}
    tuned, curve = trained(**tuning)  # the default finetune_learning_rate, 1e-4
    assert [row["stage"] for row in curve] == [1] * 6 + [2] * 5
    assert [row["epoch"] for row in curve] == list(range(1, 12))
    for before, after in zip(first_curve, curve[:6], strict=True):  # stage one as without
        assert after["valid_loss"] == before["valid_loss"]
    stage_two = dataclasses.replace(base, **tuning).stage_two()
    assert (stage_two.energy_weight, stage_two.learning_rate) == (1e4, 1e-4)
    assert (stage_two.max_epochs, stage_two.finetune_epochs) == (5, 0)
    start = training._weighted_loss(first, train, stage_two)
    assert training._weighted_loss(tuned, train, stage_two) < start
    assert energy_rmse(tuned) < energy_rmse(first)
    # a learning rate that wrecks the weights: no epoch beats the start, stage one's weights stay
    wrecked, curve = trained(**tuning, finetune_learning_rate=10.0)
    assert min(row["valid_loss"] for row in curve[6:]) > start
    kept, original = wrecked.state_dict(), first.state_dict()
    assert kept.keys() == original.keys()
    assert all(torch.equal(kept[name], original[name]) for name in kept)
    for bad, match in (
        ({"finetune_epochs": -1}, "finetune_epochs must be non-negative"),
        ({"finetune_learning_rate": 0.0}, "finetune_learning_rate must be positive"),
        ({"finetune_energy_weight": -1.0}, "finetune_energy_weight must be non-negative"),
    ):
        with pytest.raises(ValueError, match=match):
            TrainingSettings(**bad)


def test_standardisation_stays_bounded_in_independently_displaced_supercells(frames):
    """In the 14-atom cells images move together (an atom's own images not at all relative to
    it), so some descriptor components of the metal atoms barely vary; in a supercell whose atoms move
    independently those components must not sit hundreds of deviations from the mean."""
    spec = DescriptorSpec(ELEMENTS, radial_order=8, angular_order=6)
    (small,) = featurise(frames, spec, jacobians=False)
    big = supercell(frames[0])
    rng = np.random.default_rng(7)
    displaced = dataclasses.replace(
        big, positions_angstrom=big.positions_angstrom + rng.normal(0.0, 0.04, (big.n_atoms, 3))
    )
    (large,) = featurise([displaced], spec, jacobians=False)

    def largest_score(std_floor: float) -> float:
        member = CommitteePotential(spec, NetworkSpec(8, 2, (16,)), n_members=1).members[0]
        training._fit_normalisation(member, [small], spec.n_species, std_floor)
        mean, std = member.feature_mean[large.species], member.feature_std[large.species]
        return float(((large.features - mean) / std).abs().max())

    assert largest_score(0.0) > 100  # unfloored: the frozen components blow up
    assert largest_score(training.FEATURE_STD_FLOOR) < 20


def test_validation_split_keeps_blocks_of_frames_together(frames):
    """``split_block_frames=2`` holds out SSCHA ± pairs whole; 1 is the plain frame split."""
    spec = DescriptorSpec(ELEMENTS, radial_order=2, angular_order=1)
    (group,) = featurise(frames, spec, "float64", jacobians=False)
    train, valid = training.split_groups([group], 0.25, seed=4, block_frames=2)
    held, kept = valid[0].frame_indices, train[0].frame_indices
    assert sorted(held + kept) == list(range(12)) and len(held) == 4  # 2 of the 6 pairs
    assert {i // 2 for i in held}.isdisjoint({i // 2 for i in kept})
    # frame by frame: the rows of a seeded permutation, as before blocks existed
    order = torch.randperm(12, generator=torch.Generator().manual_seed(4)).tolist()
    train, valid = training.split_groups([group], 0.25, seed=4)
    assert (valid[0].frame_indices, train[0].frame_indices) == (order[:3], order[3:])
    with pytest.raises(ValueError, match="split_block_frames must be at least 1"):
        TrainingSettings(split_block_frames=0)


def test_training_runs_with_deterministic_algorithms_and_restores_the_setting(frames):
    """Float32 training on two threads differed from run to run without torch's deterministic
    algorithms; they are on while a committee trains and the caller's setting comes back."""
    seen = []
    settings = TrainingSettings(
        radial_order=2,
        angular_order=1,
        hidden=(8,),
        committee_size=1,
        max_epochs=1,
        finetune_epochs=1,
    )

    def log(message: str) -> None:
        seen.append(torch.are_deterministic_algorithms_enabled())

    assert not torch.are_deterministic_algorithms_enabled()
    train_committee(frames, settings, log=log)
    assert seen and all(seen)
    assert not torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        train_committee(frames, settings)
        assert torch.are_deterministic_algorithms_enabled()
        assert not torch.is_deterministic_algorithms_warn_only_enabled()
    finally:
        torch.use_deterministic_algorithms(False)


def test_deviatoric_stress_term_counts_only_the_traceless_error(frames):
    """``deviatoric_stress_weight``: an isotropic stress error (like the labels' Pulay stress)
    adds nothing to the loss, a traceless one adds weight · Σ error² / (9 · frames); the metrics
    report the traceless part's RMSE."""
    spec = DescriptorSpec(ELEMENTS, radial_order=4, angular_order=3)
    (group,) = featurise(frames[:4], spec)
    committee = CommitteePotential(spec, NetworkSpec(8, 2, (16,)), n_members=1, dtype="float64")
    stress = group_predictions(committee.members[0], group)[2].detach()
    n = len(group.frame_indices)
    settings = TrainingSettings(deviatoric_stress_weight=7.0)
    energy, forces = group.energy, group.forces  # exact: only the stress term is left
    plain = training._loss_terms((energy, forces, group.stress), group, settings, n, n)
    assert float(plain) == 0.0
    isotropic = group.stress + 0.01 * torch.eye(3, dtype=torch.float64)
    traceless = [[0.01, 0.02, 0.0], [0.02, -0.01, 0.0], [0.0, 0.0, 0.0]]
    shear = group.stress + torch.tensor(traceless, dtype=torch.float64)
    for labels, extra in ((isotropic, 0.0), (shear, 7.0 * 1e-3 / 9)):
        loss = training._loss_terms((energy, forces, labels), group, settings, n, n)
        assert float(loss) == pytest.approx(extra, rel=1e-9, abs=1e-15)
    with pytest.raises(ValueError, match="deviatoric_stress_weight must be non-negative"):
        TrainingSettings(deviatoric_stress_weight=-1.0)
    metrics = error_metrics([group], committee)
    error = (stress - group.stress).numpy()
    traceless = error - np.trace(error, axis1=1, axis2=2)[:, None, None] / 3 * np.eye(3)
    expected = np.sqrt(np.mean(traceless**2)) * training.EV_PER_ANGSTROM3_IN_GPA
    assert metrics["stress_deviatoric_rmse_gpa"] == pytest.approx(expected, rel=1e-9)
    assert metrics["stress_deviatoric_rmse_gpa"] < metrics["stress_rmse_gpa"]


def test_batches_hold_at_most_batch_max_atoms(frames, monkeypatch):
    """``batch_max_atoms`` bounds the frames a batch takes by their atoms (at least one frame):
    16 cells of 14 atoms, two 112-atom supercells; an epoch on five supercells makes three
    steps (2, 2, 1 frames)."""
    settings = TrainingSettings()
    assert [settings.batch_frames(n) for n in (14, 28, 112, 300)] == [16, 8, 2, 1]
    assert TrainingSettings(batch_max_atoms=None).batch_frames(112) == 16
    with pytest.raises(ValueError, match="batch_max_atoms must be at least 1"):
        TrainingSettings(batch_max_atoms=0)
    seen = []
    step = training._loss_and_gradients

    def counting(member, batch, settings):
        seen.append(len(batch.frame_indices))
        return step(member, batch, settings)

    monkeypatch.setattr(training, "_loss_and_gradients", counting)
    cells = [supercell(f) for f in frames[:6]]
    small = dict(radial_order=3, angular_order=2, angular_inner_cutoff_angstrom=None)
    train_committee(
        cells[:5],
        TrainingSettings(
            **small,
            hidden=(8,),
            message_layers=0,
            committee_size=1,
            max_epochs=1,
            finetune_epochs=0,
            kernel_weight=0.0,
        ),
        validation_frames=cells[5:],
    )
    assert sorted(seen) == [1, 2, 2]


def test_closed_form_fits_read_a_bounded_seeded_subset(frames):
    """``closed_form_max_force_rows``: all frames while they fit, else a seeded subset within
    the bound (at least one frame); the trained members' linear term and the kernel member are
    fitted to that subset."""
    spec = DescriptorSpec(ELEMENTS, radial_order=3, angular_order=2)
    groups = featurise(list(frames[:10]) + [supercell(frames[10])], spec, "float64")
    rows = {g.n_atoms: len(g.frame_indices) for g in groups}
    assert rows == {14: 10, 112: 1}
    for bound in (None, 10 * 42 + 336):  # all of them: the groups themselves
        kept = training.closed_form_frames(groups, bound, 0)
        assert len(kept) == len(groups) and all(a is b for a, b in zip(kept, groups, strict=True))

    def read(bound, seed):
        chosen = training.closed_form_frames(groups, bound, seed)
        return sorted(i for g in chosen for i in g.frame_indices)

    for bound in (400, 200, 10):
        chosen = training.closed_form_frames(groups, bound, 3)
        used = sum(3 * g.n_atoms * len(g.frame_indices) for g in chosen)
        assert 0 < used <= max(bound, 336) and read(bound, 3) == read(bound, 3)
    assert len(read(10, 3)) == 1
    assert read(200, 3) != read(200, 4)

    base = dict(
        radial_order=3,
        angular_order=2,
        angular_inner_cutoff_angstrom=None,
        descriptor_variants=({},),
        hidden=(8,),
        message_layers=0,
        committee_size=1,
        max_epochs=1,
        finetune_epochs=0,
        dtype="float64",
        kernel_descriptor={},
        kernel_max_centres_per_element=8,
        seed=5,
    )
    bounded = TrainingSettings(closed_form_max_force_rows=100, **base)
    result = train_committee(frames[:8], bounded, validation_frames=frames[8:10])
    assert result.metrics["kernel"]["n_frames"] == 2  # 2 x 42 force components <= 100
    member = result.committee.members[0]
    train = featurise(frames[:8], member.network.descriptor, "float64")
    fitted = member.linear_ev.detach().clone()
    for chosen, expected in (
        (training.closed_form_frames(train, 100, bounded.seed), True),
        (train, False),
    ):
        _fit_linear_term(member, chosen, bounded)
        assert torch.allclose(member.linear_ev, fitted, rtol=1e-9, atol=1e-12) == expected


def test_linear_terms_of_several_members_equal_their_own_fits(frames):
    """Members with their own held-out frames get from one pass over the frames (one Jacobian
    each) the linear terms of a fit to their own training frames alone, in both paths."""
    spec = DescriptorSpec(ELEMENTS, radial_order=3, angular_order=2)
    network = NetworkSpec(8, 2, (8,), message_layers=0)
    settings = TrainingSettings(dtype="float64")
    for jacobians in (True, False):
        groups = featurise(frames[:10], spec, "float64", jacobians)
        members = [training.MemberPotential(spec, network).double() for _ in range(2)]
        trains = [training.split_groups(groups, 0.3, seed)[0] for seed in (1, 2)]
        assert trains[0][0].frame_indices != trains[1][0].frame_indices
        for member, train in zip(members, trains, strict=True):
            _fit_normalisation(member, train, spec.n_species)
        training._fit_linear_terms(members, trains, groups, settings)
        for member, train in zip(members, trains, strict=True):
            shared = member.linear_ev.detach().clone()
            _fit_linear_term(member, train, settings)
            largest = float(member.linear_ev.abs().max())  # a ridge of 1e-8: badly conditioned
            assert largest > 1e-3
            assert float((shared - member.linear_ev).abs().max()) < 1e-7 * largest


def test_linear_terms_refuse_a_member_without_frames_read(frames):
    """A bound so small that a member's training frames are all left out is a clear error."""
    spec = DescriptorSpec(ELEMENTS, radial_order=3, angular_order=2)
    groups = featurise(frames[:4], spec, "float64")
    member = training.MemberPotential(spec, NetworkSpec(8, 2, (8,), message_layers=0)).double()
    _fit_normalisation(member, groups, spec.n_species)
    train = [groups[0].subset([0, 1])]
    with pytest.raises(ValueError, match="raise closed_form_max_force_rows"):
        training._fit_linear_terms(
            [member], [train], [groups[0].subset([2, 3])], TrainingSettings()
        )
