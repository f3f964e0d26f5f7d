"""Training a committee on labelled frames: forces and stress in the loss, Adam, early stopping.

Two ways to put forces ``-∂E/∂r`` and stress ``(1/V) ∂E/∂ε`` into the loss
(``TrainingSettings.force_training``):

* ``"jacobian"``: descriptors and their exact derivatives with respect to positions and strain
  are computed once per frame; a training step only differentiates the network (twice).
  Memory per frame is ``N_atoms · D · (3 N_atoms + 9)`` numbers (1.7 MB for the 14-atom cell with
  the base descriptor in float64, 94 MB for the 112-atom supercell).
* ``"autograd"``: only descriptors (for the normalisation) and compact neighbour lists are kept;
  every step recomputes the descriptors of the batch from positions and a strain tensor and
  differentiates through them with ``create_graph=True`` (double backward), a chunk of at most
  ``AUTOGRAD_CHUNK_ATOMS`` atoms at a time. Memory is that of one chunk's graph.
* ``"auto"`` (default): ``"jacobian"`` while that path's estimated peak memory (the Jacobians
  of all frames plus batch temporaries, :func:`jacobian_peak_bytes`) fits in
  ``jacobian_memory_limit_gb``, otherwise ``"autograd"``.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import math
import numbers
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..units import EV_PER_ANGSTROM3_IN_GPA
from .descriptors import (
    DescriptorSpec,
    compute_descriptors,
    strained,
)
from .featurisation import (
    DTYPES,
    FeatureGroup,
    featurise,
    frame_jacobians,
    jacobian_memory_bytes,
)
from .frames import Frame
from .kernel import KernelFitSettings, KernelMember, fit_kernel_member
from .messages import PairBatch, batch_pairs, pair_vectors
from .network import ANGULAR_TOKENS, NetworkSpec
from .normalisation import FEATURE_STD_FLOOR, energy_references, feature_standardisation
from .potential import CommitteePotential, MemberPotential
from .stress import deviatoric, virial_stress
from .uncertainty import reference_from_spreads

FORCE_TRAINING_MODES = ("auto", "jacobian", "autograd")
#: TrainingSettings fields that define the descriptor (what ``descriptor_variants`` may change)
DESCRIPTOR_FIELDS = (
    "radial_cutoff_angstrom",
    "radial_order",
    "angular_cutoff_angstrom",
    "angular_order",
    "angular_inner_cutoff_angstrom",
    "angular_radial_order",
)
#: atoms per graph in the autograd path: a training batch is differentiated (and evaluation
#: done) in chunks of frames with at most this many atoms in all (at least one frame)
AUTOGRAD_CHUNK_ATOMS = 128


def scalar_type_error(name: str, annotation: str, value) -> str | None:
    """Why ``value`` does not fit a scalar field annotated ``int``, ``float``, ``bool`` or ``str``
    (optionally ``| None``), or None; other annotations are left to the field's own checks.
    1.5 for an int, True for a number and nan or inf for a float are refused."""
    base, optional = annotation, False
    if annotation.endswith("| None"):
        base, optional = annotation[: -len("| None")].strip(), True
    if value is None:
        return (
            None
            if optional or base not in ("int", "float", "bool", "str")
            else f"{name} must be set"
        )
    if base == "int" and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        return f"{name} must be an integer, got {value!r}"
    if base == "float" and (
        isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
    ):
        return f"{name} must be a finite number, got {value!r}"
    if base == "bool" and not isinstance(value, bool):
        return f"{name} must be true or false, got {value!r}"
    if base == "str" and not isinstance(value, str):
        return f"{name} must be a string, got {value!r}"
    return None


@dataclasses.dataclass
class TrainingSettings:
    """Hyperparameters of :func:`train_committee` (defaults are the shipped settings)."""

    radial_cutoff_angstrom: float = 6.0
    radial_order: int = 20
    angular_cutoff_angstrom: float = 5.0
    angular_order: int = 10
    angular_inner_cutoff_angstrom: float | None = 3.0
    angular_radial_order: int = 0
    token_dim: int = 8
    n_heads: int = 2
    hidden: tuple[int, ...] = (32,)
    #: attention tokens of the angular block: "species_pairs" or "channel_pairs" (NetworkSpec)
    angular_tokens: str = "species_pairs"
    #: learned message passing between neighbours (NetworkSpec; 0 layers: none, the default
    #: before 2026-12-01; 1 until the second session of 2026-12-01)
    message_layers: int = 2
    message_width: int = 32
    message_basis_size: int = 8
    message_cutoff_angstrom: float = 4.5
    committee_size: int = 4
    seed: int = 0
    #: precision of the training (descriptors, Jacobians, network); float32 since 2026-12-01
    dtype: str = "float32"
    #: precision of the returned committee (its metrics are computed before the cast)
    model_dtype: str = "float64"
    #: 300 and batch 8 until the third session of 2026-12-01 (batch 16: a fifth less time
    #: per epoch, the same errors within the seed spread; see docs/mlp.md)
    max_epochs: int = 200
    batch_size: int = 16
    #: a batch also holds at most this many atoms (at least one frame; None: no bound): the
    #: atoms of a 16-frame batch of the 14-atom cell, so larger cells take fewer frames a batch
    #: (two 112-atom supercells) and an epoch of them as many optimiser steps per atom as of the
    #: 14-atom cells (2026-12-07; batches of 16 supercells made 8 times fewer steps per atom)
    batch_max_atoms: int | None = 224
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    min_learning_rate: float = 1e-5
    lr_decay_factor: float = 0.5
    lr_patience_epochs: int = 20
    #: 30 and finetune_epochs 20 since 2026-12-05 (were 40 and 30): with the kernel member the
    #: same errors on three splits in under 600 s each (docs/mlp.md)
    early_stopping_patience_epochs: int = 30
    #: stage two after early stopping (0 epochs: none, the default before 2026-12-04): a
    #: fine-tune of the best weights with a larger energy weight and a small learning rate,
    #: which fits the energy's dependence on the volume (no force constrains it, so with the
    #: force-dominated loss of stage one members were off by up to 0.8 meV/atom at one lattice
    #: parameter); the best weights on the validation frames (stage-two loss) are kept
    finetune_epochs: int = 20
    finetune_energy_weight: float = 3000.0
    finetune_learning_rate: float = 1e-4
    #: exponential moving average of the network weights per optimiser step (0: off); the
    #: averaged weights are validated, kept and returned
    ema_decay: float = 0.0
    valid_fraction: float = 0.1
    #: consecutive frames that the validation split keeps together (2: an SSCHA population's
    #: ± pairs, whose members mirror each other, so that validation frames are unseen)
    split_block_frames: int = 1
    energy_weight: float = 100.0
    forces_weight: float = 1.0
    stress_weight: float = 0.0
    #: weight of the traceless (deviatoric) part of the stress error, (eV/Å³)⁻²: free of the
    #: isotropic Pulay stress of low-cutoff labels, and the only label on how the energy changes
    #: under shear, which cubic cells at a few lattice parameters never sample
    deviatoric_stress_weight: float = 0.0
    linear_ridge: float = 1e-8
    #: the closed-form fits (each member's linear term, the kernel member) read a seeded subset
    #: of the training frames with at most this many force components in all (None: every
    #: frame, the default): their cost is one descriptor Jacobian per frame read, 1.7 s for a
    #: 112-atom supercell. On the 14-atom split of docs/mlp.md, fits on 59 of 170 frames raised
    #: the errors from 0.515 / 48.6 to 0.818 / 62.9 (meV/atom, meV/Å; 2026-12-07)
    closed_form_max_force_rows: int | None = None
    max_time_per_member_s: float | None = None
    elements: tuple[str, ...] | None = None
    force_training: str = "auto"
    jacobian_memory_limit_gb: float = 2.0
    member_splits: bool = True
    #: descriptor overrides (``DESCRIPTOR_FIELDS``) cycled over the members: member k uses
    #: variant k mod len; the default gives every second member radially resolved angles
    descriptor_variants: tuple[dict, ...] = (
        {},
        {"angular_radial_order": 2, "angular_inner_cutoff_angstrom": None},
    )
    #: weight of the kernel member (:mod:`.kernel`, a closed-form quadratic model fitted to all
    #: training frames) in the committee's prediction; 0: none, as before 2026-12-05. Its errors
    #: correlate less with the networks' than theirs with each other (docs/mlp.md)
    kernel_weight: float = 0.5
    #: descriptor overrides (``DESCRIPTOR_FIELDS``) of the kernel member: radially resolved
    #: angles within 3.5 Å fitted best of the cutoffs 3.0-5.0 Å (docs/mlp.md)
    kernel_descriptor: dict = dataclasses.field(
        default_factory=lambda: {
            "angular_radial_order": 2,
            "angular_inner_cutoff_angstrom": None,
            "angular_cutoff_angstrom": 3.5,
        }
    )
    #: the kernel member's fit (:class:`~.kernel.KernelFitSettings`, whose defaults these are)
    kernel_energy_sigma_ev_per_atom: float = KernelFitSettings.energy_sigma_ev_per_atom
    kernel_forces_sigma_ev_per_angstrom: float = KernelFitSettings.forces_sigma_ev_per_angstrom
    kernel_regularisation: float = KernelFitSettings.regularisation
    kernel_linear_regularisation: float = KernelFitSettings.linear_regularisation
    kernel_deviatoric_stress_sigma_ev_per_angstrom3: float | None = (
        KernelFitSettings.deviatoric_stress_sigma_ev_per_angstrom3
    )
    kernel_max_centres_per_element: int = KernelFitSettings.max_centres_per_element

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            error = scalar_type_error(field.name, field.type, getattr(self, field.name))
            if error:
                raise ValueError(error)
        if self.max_time_per_member_s is not None and self.max_time_per_member_s <= 0:
            raise ValueError(
                f"max_time_per_member_s must be positive (or None), got {self.max_time_per_member_s}"
            )
        self.hidden = tuple(int(h) for h in self.hidden)
        self.descriptor_variants = tuple(dict(v) for v in self.descriptor_variants)
        self.kernel_descriptor = dict(self.kernel_descriptor)
        for name, variants in (
            ("descriptor_variants", self.descriptor_variants),
            ("kernel_descriptor", [self.kernel_descriptor]),
        ):
            for variant in variants:
                unknown = sorted(set(variant) - set(DESCRIPTOR_FIELDS))
                if unknown:
                    raise ValueError(
                        f"{name} may only set {list(DESCRIPTOR_FIELDS)}, got {unknown}"
                    )
        if not 0.0 <= self.kernel_weight < 1.0:
            raise ValueError(f"kernel_weight must be in [0, 1), got {self.kernel_weight}")
        self.kernel_fit_settings()  # validates the kernel fields
        if self.elements is not None:
            self.elements = tuple(self.elements)
        for name in ("dtype", "model_dtype"):
            if getattr(self, name) not in DTYPES:
                raise ValueError(
                    f"{name} must be one of {sorted(DTYPES)}, got {getattr(self, name)!r}"
                )
        if not 0.0 < self.valid_fraction < 1.0:
            raise ValueError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        for name in ("max_epochs", "batch_size", "committee_size", "split_block_frames"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.batch_max_atoms is not None and self.batch_max_atoms < 1:
            raise ValueError(
                f"batch_max_atoms must be at least 1 (or None), got {self.batch_max_atoms}"
            )
        if self.closed_form_max_force_rows is not None and self.closed_form_max_force_rows < 1:
            raise ValueError(
                "closed_form_max_force_rows must be at least 1 (or None), "
                f"got {self.closed_form_max_force_rows}"
            )
        if self.finetune_epochs < 0:
            raise ValueError(f"finetune_epochs must be non-negative, got {self.finetune_epochs}")
        for name in (
            "energy_weight",
            "forces_weight",
            "stress_weight",
            "deviatoric_stress_weight",
            "finetune_energy_weight",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        for name in ("learning_rate", "finetune_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.angular_tokens not in ANGULAR_TOKENS:
            raise ValueError(
                f"angular_tokens must be one of {list(ANGULAR_TOKENS)}, got {self.angular_tokens!r}"
            )
        self.network_spec()  # validates the network fields
        if self.force_training not in FORCE_TRAINING_MODES:
            raise ValueError(
                f"force_training must be one of {list(FORCE_TRAINING_MODES)}, "
                f"got {self.force_training!r}"
            )
        limit = self.jacobian_memory_limit_gb
        if not (isinstance(limit, int | float) and math.isfinite(limit) and limit >= 0):
            raise ValueError(
                f"jacobian_memory_limit_gb must be a finite number >= 0, got {limit!r}"
            )

    def stage_two(self) -> TrainingSettings:
        """The settings of the fine-tune after early stopping (``finetune_*``)."""
        return dataclasses.replace(
            self,
            energy_weight=self.finetune_energy_weight,
            learning_rate=self.finetune_learning_rate,
            max_epochs=max(self.finetune_epochs, 1),
            finetune_epochs=0,
        )

    def batch_frames(self, n_atoms: int) -> int:
        """Frames of ``n_atoms`` atoms in a training batch: ``batch_size``, fewer where
        ``batch_max_atoms`` bounds it, at least one."""
        if self.batch_max_atoms is None:
            return self.batch_size
        return max(1, min(self.batch_size, self.batch_max_atoms // n_atoms))

    def kernel_fit_settings(self) -> KernelFitSettings:
        """The fit of the kernel member these settings describe."""
        return KernelFitSettings(
            energy_sigma_ev_per_atom=self.kernel_energy_sigma_ev_per_atom,
            forces_sigma_ev_per_angstrom=self.kernel_forces_sigma_ev_per_angstrom,
            regularisation=self.kernel_regularisation,
            linear_regularisation=self.kernel_linear_regularisation,
            deviatoric_stress_sigma_ev_per_angstrom3=(
                self.kernel_deviatoric_stress_sigma_ev_per_angstrom3
            ),
            max_centres_per_element=self.kernel_max_centres_per_element,
            seed=self.seed,
        )

    def network_spec(self) -> NetworkSpec:
        """The atomic network these settings describe."""
        return NetworkSpec(
            self.token_dim,
            self.n_heads,
            self.hidden,
            angular_tokens=self.angular_tokens,
            message_layers=self.message_layers,
            message_width=self.message_width,
            message_basis_size=self.message_basis_size,
            message_cutoff_angstrom=self.message_cutoff_angstrom,
        )

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
        out["descriptor_variants"] = [dict(v) for v in self.descriptor_variants]
        out["kernel_descriptor"] = dict(self.kernel_descriptor)
        out["elements"] = list(self.elements) if self.elements is not None else None
        return out


#: peak memory of the jacobian path ≈ stored Jacobians + this many batches' worth (the batch copy
#: and the step's temporaries; 2.6 GB measured for 0.84 GB stored and a batch of 0.67 GB)
JACOBIAN_BATCH_COPIES = 3


def jacobian_peak_bytes(
    frames: Sequence[Frame],
    spec: DescriptorSpec | Sequence[DescriptorSpec],
    settings: TrainingSettings,
) -> int:
    """Estimated peak memory of the jacobian path: stored Jacobians (of every descriptor given)
    plus the temporaries of the largest batch (of the largest descriptor); a batch holds frames
    of one atom count only, so at most as many as there are of that count."""
    specs = [spec] if isinstance(spec, DescriptorSpec) else list(spec)
    if not frames:
        return 0
    counts = collections.Counter(f.n_atoms for f in frames)
    example = {f.n_atoms: f for f in frames}
    batch = max(
        min(settings.batch_frames(size), n)
        * jacobian_memory_bytes([example[size]], s, settings.dtype)
        for size, n in counts.items()
        for s in specs
    )
    stored = sum(jacobian_memory_bytes(frames, s, settings.dtype) for s in specs)
    return stored + JACOBIAN_BATCH_COPIES * batch


#: under ``"auto"`` frames with more atoms go on the autograd path even when their Jacobians fit:
#: with the addition-theorem descriptors it is the faster path there (2026-12-07,
#: benchmarks/mlp_supercell_training.py, float64, one thread, per frame and epoch: 14-atom cells
#: 0.006 s by the stored Jacobians against 0.025 s by autograd; 112-atom supercells 0.202 s
#: against 0.158 s, at 3.1 against 1.2 GB peak)
JACOBIAN_MAX_ATOMS = 64


def choose_force_training(
    frames: Sequence[Frame],
    spec: DescriptorSpec | Sequence[DescriptorSpec],
    settings: TrainingSettings,
) -> str:
    """``settings.force_training``, with ``"auto"`` resolved: the frames of at most
    :data:`JACOBIAN_MAX_ATOMS` atoms go on the jacobian path while the estimated peak memory of
    that path for them (:func:`jacobian_peak_bytes`, training and validation frames) fits in
    ``settings.jacobian_memory_limit_gb``, larger frames on the autograd path. Returns
    ``"jacobian"``, ``"autograd"`` or ``"mixed"`` (small frames by their Jacobians, large ones by
    autograd; a batch holds frames of one atom count, so each batch takes one path)."""
    if settings.force_training != "auto":
        return settings.force_training
    small = [f for f in frames if f.n_atoms <= JACOBIAN_MAX_ATOMS]
    if not small or jacobian_peak_bytes(small, spec, settings) / 1e9 > (
        settings.jacobian_memory_limit_gb
    ):
        return "autograd"
    return "jacobian" if len(small) == len(frames) else "mixed"


def _frame_descriptors(
    group: FeatureGroup, row: int, displacement: torch.Tensor, strain: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Descriptors (float64) of frame ``row`` of an autograd-path group, and its pair vectors
    when the group has pairs, differentiable with respect to ``displacement`` (N, 3) of the
    positions and ``strain`` (3, 3)."""
    positions, cell = strained(group.positions[row] + displacement, group.cells[row], strain)
    species = group.species[row]
    neighbours = group.neighbours[row].unpack()
    features = compute_descriptors(positions, cell, species, neighbours, group.spec)
    if group.pairs is None:
        return features, None
    p = group.pairs[row]
    return features, pair_vectors(positions, cell, p.centre, p.neighbour, p.shift)


def _autograd_predictions(
    members: Sequence[MemberPotential], group: FeatureGroup, create_graph: bool
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Energies, forces and stresses of each member on an autograd-path group.

    Descriptors are recomputed from displacements and strains (zero-valued leaves) and shared
    by the members. With ``create_graph`` the whole group is one graph (to be differentiated
    again); without, frames are taken in chunks of :func:`_chunk_size` and the results are
    detached (peak memory per chunk).
    """
    n_frames = len(group.frame_indices)
    dtype = group.features.dtype
    chunk = n_frames if create_graph else _chunk_size(group)
    parts: list[list[tuple[torch.Tensor, ...]]] = [[] for _ in members]
    for first in range(0, n_frames, chunk):
        rows = range(first, min(first + chunk, n_frames))
        displacement = torch.zeros(
            (len(rows), group.n_atoms, 3), dtype=torch.float64, requires_grad=True
        )
        strain = torch.zeros((len(rows), 3, 3), dtype=torch.float64, requires_grad=True)
        found = [
            _frame_descriptors(group, r, displacement[k], strain[k]) for k, r in enumerate(rows)
        ]
        features = torch.stack([f for f, _ in found]).to(dtype)
        pairs = None
        if group.pairs is not None:
            pairs = batch_pairs([group.pairs[r] for r in rows], dtype)
            pairs.vectors = torch.cat([v for _, v in found]).to(dtype)
        species = group.species[first : first + len(rows)]
        volume = group.volume[first : first + len(rows), None, None]
        for m, member in enumerate(members):
            energy = member.atomic_energies(features, species, pairs).sum(-1)
            grad_pos, grad_strain = torch.autograd.grad(
                energy.sum(),
                (displacement, strain),
                create_graph=create_graph,
                retain_graph=create_graph or m < len(members) - 1,
            )
            forces = -grad_pos.to(dtype)
            stress = virial_stress(grad_strain.to(dtype), volume)
            if not create_graph:
                energy, forces, stress = energy.detach(), forces.detach(), stress.detach()
            parts[m].append((energy, forces, stress))
    return [tuple(torch.cat(t) for t in zip(*p, strict=True)) for p in parts]


def _chunk_size(group: FeatureGroup) -> int:
    """Frames per autograd graph: at most ``AUTOGRAD_CHUNK_ATOMS`` atoms, at least one frame."""
    return max(1, AUTOGRAD_CHUNK_ATOMS // group.n_atoms)


def group_predictions(
    member: MemberPotential, group: FeatureGroup, create_graph: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Energies (B,), forces (B, N, 3) and stresses (B, 3, 3) of one member on a group."""
    if not group.has_jacobians:
        return _autograd_predictions([member], group, create_graph)[0]
    features = group.features.detach().requires_grad_(True)
    with_pairs = group.pairs is not None and member.uses_pairs
    if not with_pairs:
        energy = member.atomic_energies(features, group.species).sum(-1)
        (d_energy,) = torch.autograd.grad(energy.sum(), features, create_graph=create_graph)
    else:  # message passing: the pair vectors are leaves too
        pairs = batch_pairs(group.pairs, features.dtype)
        pairs.vectors.requires_grad_(True)
        energy = member.atomic_energies(features, group.species, pairs).sum(-1)
        d_energy, d_vectors = torch.autograd.grad(
            energy.sum(), (features, pairs.vectors), create_graph=create_graph
        )
    forces = -torch.einsum("bnd,bndmc->bmc", d_energy, group.jac_positions)
    d_strain = torch.einsum("bnd,bndxy->bxy", d_energy, group.jac_strain)
    if with_pairs:
        forces, d_strain = _add_pair_gradients(forces, d_strain, pairs, d_vectors)
    stress = virial_stress(d_strain, group.volume[:, None, None])
    return energy, forces, stress


def _add_pair_gradients(
    forces: torch.Tensor, d_strain: torch.Tensor, pairs: PairBatch, d_vectors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Add the energy's dependence through the pair vectors ``r_j + T - r_i`` (gradient
    ``d_vectors``) to the forces (B, N, 3) and the strain derivative (B, 3, 3)."""
    n_batch, n_atoms, _ = forces.shape
    flat = forces.reshape(n_batch * n_atoms, 3)
    flat = flat.index_add(0, pairs.configuration * n_atoms + pairs.neighbour, -d_vectors)
    flat = flat.index_add(0, pairs.configuration * n_atoms + pairs.centre, d_vectors)
    virial = pairs.vectors[:, :, None] * d_vectors[:, None, :]  # r' = r (I + ε)
    d_strain = d_strain.index_add(0, pairs.configuration, virial)
    return flat.reshape(n_batch, n_atoms, 3), d_strain


def error_metrics(
    groups: Sequence[FeatureGroup] | Mapping[DescriptorSpec, Sequence[FeatureGroup]],
    committee: CommitteePotential,
    with_force_spreads: bool = False,
) -> dict[str, float] | tuple[dict[str, float], np.ndarray]:
    """RMSE and MAE of the committee mean: energy (meV/atom), forces (meV/Å), stress (GPa).

    ``groups``: the featurised frames, or for a committee whose members (or kernel member) use
    different descriptors, the same frames featurised with each (:func:`featurise_committee`);
    the committee's combination with its kernel member (:meth:`CommitteePotential.combine`),
    the spread that of the networks. With
    ``with_force_spreads`` also the force spread of every configuration (eV/Å, the largest member
    standard deviation of a force component, :mod:`.uncertainty`).
    """
    if not isinstance(groups, Mapping):
        groups = list(groups)
        other = set(committee.feature_specs) - {g.spec for g in groups}
        if other:
            raise ValueError(
                f"{len(other)} member descriptor(s) of the committee differ from the one the "
                "frames were featurised with: use featurise_committee"
            )
        groups = {spec: groups for spec in committee.feature_specs}
    de, df, ds, dd, spread, force_spreads = [], [], [], [], [], []
    for index, group in enumerate(next(iter(groups.values()))):
        if len(group.frame_indices) == 0:
            continue
        outputs: list = [None] * len(committee.members)
        for spec, members in committee.descriptor_groups.items():
            found = _predictions([committee.members[m] for m in members], groups[spec][index])
            for m, output in zip(members, found, strict=True):
                outputs[m] = output
        kernel = [None] * 3
        if committee.kernel is not None:
            own = groups[committee.kernel.descriptor][index]
            kernel = [t.detach() for t in _predictions([committee.kernel], own)[0]]
        energies = torch.stack([o[0] for o in outputs]).detach()
        energy = committee.combine(energies.mean(0), kernel[0])
        member_forces = torch.stack([o[1] for o in outputs]).detach()
        forces = committee.combine(member_forces.mean(0), kernel[1])
        force_spreads.append(member_forces.std(0, unbiased=False).amax(dim=(1, 2)).numpy())
        stress = committee.combine(torch.stack([o[2] for o in outputs]).mean(0), kernel[2])
        stress = stress.detach()
        de.append(((energy - group.energy) / group.n_atoms).numpy() * 1e3)
        df.append((forces - group.forces).reshape(-1).numpy() * 1e3)
        spread.append((energies.std(0, unbiased=False) / group.n_atoms).numpy() * 1e3)
        mask = group.has_stress
        stress_errors = (stress - group.stress)[mask] * EV_PER_ANGSTROM3_IN_GPA
        ds.append(stress_errors.reshape(-1).numpy())
        dd.append(deviatoric(stress_errors).reshape(-1).numpy())
    if not de:
        return ({}, np.zeros(0)) if with_force_spreads else {}
    de, df, ds, dd = (np.concatenate(d) for d in (de, df, ds, dd))
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
        # the traceless part: free of the isotropic Pulay stress of low-cutoff labels
        out["stress_deviatoric_rmse_gpa"] = float(np.sqrt(np.mean(dd**2)))
    return (out, np.concatenate(force_spreads)) if with_force_spreads else out


def _predictions(
    members: Sequence[MemberPotential | KernelMember], group: FeatureGroup
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Energies, forces and stresses of each of ``members`` on a group (either path)."""
    if group.has_jacobians:
        return [group_predictions(member, group) for member in members]
    return _autograd_predictions(members, group, create_graph=False)


def featurise_committee(
    frames: Sequence[Frame],
    committee: CommitteePotential,
    dtype: str | None = None,
    jacobians: bool = True,
) -> dict[DescriptorSpec, list[FeatureGroup]]:
    """:func:`featurise` with each distinct descriptor of ``committee`` (members and kernel
    member), in ``dtype`` (default: the committee's)."""
    cutoff = committee.network_spec.pair_cutoff_angstrom
    return {
        spec: featurise(frames, spec, dtype or committee.dtype_name, jacobians, cutoff)
        for spec in committee.feature_specs
    }


def _fit_normalisation(
    member: MemberPotential,
    groups: Sequence[FeatureGroup],
    n_species: int,
    std_floor: float = FEATURE_STD_FLOOR,
) -> None:
    """Set the member's per-element descriptor standardisation
    (:func:`~.normalisation.feature_standardisation`), energy references
    (:func:`~.normalisation.energy_references`) and energy scale (RMS force) from ``groups``."""
    features = torch.cat([g.features.reshape(-1, g.features.shape[-1]) for g in groups])
    species = torch.cat([g.species.reshape(-1) for g in groups])
    mean, std = feature_standardisation(features, species, n_species, std_floor)
    member.feature_mean.copy_(mean)
    member.feature_std.copy_(std)
    counts = torch.cat(
        [
            torch.nn.functional.one_hot(g.species, n_species).sum(1).to(features.dtype)
            for g in groups
        ]
    )
    energies = torch.cat([g.energy for g in groups])
    member.energy_reference_ev.copy_(energy_references(counts, energies))
    forces = torch.cat([g.forces.reshape(-1) for g in groups])
    member.energy_scale_ev.copy_(forces.pow(2).mean().sqrt().clamp_min(1e-3))


def closed_form_frames(
    groups: Sequence[FeatureGroup], max_force_rows: int | None, seed: int
) -> list[FeatureGroup]:
    """The frames of ``groups`` that a closed-form fit reads: all of them while their force
    components (``3 N`` a frame) number at most ``max_force_rows`` (or it is None), otherwise a
    seeded random subset within that number (frames drawn in a random order, each taken while
    it fits, at least one)."""
    sizes = [3 * g.n_atoms for g in groups for _ in g.frame_indices]
    if max_force_rows is None or sum(sizes) <= max_force_rows:
        return list(groups)
    slots = [(gi, row) for gi, g in enumerate(groups) for row in range(len(g.frame_indices))]
    order = torch.randperm(len(slots), generator=torch.Generator().manual_seed(seed)).tolist()
    picked: list[list[int]] = [[] for _ in groups]
    used = 0
    for k in order:
        if used == 0 or used + sizes[k] <= max_force_rows:
            gi, row = slots[k]
            picked[gi].append(row)
            used += sizes[k]
    return [g.subset(sorted(rows)) for g, rows in zip(groups, picked, strict=True)]


def _fit_linear_term(
    member: MemberPotential, groups: Sequence[FeatureGroup], settings: TrainingSettings
) -> None:
    """Ridge regression of the member's per-element linear term on the energies (per atom) and
    forces of ``groups`` (:func:`_fit_linear_terms` with one member)."""
    _fit_linear_terms([member], [groups], groups, settings)


def _fit_linear_terms(
    members: Sequence[MemberPotential],
    trains: Sequence[Sequence[FeatureGroup]],
    read: Sequence[FeatureGroup],
    settings: TrainingSettings,
) -> None:
    """Ridge regression of each member's per-element linear term on the energies (per atom) and
    forces of its training frames (``trains``, one list a member) among ``read`` (frames of the
    members' descriptor, :func:`closed_form_frames`).

    The normal equations are accumulated frame by frame (the same order in both force-training
    paths), one frame's force-design rows at a time. The force rows of member k are the frame's
    per-element summed descriptor Jacobian divided column by column by the member's feature
    deviations, so they are accumulated unscaled and scaled per member at the end: a frame's
    Jacobian is computed once for all members, added to the sum over ``read`` and to the
    held-out sum of each member that does not train on it (subtracted at the end).
    """
    n_species = members[0].energy_reference_ev.shape[0]
    width = n_species * members[0].feature_mean.shape[-1]
    trained_on = [{i for g in train for i in g.frame_indices} for train in trains]

    # force statistics over every frame read, and over the frames each member does not train on
    # (None while there are none: a member without held-out frames needs no second matrix)
    forces_normal = torch.zeros((width, width), dtype=torch.float64)
    forces_rhs = torch.zeros(width, dtype=torch.float64)
    held: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * len(members)
    energy_rows: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in members]
    for group in read:
        if not len(group.frame_indices):
            continue
        for rows, jac_positions, _ in frame_jacobians(group):
            species = group.species[rows]
            onehot = torch.nn.functional.one_hot(species, n_species).double()
            xf = -torch.einsum("bns,bndmc->bmcsd", onehot, jac_positions.double())
            xf = xf.reshape(-1, width)
            yf = group.forces[rows].double().reshape(-1)
            normal, rhs = xf.T @ xf, xf.T @ yf
            forces_normal += normal
            forces_rhs += rhs
            index = group.frame_indices[rows.start]
            for k, (member, own) in enumerate(zip(members, trained_on, strict=True)):
                if index not in own:
                    if held[k] is None:
                        held[k] = (normal.clone(), rhs.clone())
                    else:
                        held[k][0].add_(normal)
                        held[k][1].add_(rhs)
                    continue
                mean, std = member.feature_mean.double(), member.feature_std.double()
                x = (group.features[rows].double() - mean[species]) / std[species]
                xe = torch.einsum("bns,bnd->bsd", onehot, x).reshape(1, -1) / group.n_atoms
                reference = member.energy_reference_ev.double()[species].sum(1)
                ye = (group.energy[rows].double() - reference) / group.n_atoms
                energy_rows[k].append((xe, ye))
    we2, wf2 = settings.energy_weight, settings.forces_weight
    for member, out, energy in zip(members, held, energy_rows, strict=True):
        if not energy:
            raise ValueError(
                "no training frame of a member among the frames the closed-form fits read: "
                "raise closed_form_max_force_rows"
            )
        own_normal, own_rhs = forces_normal, forces_rhs
        if out is not None:
            own_normal, own_rhs = forces_normal - out[0], forces_rhs - out[1]
        scale = 1.0 / member.feature_std.double().reshape(-1)
        xe, ye = (torch.cat(part) for part in zip(*energy, strict=True))  # a row per frame
        normal = we2 * xe.T @ xe + wf2 * (own_normal * scale[:, None] * scale[None, :])
        rhs = we2 * xe.T @ ye + wf2 * scale * own_rhs
        ridge = settings.linear_ridge * float(torch.diagonal(normal).mean())
        solution = torch.linalg.solve(normal + ridge * torch.eye(width, dtype=torch.float64), rhs)
        with torch.no_grad():
            member.linear_ev.copy_(
                solution.reshape(member.linear_ev.shape).to(member.linear_ev.dtype)
            )


def _loss_terms(
    predictions: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    group: FeatureGroup,
    settings: TrainingSettings,
    n_frames: int,
    n_stress: int,
) -> torch.Tensor:
    """Weighted squared errors of ``group``, normalised as means over a batch of ``n_frames``
    frames (``n_stress`` of them with stress) so that the parts of a batch add up to its loss."""
    energy, forces, stress = predictions
    loss = settings.energy_weight * (((energy - group.energy) / group.n_atoms) ** 2).sum()
    loss = loss / n_frames
    errors = ((forces - group.forces) ** 2).sum()
    loss = loss + settings.forces_weight * errors / (n_frames * group.n_atoms * 3)
    weighted = settings.stress_weight > 0 or settings.deviatoric_stress_weight > 0
    if weighted and n_stress > 0 and bool(group.has_stress.any()):
        difference = (stress - group.stress)[group.has_stress]
        if settings.stress_weight > 0:
            loss = loss + settings.stress_weight * (difference**2).sum() / (n_stress * 9)
        if settings.deviatoric_stress_weight > 0:
            errors = (deviatoric(difference) ** 2).sum()
            loss = loss + settings.deviatoric_stress_weight * errors / (n_stress * 9)
    return loss


def _loss(member, group, settings, create_graph=True):
    predictions = group_predictions(member, group, create_graph=create_graph)
    n_frames, n_stress = len(group.frame_indices), int(group.has_stress.sum())
    return _loss_terms(predictions, group, settings, n_frames, n_stress)


def _loss_and_gradients(
    member: MemberPotential, batch: FeatureGroup, settings: TrainingSettings
) -> float:
    """Loss of a training batch; its gradients are accumulated into the parameters' ``.grad``.

    Jacobian path: one graph. Autograd path: the descriptors are recomputed with a graph and
    forces and stress differentiated with ``create_graph=True`` (double backward), in chunks of
    frames (:func:`_chunk_size`), each chunk's part of the loss backpropagated before the next
    is built, so peak memory is that of one chunk (one frame of the 112-atom supercell).
    """
    if batch.has_jacobians:
        loss = _loss(member, batch, settings)
        loss.backward()
        return float(loss.detach())
    n_frames, n_stress = len(batch.frame_indices), int(batch.has_stress.sum())
    chunk, total = _chunk_size(batch), 0.0
    for first in range(0, n_frames, chunk):
        part = batch.subset(torch.arange(first, min(first + chunk, n_frames)))
        predictions = group_predictions(member, part, create_graph=True)
        loss = _loss_terms(predictions, part, settings, n_frames, n_stress)
        loss.backward()
        total += float(loss.detach())
    return total


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
    groups, fraction: float, seed: int, block_frames: int = 1
) -> tuple[list[FeatureGroup], list[FeatureGroup]]:
    """Seeded random split of every group into (train, validation), by blocks of
    ``block_frames`` consecutive frames (frame index // block_frames): a block is never split."""
    generator = torch.Generator().manual_seed(seed)
    train, valid = [], []
    for group in groups:
        rows_of_block: dict[int, list[int]] = {}
        for row, index in enumerate(group.frame_indices):
            rows_of_block.setdefault(index // block_frames, []).append(row)
        blocks = list(rows_of_block.values())
        order = torch.randperm(len(blocks), generator=generator).tolist()
        n_valid = max(1, int(round(fraction * len(blocks)))) if len(blocks) > 1 else 0
        valid.append(group.subset([r for k in order[:n_valid] for r in blocks[k]]))
        train.append(group.subset([r for k in order[n_valid:] for r in blocks[k]]))
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
    learning-rate decay and early stopping on ``valid``; keeps the best state (of the moving
    average of the weights when ``settings.ema_decay`` is set). Then, with
    ``settings.finetune_epochs``, stage two (:meth:`TrainingSettings.stage_two`) from that
    state, which stays a candidate. Rows of the learning curve carry their ``stage`` (1, 2)."""
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    curve = _train_stage(member, train, valid, settings, generator, start, log, member_index)
    if settings.finetune_epochs and not _out_of_time(settings, start):
        curve += _train_stage(
            member,
            train,
            valid,
            settings.stage_two(),
            generator,
            start,
            log,
            member_index,
            stage=2,
            first_epoch=len(curve) + 1,
        )
    return curve


def _train_stage(
    member: MemberPotential,
    train: Sequence[FeatureGroup],
    valid: Sequence[FeatureGroup],
    settings: TrainingSettings,
    generator: torch.Generator,
    start: float,
    log: Callable[[str], None] | None,
    member_index: int,
    stage: int = 1,
    first_epoch: int = 1,
) -> list[dict]:
    """One stage of :func:`train_member`: at most ``settings.max_epochs`` epochs from the
    member's state; the member ends in the stage's best state. From stage two on, the starting
    state is validated first and kept unless an epoch beats it."""
    parameters = list(member.network.parameters())
    average = [p.detach().clone() for p in parameters] if settings.ema_decay else None
    optimiser = torch.optim.AdamW(
        parameters, lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser,
        factor=settings.lr_decay_factor,
        patience=settings.lr_patience_epochs,
        min_lr=settings.min_learning_rate,
    )
    best_loss, best_state, best_epoch = math.inf, copy.deepcopy(member.state_dict()), 0
    if stage > 1:
        member.eval()
        best_loss = _weighted_loss(member, valid, settings)
    curve = []
    batch_frames = [settings.batch_frames(g.n_atoms) for g in train]
    batches_per_group = [
        math.ceil(len(g.frame_indices) / size) for g, size in zip(train, batch_frames, strict=True)
    ]
    for epoch in range(1, settings.max_epochs + 1):
        member.train()
        epoch_loss, epoch_count = 0.0, 0
        schedule = [(gi, b) for gi, n in enumerate(batches_per_group) for b in range(n)]
        perms = [torch.randperm(len(g.frame_indices), generator=generator) for g in train]
        for k in torch.randperm(len(schedule), generator=generator).tolist():
            gi, b = schedule[k]
            rows = perms[gi][b * batch_frames[gi] : (b + 1) * batch_frames[gi]]
            batch = train[gi].subset(rows)
            optimiser.zero_grad()
            loss = _loss_and_gradients(member, batch, settings)
            optimiser.step()
            if average is not None:
                with torch.no_grad():
                    torch._foreach_lerp_(average, parameters, 1.0 - settings.ema_decay)
            epoch_loss += loss * len(rows)
            epoch_count += len(rows)
        member.eval()
        if average is not None:  # validate (and keep) the averaged weights
            _swap(parameters, average)
        valid_loss = _weighted_loss(member, valid, settings)
        lr = optimiser.param_groups[0]["lr"]
        check_finite_losses(
            epoch_loss, valid_loss, member_index, stage, first_epoch + epoch - 1, lr
        )
        scheduler.step(valid_loss)
        curve.append(
            {
                "member": member_index,
                "stage": stage,
                "epoch": first_epoch + epoch - 1,
                "train_loss": epoch_loss / max(epoch_count, 1),
                "valid_loss": valid_loss,
                "learning_rate": lr,
                "elapsed_s": time.perf_counter() - start,
            }
        )
        if valid_loss < best_loss:
            best_loss, best_epoch = valid_loss, epoch
            best_state = copy.deepcopy(member.state_dict())
        if average is not None:
            _swap(parameters, average)
        if log is not None and (epoch % 25 == 0 or epoch == 1):
            log(
                f"member {member_index} stage {stage} epoch {curve[-1]['epoch']}: "
                f"train {curve[-1]['train_loss']:.4g} valid {valid_loss:.4g} lr {lr:.2g}"
            )
        if epoch - best_epoch >= settings.early_stopping_patience_epochs:
            break
        if (
            lr <= settings.min_learning_rate * 1.0001
            and epoch - best_epoch >= settings.lr_patience_epochs
        ):
            break
        if _out_of_time(settings, start):
            break
    member.load_state_dict(best_state)
    return curve


class TrainingDivergedError(ValueError):
    """A member's loss became non-finite (the console script's message starts with
    :data:`DIVERGED_MESSAGE`, which the AiiDA parser recognises)."""


#: Start of the error of a diverged training.
DIVERGED_MESSAGE = "training diverged"


def check_finite_losses(
    train_loss: float, valid_loss: float, member: int, stage: int, epoch: int, lr: float
) -> None:
    """Raise :class:`TrainingDivergedError` when an epoch's losses are not finite: the best state
    would otherwise stay the untrained one and the committee would look trained."""
    if math.isfinite(train_loss) and math.isfinite(valid_loss):
        return
    raise TrainingDivergedError(
        f"{DIVERGED_MESSAGE}: non-finite loss (train {train_loss}, validation {valid_loss}) in "
        f"member {member} stage {stage} epoch {epoch} at learning rate {lr:.3g}; "
        "lower learning_rate (and finetune_learning_rate)"
    )


def _out_of_time(settings: TrainingSettings, start: float) -> bool:
    """Whether the member that started training at ``start`` (perf_counter) is past
    ``settings.max_time_per_member_s``."""
    limit = settings.max_time_per_member_s
    return limit is not None and time.perf_counter() - start > limit


def _swap(parameters: list[torch.Tensor], other: list[torch.Tensor]) -> None:
    """Exchange the values of ``parameters`` and ``other`` in place."""
    with torch.no_grad():
        for p, q in zip(parameters, other, strict=True):
            held = p.detach().clone()
            p.copy_(q)
            q.copy_(held)


@contextlib.contextmanager
def deterministic_algorithms() -> Iterator[None]:
    """torch's deterministic algorithms while the block runs, the caller's setting after it.

    Float32 training on two threads gave different weights from run to run without them (two
    processes, same seed; float64 and one thread did not), at the same cost. ``warn_only``: an
    operation without a deterministic version warns instead of failing.
    """
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def train_committee(
    frames: Sequence[Frame],
    settings: TrainingSettings | None = None,
    validation_frames: Sequence[Frame] | None = None,
    log: Callable[[str], None] | None = None,
) -> TrainingResult:
    """Train a committee on labelled frames, with torch's deterministic algorithms
    (:func:`deterministic_algorithms`).

    Without ``validation_frames`` a seeded ``valid_fraction`` of ``frames`` is held out for early
    stopping and the validation metrics; with ``settings.member_splits`` (default) every member
    holds out its own fraction (seed + member index), so the committee sees all frames and the
    validation metrics pool each member's errors on the frames it did not see
    (``metrics["validation_kind"]``). Members also differ in initial weights and batch order.
    Forces and stress enter the loss through stored descriptor Jacobians or by double backward
    (``settings.force_training``, see the module docstring); ``metrics["force_training"]`` says
    which. With ``settings.kernel_weight`` the committee's kernel member (:mod:`.kernel`) is
    fitted in closed form to the frames the networks train on (all of them with member splits,
    whose pooled validation metrics are then the networks' alone) and summarised in
    ``metrics["kernel"]``. Returns the committee, metrics (train and validation and, for
    committees, the ``committee_spread_reference`` of :mod:`.uncertainty`) and the learning
    curves.
    """
    with deterministic_algorithms():
        return _train_committee(frames, settings or TrainingSettings(), validation_frames, log)


def _train_committee(
    frames: Sequence[Frame],
    settings: TrainingSettings,
    validation_frames: Sequence[Frame] | None,
    log: Callable[[str], None] | None,
) -> TrainingResult:
    """:func:`train_committee` without the deterministic-algorithms context."""
    frames = list(frames)
    if not frames:
        raise ValueError("no training frames given")
    elements = settings.elements or tuple(
        sorted({s for f in frames for s in f.symbols}, key=_element_order)
    )
    base = {name: getattr(settings, name) for name in DESCRIPTOR_FIELDS}
    descriptor = DescriptorSpec(elements=tuple(elements), **base)
    member_descriptors = [
        DescriptorSpec(elements=tuple(elements), **(base | variant))
        for variant in _member_variants(settings)
    ]
    specs = list(dict.fromkeys(member_descriptors))
    kernel_spec = None
    if settings.kernel_weight > 0:
        kernel_spec = DescriptorSpec(
            elements=tuple(elements), **(base | settings.kernel_descriptor)
        )
    network = settings.network_spec()
    cutoff = network.pair_cutoff_angstrom
    validation_frames = list(validation_frames or [])
    all_frames = frames + validation_frames
    # the kernel member's descriptor too, for its fit and the metrics
    stored = list(dict.fromkeys(specs + ([kernel_spec] if kernel_spec else [])))
    force_training = choose_force_training(all_frames, stored, settings)
    jacobian_gb = jacobian_peak_bytes(all_frames, stored, settings) / 1e9
    jacobians = force_training != "autograd"
    largest = JACOBIAN_MAX_ATOMS if force_training == "mixed" else None
    start = time.perf_counter()

    def features(frame_set, spec, pairs_cutoff=None):
        return featurise(frame_set, spec, settings.dtype, jacobians, pairs_cutoff, largest)

    every = {s: features(frames, s, cutoff) for s in specs}
    if validation_frames:
        given = {s: features(validation_frames, s, cutoff) for s in specs}
    if kernel_spec is not None and kernel_spec not in every:
        every[kernel_spec] = features(frames, kernel_spec)
        if validation_frames:
            given[kernel_spec] = features(validation_frames, kernel_spec)
    featurise_s = time.perf_counter() - start
    if log:
        log(
            f"force training {force_training!r} (Jacobians would take {jacobian_gb:.3g} GB, "
            f"limit {settings.jacobian_memory_limit_gb:g} GB); descriptors"
            f"{' and Jacobians' if jacobians else ''} of {len(all_frames)} frames in "
            f"{featurise_s:.1f} s"
        )
    bagged = settings.member_splits and not validation_frames and settings.committee_size > 1
    # splits depend on the seed and the group sizes only: the same frames for every descriptor
    if validation_frames:
        shared = {s: (every[s], given[s]) for s in every}
    elif not bagged:  # one split for every member, made once
        shared = {
            s: split_groups(
                every[s], settings.valid_fraction, settings.seed, settings.split_block_frames
            )
            for s in every
        }
    else:  # a split per member, made when the member trains
        shared = None

    torch.manual_seed(settings.seed)
    committee = CommitteePotential(
        descriptor,
        network,
        n_members=settings.committee_size,
        dtype=settings.dtype,
        member_descriptors=member_descriptors,
        kernel_descriptor=kernel_spec,
        kernel_weight=settings.kernel_weight,
    )
    kernel_summary = None
    if kernel_spec is not None:
        # the frames the networks train on: all of them when every member has its own split
        kernel_groups = shared[kernel_spec][0] if shared else every[kernel_spec]
        read = closed_form_frames(kernel_groups, settings.closed_form_max_force_rows, settings.seed)
        fitted_kernel, kernel_summary = fit_kernel_member(read, settings.kernel_fit_settings(), log)
        committee.kernel.load_state_dict(fitted_kernel.state_dict())
        kernel_summary["n_frames"] = sum(len(g.frame_indices) for g in read)
    splits = [
        shared[spec]
        if shared
        else split_groups(
            every[spec], settings.valid_fraction, settings.seed + index, settings.split_block_frames
        )
        for index, spec in enumerate(member_descriptors)
    ]
    for member, spec, (train, _) in zip(committee.members, member_descriptors, splits, strict=True):
        _fit_normalisation(member, train, spec.n_species)
    for spec in specs:  # the linear terms: one Jacobian per frame read for all its members
        own = [k for k, s in enumerate(member_descriptors) if s == spec]
        pool = every[spec] if bagged else splits[own[0]][0]
        _fit_linear_terms(
            [committee.members[k] for k in own],
            [splits[k][0] for k in own],
            closed_form_frames(pool, settings.closed_form_max_force_rows, settings.seed),
            settings,
        )
    curve: list[dict] = []
    out_of_bag: list[tuple[MemberPotential, list[FeatureGroup]]] = []
    for index, (member, (train, valid)) in enumerate(zip(committee.members, splits, strict=True)):
        torch.manual_seed(settings.seed + 1000 * (index + 1))
        member.network.__init__(member_descriptors[index], network)
        member.to(committee.dtype)
        curve += train_member(
            member, train, valid, settings, settings.seed + index, log=log, member_index=index
        )
        out_of_bag.append((member, valid))
    committee.eval()
    if bagged:
        # every member held out its own frames: pool each member's errors on them
        validation = _pooled_metrics(out_of_bag)
        train = every
    else:
        train = {s: shared[s][0] for s in every}
        validation = error_metrics({s: shared[s][1] for s in every}, committee)
    train_metrics, train_spreads = error_metrics(train, committee, with_force_spreads=True)
    metrics = {
        "train": train_metrics,
        "validation": validation,
        "validation_kind": "members on their own held-out frames" if bagged else "committee",
        "force_training": force_training,
        "jacobian_memory_estimate_gb": jacobian_gb,
        "featurise_time_s": featurise_s,
        "training_time_s": time.perf_counter() - start,
        "epochs_per_member": [
            max(c["epoch"] for c in curve if c["member"] == i)
            for i in range(settings.committee_size)
        ],
    }
    if kernel_spec is not None:
        kernel_summary["weight"] = settings.kernel_weight
        kernel_summary["train"] = error_metrics(
            {kernel_spec: train[kernel_spec]}, _Single(committee.kernel, kernel_spec)
        )
        metrics["kernel"] = kernel_summary
    if settings.committee_size > 1:
        # the spread on configurations like those trained on: the active engine's yardstick
        metrics["committee_spread_reference"] = reference_from_spreads(
            train_spreads, max(f.n_atoms for f in frames)
        )
    committee.metadata = {"settings": settings.as_dict(), "metrics": metrics}
    committee.set_dtype(settings.model_dtype)
    return TrainingResult(committee=committee, metrics=metrics, learning_curve=curve)


def _member_variants(settings: TrainingSettings) -> list[dict]:
    """Descriptor overrides of each member: ``descriptor_variants`` cycled over the committee."""
    variants = settings.descriptor_variants or ({},)
    return [dict(variants[k % len(variants)]) for k in range(settings.committee_size)]


def _pooled_metrics(pairs: Sequence[tuple[MemberPotential, list[FeatureGroup]]]) -> dict:
    """Metrics of single members on their own held-out groups, pooled (weighted by frames)."""
    parts = [
        (
            error_metrics(groups, _Single(member, member.network.descriptor)),
            sum(len(g.frame_indices) for g in groups),
        )
        for member, groups in pairs
    ]
    parts = [(m, n) for m, n in parts if m]
    if not parts:
        return {}
    total = sum(n for _, n in parts)
    out = {"n_configurations": total}
    for key in parts[0][0]:
        if key == "n_configurations":
            continue
        values = [(m[key], n) for m, n in parts if key in m]
        if "rmse" in key:
            out[key] = math.sqrt(sum(v**2 * n for v, n in values) / sum(n for _, n in values))
        else:
            out[key] = sum(v * n for v, n in values) / sum(n for _, n in values)
    return out


@dataclasses.dataclass
class _Single:
    """A one-member view (a network or the kernel member, with its descriptor) with the
    attributes :func:`error_metrics` reads."""

    member: MemberPotential | KernelMember
    spec: DescriptorSpec
    kernel = None

    @property
    def members(self) -> list[MemberPotential | KernelMember]:
        return [self.member]

    @property
    def descriptor_groups(self) -> dict[DescriptorSpec, list[int]]:
        return {self.spec: [0]}

    @property
    def feature_specs(self) -> list[DescriptorSpec]:
        return [self.spec]

    def combine(self, network_mean: torch.Tensor, kernel: torch.Tensor | None) -> torch.Tensor:
        return network_mean


def _element_order(symbol: str) -> int:
    from ase.data import atomic_numbers

    return atomic_numbers.get(symbol, 1000)
