"""Vectorised periodic neighbour lists in torch, exact for cutoffs larger than half the cell.

All lattice translations that can bring an image within the cutoff are enumerated from the
cell's plane spacings, and every pair vector ``r_j + T - r_i`` is built at once with masks.
The cost is O(N² · n_translations): fine for the 14- and 112-atom cells of the study.
"""

from __future__ import annotations

import dataclasses
import math

import torch


@dataclasses.dataclass
class PaddedNeighbours:
    """Neighbours of every atom, padded to the largest count.

    ``index[i, m]`` is the neighbour atom, ``shift[i, m]`` its integer lattice translation and
    ``mask[i, m]`` whether the slot is used.
    """

    index: torch.Tensor
    shift: torch.Tensor
    mask: torch.Tensor


def translation_ranges(
    positions: torch.Tensor, cell: torch.Tensor, pbc: tuple[bool, bool, bool], cutoff: float
) -> list[int]:
    """How many cell translations along each axis can reach ``cutoff`` from any atom."""
    if not any(pbc):
        return [0, 0, 0]
    cell = cell.detach().to(torch.float64)
    volume = torch.abs(torch.linalg.det(cell))
    if volume < 1e-8:
        raise ValueError("periodic cell has zero volume")
    frac = positions.detach().to(torch.float64) @ torch.linalg.inv(cell)
    span = frac.max(dim=0).values - frac.min(dim=0).values
    ranges = []
    for axis in range(3):
        if not pbc[axis]:
            ranges.append(0)
            continue
        other = [a for a in range(3) if a != axis]
        spacing = volume / torch.linalg.norm(torch.linalg.cross(cell[other[0]], cell[other[1]]))
        ranges.append(int(math.ceil(float(cutoff / spacing + span[axis]))))
    return ranges


def neighbour_pairs(
    positions: torch.Tensor,
    cell: torch.Tensor,
    pbc: tuple[bool, bool, bool],
    cutoff: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """All ordered pairs (i, j, T) with 0 < |r_j + T·cell - r_i| < cutoff.

    Returns ``(i, j, shift, distance)``; ``shift`` holds integer translations (float tensor).
    """
    if cutoff <= 0:
        raise ValueError(f"cutoff must be positive, got {cutoff}")
    with torch.no_grad():
        pos = positions.detach().to(torch.float64)
        lattice = cell.detach().to(torch.float64)
        n_atoms = pos.shape[0]
        ranges = translation_ranges(pos, lattice, pbc, cutoff)
        axes = [torch.arange(-n, n + 1, dtype=torch.float64) for n in ranges]
        translations = torch.cartesian_prod(*axes).reshape(-1, 3)
        offsets = translations @ lattice
        vectors = (
            pos[None, :, None, :] - pos[:, None, None, :] + offsets[None, None, :, :]
        )  # (i, j, T, 3)
        dist = torch.linalg.norm(vectors, dim=-1)
        mask = dist < cutoff
        zero_t = torch.all(translations == 0, dim=1)
        eye = torch.eye(n_atoms, dtype=torch.bool)
        mask &= ~(eye[:, :, None] & zero_t[None, None, :])
        i, j, t = torch.nonzero(mask, as_tuple=True)
        return i, j, translations[t], dist[i, j, t]


def pad_pairs(
    i: torch.Tensor, j: torch.Tensor, shift: torch.Tensor, n_atoms: int
) -> PaddedNeighbours:
    """Group pairs by their first atom into padded ``(n_atoms, max_neighbours)`` arrays."""
    order = torch.argsort(i, stable=True)
    i, j, shift = i[order], j[order], shift[order]
    counts = torch.bincount(i, minlength=n_atoms)
    width = int(counts.max()) if len(i) else 1
    width = max(width, 1)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.arange(len(i)) - starts[i]
    index = torch.zeros((n_atoms, width), dtype=torch.long)
    shifts = torch.zeros((n_atoms, width, 3), dtype=shift.dtype)
    mask = torch.zeros((n_atoms, width), dtype=torch.bool)
    index[i, slot] = j
    shifts[i, slot] = shift
    mask[i, slot] = True
    return PaddedNeighbours(index=index, shift=shifts, mask=mask)
