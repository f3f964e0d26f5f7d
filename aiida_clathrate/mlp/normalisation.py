"""Standardisation of descriptors per centre element and per-element energy references."""

from __future__ import annotations

import torch

#: descriptor components are standardised per centre element with at least this fraction of
#: their standard deviation over all atoms: in the 14-atom KRbB6C6 cells every neighbour is one of
#: 14 atoms or an image of one, images move together and an atom's own images not at all relative
#: to it, so some components of the (one per cell) metal atoms barely vary, and in
#: independently displaced supercells they then sat up to 500 (floored at 1e-6 of the largest
#: deviation) or 2.5e9 standard deviations from the mean; with 0.01 at most 5
FEATURE_STD_FLOOR = 0.01


def feature_standardisation(
    features: torch.Tensor,
    species: torch.Tensor,
    n_species: int,
    std_floor: float = FEATURE_STD_FLOOR,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element mean and standard deviation ``(n_species, D)`` of descriptors ``features``
    ``(A, D)`` of atoms of element ``species`` ``(A,)``; a deviation is floored at ``std_floor``
    times the component's deviation over all atoms, so that components (nearly) constant for one
    element do not blow up. Elements without atoms keep mean 0 and deviation 1."""
    size = features.shape[-1]
    mean = torch.zeros((n_species, size), dtype=features.dtype)
    std = torch.ones((n_species, size), dtype=features.dtype)
    overall = features.std(0)
    floor = (std_floor * overall).clamp_min(1e-6 * float(overall.max()) + 1e-12)
    for s in range(n_species):
        rows = features[species == s]
        if len(rows) == 0:
            continue
        mean[s] = rows.mean(0)
        std[s] = torch.maximum(rows.std(0) if len(rows) > 1 else overall, floor)
    return mean, std


def energy_references(counts: torch.Tensor, energies: torch.Tensor) -> torch.Tensor:
    """Per-element energies ``(n_species,)`` (eV) from atom counts ``(B, n_species)`` and total
    energies ``(B,)`` by least squares, or the mean energy per atom for every element when the
    compositions do not determine them (one composition, as in an SSCHA ensemble)."""
    n_atoms = counts.sum(1)
    present = counts.sum(0) > 0
    reference = torch.full(
        (counts.shape[1],), float((energies / n_atoms).mean()), dtype=energies.dtype
    )
    if torch.linalg.matrix_rank(counts[:, present]) == int(present.sum()):
        solution = torch.linalg.lstsq(counts[:, present], energies[:, None]).solution[:, 0]
        reference[present] = solution
    return reference
