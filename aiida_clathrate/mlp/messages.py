"""Learned message passing between neighbouring atoms, on top of the per-atom descriptors.

Each atom's normalised descriptor is embedded into ``width`` features ``h``; a layer adds to
every atom the sum over its neighbours ``j`` within ``cutoff`` of a filter ``W(r_ij, s_i, s_j)``
(Chebyshev functions of the distance times the cosine cutoff, one set of weights per ordered
species pair) times a linear map of ``h_j``, then a residual update. A linear head per centre
element gives an energy that is added to the atomic network's. The head starts at zero, so an
untrained block leaves the descriptor network's energies unchanged.

Pairs are passed as a :class:`PairBatch`: flat lists of (configuration, centre, neighbour) and
the pair vectors, which the caller builds from positions (autograd forces and stress) or holds
as leaves whose gradients it maps onto forces and the virial (stored-Jacobian training).
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from .descriptors import chebyshev
from .neighbours import PaddedNeighbours, neighbour_pairs

#: the pair filters are divided by this (of the order of the neighbour count's square root)
FILTER_SCALE = 6.0


@dataclasses.dataclass
class PairBatch:
    """Ordered pairs of a batch of configurations with ``n_atoms`` atoms each.

    ``configuration``, ``centre``, ``neighbour``: (P,) long; ``vectors``: (P, 3) Å,
    ``r_neighbour + T - r_centre``.
    """

    configuration: torch.Tensor
    centre: torch.Tensor
    neighbour: torch.Tensor
    vectors: torch.Tensor


@dataclasses.dataclass
class FramePairs:
    """Pairs of one configuration within a cutoff: indices, integer lattice shifts and the
    vectors at the stored positions (Å)."""

    centre: torch.Tensor
    neighbour: torch.Tensor
    shift: torch.Tensor
    vectors: torch.Tensor

    @classmethod
    def build(
        cls,
        positions: torch.Tensor,
        cell: torch.Tensor,
        pbc,
        cutoff: float,
        known: PaddedNeighbours | None = None,
        known_cutoff: float = 0.0,
    ) -> FramePairs:
        """The pairs within ``cutoff``: taken from ``known`` (a neighbour list of the same
        structure within ``known_cutoff``) where that reaches far enough, else searched."""
        if known is None or cutoff > known_cutoff:
            i, j, shift, _ = neighbour_pairs(positions, cell, tuple(bool(p) for p in pbc), cutoff)
            return cls(i, j, shift, pair_vectors(positions.detach(), cell.detach(), i, j, shift))
        mask = known.mask
        i = torch.arange(len(mask))[:, None].expand_as(mask)[mask]
        j, shift = known.index[mask], known.shift[mask]
        vectors = pair_vectors(positions.detach(), cell.detach(), i, j, shift)
        inside = torch.linalg.norm(vectors, dim=-1) < cutoff
        return cls(i[inside], j[inside], shift[inside], vectors[inside])


def pair_vectors(
    positions: torch.Tensor,
    cell: torch.Tensor,
    centre: torch.Tensor,
    neighbour: torch.Tensor,
    shift: torch.Tensor,
) -> torch.Tensor:
    """``r_j + shift · cell - r_i``, differentiable with respect to positions and cell."""
    return positions[neighbour] + shift.to(positions.dtype) @ cell - positions[centre]


def batch_pairs(frames: list[FramePairs], dtype: torch.dtype) -> PairBatch:
    """Concatenate the stored pairs of a batch (vectors at the stored positions)."""
    return PairBatch(
        configuration=torch.cat([torch.full_like(p.centre, k) for k, p in enumerate(frames)]),
        centre=torch.cat([p.centre for p in frames]),
        neighbour=torch.cat([p.neighbour for p in frames]),
        vectors=torch.cat([p.vectors for p in frames]).to(dtype),
    )


class MessageBlock(nn.Module):
    """Per-atom energies (dimensionless) from normalised descriptors, species and pairs."""

    def __init__(
        self,
        n_features: int,
        n_species: int,
        layers: int,
        width: int,
        basis_size: int,
        cutoff_angstrom: float,
    ) -> None:
        super().__init__()
        self.n_species, self.width = n_species, width
        self.basis_size, self.cutoff_angstrom = basis_size, cutoff_angstrom
        self.embed = nn.Linear(n_features, width)
        self.filters = nn.ParameterList(
            nn.Parameter(0.3 * torch.randn(n_species * n_species * basis_size, width))
            for _ in range(layers)
        )
        self.messages = nn.ModuleList(nn.Linear(width, width, bias=False) for _ in range(layers))
        self.updates = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.head = nn.Linear(width, n_species)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def pair_basis(self, pairs: PairBatch, species: torch.Tensor) -> torch.Tensor:
        """(P, S² · K): the distance basis placed in the slot of the pair's species pair."""
        r = torch.linalg.norm(pairs.vectors, dim=-1)
        rc = self.cutoff_angstrom
        inside = r < rc
        fc = torch.where(inside, 0.5 * (torch.cos(math.pi * r / rc) + 1.0), torch.zeros_like(r))
        x = torch.clamp(2.0 * r / rc - 1.0, -1.0, 1.0)
        basis = chebyshev(x, self.basis_size - 1) * (fc / FILTER_SCALE)[:, None]
        slot = (
            species[pairs.configuration, pairs.centre] * self.n_species
            + species[pairs.configuration, pairs.neighbour]
        )
        onehot = nn.functional.one_hot(slot, self.n_species**2).to(basis.dtype)
        size = self.n_species**2 * self.basis_size
        return (onehot[:, :, None] * basis[:, None, :]).reshape(len(r), size)

    def forward(
        self, features: torch.Tensor, species: torch.Tensor, pairs: PairBatch
    ) -> torch.Tensor:
        """``features`` (B, N, D) normalised, ``species`` (B, N) -> energies (B, N)."""
        n_batch, n_atoms = species.shape
        h = nn.functional.silu(self.embed(features))
        basis = self.pair_basis(pairs, species)
        source = pairs.configuration * n_atoms + pairs.neighbour
        target = pairs.configuration * n_atoms + pairs.centre
        for filters, message, update in zip(self.filters, self.messages, self.updates, strict=True):
            weights = basis @ filters
            sent = weights * message(h).reshape(n_batch * n_atoms, self.width)[source]
            received = h.new_zeros(n_batch * n_atoms, self.width).index_add(0, target, sent)
            h = h + nn.functional.silu(update(h) + received.reshape(n_batch, n_atoms, self.width))
        return self.head(h).gather(-1, species[..., None]).squeeze(-1)
