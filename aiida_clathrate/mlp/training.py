"""Training a committee on labelled frames: precomputed descriptor Jacobians, Adam, early stopping.

Descriptors and their exact derivatives with respect to positions and strain are computed once
per frame; forces and stresses of a network are then ``-(∂E/∂G)·(∂G/∂r)`` and
``(1/V)(∂E/∂G)·(∂G/∂ε)``, so a training step only differentiates the network (twice).
Memory per frame is about ``N_atoms² · D · 3`` numbers (0.8 MB for the 14-atom cell in float64).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .descriptors import DescriptorSpec, build_neighbours, descriptor_jacobians
from .frames import Frame
from .network import NetworkSpec
from .potential import DTYPES, CommitteePotential, MemberPotential

EV_PER_ANGSTROM3_IN_GPA = 160.21766208


@dataclasses.dataclass
class TrainingSettings:
    """Hyperparameters of :func:`train_committee` (defaults are the shipped settings)."""

    radial_cutoff_angstrom: float = 6.0
    radial_order: int = 12
    angular_cutoff_angstrom: float = 5.0
    angular_order: int = 10
    angular_inner_cutoff_angstrom: float | None = 3.0
    token_dim: int = 8
    n_heads: int = 2
    hidden: tuple[int, ...] = (32,)
    committee_size: int = 4
    seed: int = 0
    dtype: str = "float64"
    max_epochs: int = 100
    batch_size: int = 8
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    min_learning_rate: float = 1e-5
    lr_decay_factor: float = 0.5
    lr_patience_epochs: int = 20
    early_stopping_patience_epochs: int = 60
    valid_fraction: float = 0.1
    energy_weight: float = 100.0
    forces_weight: float = 1.0
    stress_weight: float = 0.0
    linear_ridge: float = 1e-8
    max_time_per_member_s: float | None = None
    elements: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        if self.elements is not None:
            self.elements = tuple(self.elements)
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        for name in ("max_epochs", "batch_size", "committee_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("energy_weight", "forces_weight", "stress_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainingSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training parameters {unknown}; known: {sorted(known)}")
        return cls(**values)

    def as_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["hidden"] = list(self.hidden)
        out["elements"] = list(self.elements) if self.elements is not None else None
        return out


@dataclasses.dataclass
class FeatureGroup:
    """Frames with the same atom count, stacked (B configurations, N atoms, D features)."""

    frame_indices: list[int]
    species: torch.Tensor  # (B, N)
    features: torch.Tensor  # (B, N, D)
    jac_positions: torch.Tensor  # (B, N, D, N, 3)
    jac_strain: torch.Tensor  # (B, N, D, 3, 3)
    volume: torch.Tensor  # (B,)
    energy: torch.Tensor  # (B,)
    forces: torch.Tensor  # (B, N, 3)
    stress: torch.Tensor  # (B, 3, 3)
    has_stress: torch.Tensor  # (B,) bool

    @property
    def n_atoms(self) -> int:
        return self.species.shape[1]

    def subset(self, rows: torch.Tensor) -> FeatureGroup:
        return FeatureGroup(
            [self.frame_indices[int(r)] for r in rows],
            *(getattr(self, f.name)[rows] for f in dataclasses.fields(self)[1:]),
        )


def featurise(
    frames: Sequence[Frame], spec: DescriptorSpec, dtype: str = "float64"
) -> list[FeatureGroup]:
    """Descriptors and Jacobians of all frames (computed in float64), grouped by atom count."""
    torch_dtype = DTYPES[dtype]
    by_size: dict[int, list[int]] = {}
    for index, frame in enumerate(frames):
        if frame.energy_ev is None or frame.forces_ev_per_angstrom is None:
            raise ValueError(f"frame {index} has no energy or forces label")
        by_size.setdefault(frame.n_atoms, []).append(index)
    groups = []
    for indices in by_size.values():
        rows = {k: [] for k in ("sp", "g", "jp", "js", "v", "e", "f", "s", "hs")}
        for index in indices:
            frame = frames[index]
            pos = torch.tensor(frame.positions_angstrom, dtype=torch.float64)
            cell = torch.tensor(frame.cell_angstrom, dtype=torch.float64)
            species = spec.species_indices(frame.symbols)
            neighbours = build_neighbours(pos, cell, frame.pbc, spec)
            g, jp, js = descriptor_jacobians(pos, cell, species, neighbours, spec)
            rows["sp"].append(species)
            rows["g"].append(g)
            rows["jp"].append(jp)
            rows["js"].append(js)
            rows["v"].append(torch.tensor(frame.volume_angstrom3 if all(frame.pbc) else 1.0))
            rows["e"].append(torch.tensor(frame.energy_ev))
            rows["f"].append(torch.tensor(frame.forces_ev_per_angstrom))
            stress = frame.stress_ev_per_angstrom3
            rows["hs"].append(torch.tensor(stress is not None and all(frame.pbc)))
            rows["s"].append(torch.tensor(stress if stress is not None else np.zeros((3, 3))))
        stack = {k: torch.stack(v) for k, v in rows.items()}
        groups.append(
            FeatureGroup(
                frame_indices=list(indices),
                species=stack["sp"],
                features=stack["g"].to(torch_dtype),
                jac_positions=stack["jp"].to(torch_dtype),
                jac_strain=stack["js"].to(torch_dtype),
                volume=stack["v"].to(torch_dtype),
                energy=stack["e"].to(torch_dtype),
                forces=stack["f"].to(torch_dtype),
                stress=stack["s"].to(torch_dtype),
                has_stress=stack["hs"],
            )
        )
    return groups


def group_predictions(
    member: MemberPotential, group: FeatureGroup, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Energies (B,), forces (B, N, 3) and stresses (B, 3, 3) of one member on a group."""
    features = group.features.detach().requires_grad_(True)
    energy = member.atomic_energies(features, group.species).sum(-1)
    (d_energy,) = torch.autograd.grad(energy.sum(), features, create_graph=create_graph)
    forces = -torch.einsum("bnd,bndmc->bmc", d_energy, group.jac_positions)
    d_strain = torch.einsum("bnd,bndxy->bxy", d_energy, group.jac_strain)
    stress = 0.5 * (d_strain + d_strain.transpose(1, 2)) / group.volume[:, None, None]
    return energy, forces, stress


def error_metrics(
    groups: Sequence[FeatureGroup], committee: CommitteePotential
) -> dict[str, float]:
    """RMSE and MAE of the committee mean: energy (meV/atom), forces (meV/Å), stress (GPa)."""
    de, df, ds, spread = [], [], [], []
    for group in groups:
        if len(group.frame_indices) == 0:
            continue
        outputs = [group_predictions(m, group) for m in committee.members]
        energies = torch.stack([o[0] for o in outputs]).detach()
        energy = energies.mean(0)
        forces = torch.stack([o[1] for o in outputs]).mean(0).detach()
        stress = torch.stack([o[2] for o in outputs]).mean(0).detach()
        de.append(((energy - group.energy) / group.n_atoms).numpy() * 1e3)
        df.append((forces - group.forces).reshape(-1).numpy() * 1e3)
        spread.append((energies.std(0, unbiased=False) / group.n_atoms).numpy() * 1e3)
        mask = group.has_stress
        ds.append(((stress - group.stress)[mask]).reshape(-1).numpy() * EV_PER_ANGSTROM3_IN_GPA)
    if not de:
        return {}
    de, df, ds = np.concatenate(de), np.concatenate(df), np.concatenate(ds)
    out = {
        "n_configurations": int(len(de)),
        "energy_rmse_mev_per_atom": float(np.sqrt(np.mean(de**2))),
        "energy_mae_mev_per_atom": float(np.mean(np.abs(de))),
        "forces_rmse_mev_per_angstrom": float(np.sqrt(np.mean(df**2))),
        "forces_mae_mev_per_angstrom": float(np.mean(np.abs(df))),
        "committee_energy_std_mev_per_atom": float(np.mean(np.concatenate(spread))),
    }
    if ds.size:
        out["stress_rmse_gpa"] = float(np.sqrt(np.mean(ds**2)))
        out["stress_mae_gpa"] = float(np.mean(np.abs(ds)))
    return out


def _fit_normalisation(
    member: MemberPotential, groups: Sequence[FeatureGroup], n_species: int
) -> None:
    features = torch.cat([g.features.reshape(-1, g.features.shape[-1]) for g in groups])
    species = torch.cat([g.species.reshape(-1) for g in groups])
    overall = features.std(0)
    for s in range(n_species):
        rows = features[species == s]
        if len(rows) == 0:
            continue
        member.feature_mean[s].copy_(rows.mean(0))
        std = rows.std(0) if len(rows) > 1 else overall
        member.feature_std[s].copy_(std.clamp_min(1e-6 * float(overall.max()) + 1e-12))
    counts = torch.cat(
        [
            torch.nn.functional.one_hot(g.species, n_species).sum(1).to(features.dtype)
            for g in groups
        ]
    )
    energies = torch.cat([g.energy for g in groups])
    n_atoms = counts.sum(1)
    present = counts.sum(0) > 0
    reference = torch.full((n_species,), float((energies / n_atoms).mean()), dtype=features.dtype)
    if torch.linalg.matrix_rank(counts[:, present]) == int(present.sum()):
        solution = torch.linalg.lstsq(counts[:, present], energies[:, None]).solution[:, 0]
        reference[present] = solution
    member.energy_reference_ev.copy_(reference)
    forces = torch.cat([g.forces.reshape(-1) for g in groups])
    member.energy_scale_ev.copy_(forces.pow(2).mean().sqrt().clamp_min(1e-3))


def _fit_linear_term(
    member: MemberPotential, groups: Sequence[FeatureGroup], settings: TrainingSettings
) -> None:
    """Ridge regression of the per-element linear term on energies (per atom) and forces."""
    n_species = member.energy_reference_ev.shape[0]
    size = member.feature_mean.shape[-1]
    normal = torch.zeros((n_species * size, n_species * size), dtype=torch.float64)
    rhs = torch.zeros(n_species * size, dtype=torch.float64)
    we = math.sqrt(settings.energy_weight)
    wf = math.sqrt(settings.forces_weight)
    for group in groups:
        if not len(group.frame_indices):
            continue
        onehot = torch.nn.functional.one_hot(group.species, n_species).double()
        std = member.feature_std.double()[group.species]  # (B, N, D)
        x = (group.features.double() - member.feature_mean.double()[group.species]) / std
        xe = torch.einsum("bns,bnd->bsd", onehot, x).reshape(len(x), -1) / group.n_atoms
        ref = member.energy_reference_ev.double()[group.species].sum(1)
        ye = (group.energy.double() - ref) / group.n_atoms
        jac = group.jac_positions.double() / std[:, :, :, None, None]
        xf = -torch.einsum("bns,bndmc->bmcsd", onehot, jac).reshape(-1, n_species * size)
        yf = group.forces.double().reshape(-1)
        normal += we**2 * xe.T @ xe + wf**2 * xf.T @ xf
        rhs += we**2 * xe.T @ ye + wf**2 * xf.T @ yf
    scale = float(torch.diagonal(normal).mean())
    ridge = settings.linear_ridge * scale * torch.eye(len(rhs), dtype=torch.float64)
    solution = torch.linalg.solve(normal + ridge, rhs)
    with torch.no_grad():
        member.linear_ev.copy_(solution.reshape(n_species, size).to(member.linear_ev.dtype))


def _loss(member, group, settings, create_graph=True):
    energy, forces, stress = group_predictions(member, group, create_graph=create_graph)
    loss = settings.energy_weight * (((energy - group.energy) / group.n_atoms) ** 2).mean()
    loss = loss + settings.forces_weight * ((forces - group.forces) ** 2).mean()
    if settings.stress_weight > 0 and bool(group.has_stress.any()):
        mask = group.has_stress
        loss = loss + settings.stress_weight * ((stress - group.stress)[mask] ** 2).mean()
    return loss


def _weighted_loss(member, groups, settings) -> float:
    total, count = 0.0, 0
    for group in groups:
        n = len(group.frame_indices)
        if n:
            total += float(_loss(member, group, settings, create_graph=False).detach()) * n
            count += n
    return total / max(count, 1)


@dataclasses.dataclass
class TrainingResult:
    """Trained committee, metrics per split and the learning curve of every member."""

    committee: CommitteePotential
    metrics: dict
    learning_curve: list[dict]


def split_groups(
    groups, fraction: float, seed: int
) -> tuple[list[FeatureGroup], list[FeatureGroup]]:
    """Seeded random split of every group into (train, validation)."""
    generator = torch.Generator().manual_seed(seed)
    train, valid = [], []
    for group in groups:
        n = len(group.frame_indices)
        order = torch.randperm(n, generator=generator)
        n_valid = max(1, int(round(fraction * n))) if n > 1 else 0
        valid.append(group.subset(order[:n_valid]))
        train.append(group.subset(order[n_valid:]))
    return train, valid


def train_member(
    member: MemberPotential,
    train: Sequence[FeatureGroup],
    valid: Sequence[FeatureGroup],
    settings: TrainingSettings,
    seed: int,
    log: Callable[[str], None] | None = None,
    member_index: int = 0,
) -> list[dict]:
    """Adam on the network (the linear term stays at its regression value) with plateau
    learning-rate decay and early stopping on ``valid``; keeps the best state."""
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.AdamW(
        member.network.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser,
        factor=settings.lr_decay_factor,
        patience=settings.lr_patience_epochs,
        min_lr=settings.min_learning_rate,
    )
    best_loss, best_state, best_epoch = math.inf, copy.deepcopy(member.state_dict()), 0
    curve = []
    start = time.perf_counter()
    batches_per_group = [
        math.ceil(len(g.frame_indices) / settings.batch_size) if len(g.frame_indices) else 0
        for g in train
    ]
    for epoch in range(1, settings.max_epochs + 1):
        member.train()
        epoch_loss, epoch_count = 0.0, 0
        schedule = [(gi, b) for gi, n in enumerate(batches_per_group) for b in range(n)]
        perms = [torch.randperm(len(g.frame_indices), generator=generator) for g in train]
        for k in torch.randperm(len(schedule), generator=generator).tolist():
            gi, b = schedule[k]
            rows = perms[gi][b * settings.batch_size : (b + 1) * settings.batch_size]
            batch = train[gi].subset(rows)
            optimiser.zero_grad()
            loss = _loss(member, batch, settings)
            loss.backward()
            optimiser.step()
            epoch_loss += float(loss.detach()) * len(rows)
            epoch_count += len(rows)
        member.eval()
        valid_loss = _weighted_loss(member, valid, settings)
        scheduler.step(valid_loss)
        lr = optimiser.param_groups[0]["lr"]
        curve.append(
            {
                "member": member_index,
                "epoch": epoch,
                "train_loss": epoch_loss / max(epoch_count, 1),
                "valid_loss": valid_loss,
                "learning_rate": lr,
                "elapsed_s": time.perf_counter() - start,
            }
        )
        if valid_loss < best_loss:
            best_loss, best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(member.state_dict())
        if log is not None and (epoch % 25 == 0 or epoch == 1):
            log(
                f"member {member_index} epoch {epoch}: train {curve[-1]['train_loss']:.4g} "
                f"valid {valid_loss:.4g} lr {lr:.2g}"
            )
        if epoch - best_epoch >= settings.early_stopping_patience_epochs:
            break
        if (
            lr <= settings.min_learning_rate * 1.0001
            and epoch - best_epoch >= settings.lr_patience_epochs
        ):
            break
        if (
            settings.max_time_per_member_s is not None
            and time.perf_counter() - start > settings.max_time_per_member_s
        ):
            break
    member.load_state_dict(best_state)
    return curve


def train_committee(
    frames: Sequence[Frame],
    settings: TrainingSettings | None = None,
    validation_frames: Sequence[Frame] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train a committee on labelled frames.

    Without ``validation_frames`` a seeded ``valid_fraction`` of ``frames`` is held out for early
    stopping and the validation metrics. Members differ in their seeds (initial weights and batch
    order). Returns the committee, metrics (train and validation) and the learning curves.
    """
    settings = settings or TrainingSettings()
    frames = list(frames)
    if not frames:
        raise ValueError("no training frames given")
    elements = settings.elements or tuple(
        sorted({s for f in frames for s in f.symbols}, key=_element_order)
    )
    descriptor = DescriptorSpec(
        elements=tuple(elements),
        radial_cutoff_angstrom=settings.radial_cutoff_angstrom,
        radial_order=settings.radial_order,
        angular_cutoff_angstrom=settings.angular_cutoff_angstrom,
        angular_order=settings.angular_order,
        angular_inner_cutoff_angstrom=settings.angular_inner_cutoff_angstrom,
    )
    network = NetworkSpec(settings.token_dim, settings.n_heads, settings.hidden)
    start = time.perf_counter()
    if validation_frames:
        train = featurise(frames, descriptor, settings.dtype)
        valid = featurise(list(validation_frames), descriptor, settings.dtype)
    else:
        train, valid = split_groups(
            featurise(frames, descriptor, settings.dtype), settings.valid_fraction, settings.seed
        )
    featurise_s = time.perf_counter() - start
    if log:
        log(f"descriptors and Jacobians of {len(frames)} frames in {featurise_s:.1f} s")
    torch.manual_seed(settings.seed)
    committee = CommitteePotential(
        descriptor, network, n_members=settings.committee_size, dtype=settings.dtype
    )
    curve: list[dict] = []
    for index, member in enumerate(committee.members):
        torch.manual_seed(settings.seed + 1000 * (index + 1))
        member.network.__init__(descriptor, network)
        member.to(committee.dtype)
        _fit_normalisation(member, train, descriptor.n_species)
        _fit_linear_term(member, train, settings)
        curve += train_member(
            member, train, valid, settings, settings.seed + index, log=log, member_index=index
        )
    committee.eval()
    metrics = {
        "train": error_metrics(train, committee),
        "validation": error_metrics(valid, committee),
        "featurise_time_s": featurise_s,
        "training_time_s": time.perf_counter() - start,
        "epochs_per_member": [
            max(c["epoch"] for c in curve if c["member"] == i)
            for i in range(settings.committee_size)
        ],
    }
    committee.metadata = {"settings": settings.as_dict(), "metrics": metrics}
    return TrainingResult(committee=committee, metrics=metrics, learning_curve=curve)


def _element_order(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers.get(symbol, 1000)
