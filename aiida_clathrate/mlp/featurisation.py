"""Descriptors of labelled frames for fitting: grouped by atom count, with their derivatives.

:func:`featurise` computes every frame's descriptors once and stacks frames of one atom count
into a :class:`FeatureGroup`, with either the exact descriptor Jacobians (positions and strain)
or what is needed to recompute them (positions, cells, compact neighbour lists). The networks'
training and the kernel member's fit both read these groups.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from .descriptors import (
    DescriptorSpec,
    StructureNeighbours,
    build_neighbours,
    compute_descriptors,
    descriptor_jacobians,
)
from .frames import Frame
from .messages import FramePairs
from .neighbours import PaddedNeighbours

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclasses.dataclass
class StoredNeighbours:
    """Compact copy of a :class:`StructureNeighbours` (int32 indices, int8/int16 shifts)."""

    radial: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    angular: tuple[torch.Tensor, torch.Tensor, torch.Tensor]

    @staticmethod
    def _pack(nb: PaddedNeighbours) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shift = nb.shift.round()
        small = bool(shift.abs().max() <= 127) if shift.numel() else True
        shift = shift.to(torch.int8 if small else torch.int16)
        return nb.index.to(torch.int32), shift, nb.mask.clone()

    @staticmethod
    def _unpack(packed: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> PaddedNeighbours:
        index, shift, mask = packed
        return PaddedNeighbours(index=index.long(), shift=shift.to(torch.float64), mask=mask)

    @classmethod
    def pack(cls, neighbours: StructureNeighbours) -> StoredNeighbours:
        return cls(cls._pack(neighbours.radial), cls._pack(neighbours.angular))

    def unpack(self) -> StructureNeighbours:
        return StructureNeighbours(self._unpack(self.radial), self._unpack(self.angular))


@dataclasses.dataclass
class FeatureGroup:
    """Frames with the same atom count, stacked (B configurations, N atoms, D features).

    ``spec`` is the descriptor the features were computed with. The Jacobian path holds
    ``jac_positions`` and ``jac_strain``; the autograd path holds instead the float64
    ``positions`` and ``cells`` and the compact ``neighbours`` of every frame, from which a step
    recomputes the descriptors. ``pairs`` (both paths) are the frames' pairs within the message
    cutoff of a network with message passing.
    """

    frame_indices: list[int]
    species: torch.Tensor  # (B, N)
    features: torch.Tensor  # (B, N, D)
    volume: torch.Tensor  # (B,)
    energy: torch.Tensor  # (B,)
    forces: torch.Tensor  # (B, N, 3)
    stress: torch.Tensor  # (B, 3, 3)
    has_stress: torch.Tensor  # (B,) bool
    jac_positions: torch.Tensor | None = None  # (B, N, D, N, 3)
    jac_strain: torch.Tensor | None = None  # (B, N, D, 3, 3)
    positions: torch.Tensor | None = None  # (B, N, 3) float64
    cells: torch.Tensor | None = None  # (B, 3, 3) float64
    neighbours: list[StoredNeighbours] | None = None
    spec: DescriptorSpec | None = None
    pairs: list[FramePairs] | None = None  # per frame, for networks with message passing

    @property
    def n_atoms(self) -> int:
        return self.species.shape[1]

    @property
    def has_jacobians(self) -> bool:
        return self.jac_positions is not None

    def subset(self, rows: torch.Tensor) -> FeatureGroup:
        rows = torch.as_tensor(rows, dtype=torch.long).reshape(-1)
        picked = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None or isinstance(value, DescriptorSpec):
                picked[field.name] = value
            elif isinstance(value, torch.Tensor):
                picked[field.name] = value[rows]
            else:
                picked[field.name] = [value[int(r)] for r in rows]
        return FeatureGroup(**picked)


def jacobian_memory_bytes(
    frames: Sequence[Frame], spec: DescriptorSpec, dtype: str = "float64"
) -> int:
    """Bytes that the stored descriptor Jacobians (positions and strain) of ``frames`` take."""
    itemsize = torch.empty((), dtype=DTYPES[dtype]).element_size()
    return sum(f.n_atoms * spec.size * (3 * f.n_atoms + 9) * itemsize for f in frames)


def featurise(
    frames: Sequence[Frame],
    spec: DescriptorSpec,
    dtype: str = "float64",
    jacobians: bool = True,
    pair_cutoff: float | None = None,
    jacobian_max_atoms: int | None = None,
) -> list[FeatureGroup]:
    """Descriptors of all frames (computed in float64), grouped by atom count.

    With ``jacobians`` their derivatives with respect to positions and strain are stored too
    (for the groups of at most ``jacobian_max_atoms`` atoms, when given); without, the positions,
    cells and compact neighbour lists (for the autograd path). With ``pair_cutoff`` (message
    passing) the pairs of every frame within it.
    """
    torch_dtype = DTYPES[dtype]
    by_size: dict[int, list[int]] = {}
    for index, frame in enumerate(frames):
        if frame.energy_ev is None or frame.forces_ev_per_angstrom is None:
            raise ValueError(f"frame {index} has no energy or forces label")
        by_size.setdefault(frame.n_atoms, []).append(index)
    groups = []
    for indices in by_size.values():
        n_frames, n_atoms = len(indices), frames[indices[0]].n_atoms
        stored = jacobians and (jacobian_max_atoms is None or n_atoms <= jacobian_max_atoms)
        rows = {k: [] for k in ("sp", "g", "v", "e", "f", "s", "hs", "pos", "cell", "nb", "pr")}
        if stored:  # filled in place: peak memory is the stored Jacobians plus one frame
            jac_pos = torch.empty((n_frames, n_atoms, spec.size, n_atoms, 3), dtype=torch_dtype)
            jac_strain = torch.empty((n_frames, n_atoms, spec.size, 3, 3), dtype=torch_dtype)
        for row, index in enumerate(indices):
            frame = frames[index]
            pos = torch.tensor(frame.positions_angstrom, dtype=torch.float64)
            cell = torch.tensor(frame.cell_angstrom, dtype=torch.float64)
            species = spec.species_indices(frame.symbols)
            neighbours = build_neighbours(pos, cell, frame.pbc, spec)
            if pair_cutoff is not None:
                rows["pr"].append(
                    FramePairs.build(
                        pos,
                        cell,
                        frame.pbc,
                        pair_cutoff,
                        neighbours.radial,
                        spec.radial_cutoff_angstrom,
                    )
                )
            if stored:
                g, jp, js = descriptor_jacobians(pos, cell, species, neighbours, spec)
                jac_pos[row] = jp
                jac_strain[row] = js
                del jp, js
            else:
                with torch.no_grad():
                    g = compute_descriptors(pos, cell, species, neighbours, spec)
                rows["pos"].append(pos)
                rows["cell"].append(cell)
                rows["nb"].append(StoredNeighbours.pack(neighbours))
            rows["sp"].append(species)
            rows["g"].append(g)
            # float64 tensors: torch.tensor of a Python float is float32 (a 2800 eV total energy
            # then rounds by up to 1.2e-4 eV, 0.009 meV/atom, before the metrics' dtype applies)
            volume = frame.volume_angstrom3 if all(frame.pbc) else 1.0
            rows["v"].append(torch.tensor(volume, dtype=torch.float64))
            rows["e"].append(torch.tensor(frame.energy_ev, dtype=torch.float64))
            rows["f"].append(torch.tensor(frame.forces_ev_per_angstrom))
            stress = frame.stress_ev_per_angstrom3
            rows["hs"].append(torch.tensor(stress is not None and all(frame.pbc)))
            rows["s"].append(torch.tensor(stress if stress is not None else np.zeros((3, 3))))
        stack = {k: torch.stack(v) for k, v in rows.items() if v and k not in ("nb", "pr")}
        group = FeatureGroup(
            frame_indices=list(indices),
            species=stack["sp"],
            features=stack["g"].to(torch_dtype),
            volume=stack["v"].to(torch_dtype),
            energy=stack["e"].to(torch_dtype),
            forces=stack["f"].to(torch_dtype),
            stress=stack["s"].to(torch_dtype),
            has_stress=stack["hs"],
            spec=spec,
            pairs=rows["pr"] or None,
        )
        if stored:
            group.jac_positions, group.jac_strain = jac_pos, jac_strain
        else:
            group.positions, group.cells = stack["pos"], stack["cell"]
            group.neighbours = rows["nb"]
        groups.append(group)
    return groups


def frame_jacobians(
    group: FeatureGroup,
) -> Iterator[tuple[slice, torch.Tensor, torch.Tensor]]:
    """Position (1, N, D, N, 3) and strain (1, N, D, 3, 3) Jacobians of each frame of the group:
    views of the stored ones, or computed (autograd path) and dropped after use."""
    for row in range(len(group.frame_indices)):
        if group.has_jacobians:
            rows = slice(row, row + 1)
            yield rows, group.jac_positions[rows], group.jac_strain[rows]
            continue
        _, jac, jac_strain = descriptor_jacobians(
            group.positions[row],
            group.cells[row],
            group.species[row],
            group.neighbours[row].unpack(),
            group.spec,
        )
        yield slice(row, row + 1), jac[None], jac_strain[None]
