"""The prediction's fast paths: bond-angle sums by the addition theorem, neighbour lists reused
over a population of one supercell, and predictions that do not depend on either."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from aiida_clathrate.mlp import CommitteePotential, DescriptorSpec, NetworkSpec, read_frames
from aiida_clathrate.mlp.descriptors import chebyshev
from aiida_clathrate.mlp.harmonics import (
    addition_harmonics,
    angular_pair_sums,
    chebyshev_from_legendre,
)
from aiida_clathrate.mlp.neighbours import NeighbourCache, neighbour_pairs

torch.set_num_threads(1)
ELEMENTS = ("K", "Rb", "B", "C")
ORDER = 10  # the shipped angular order


def _unit_vectors(count: int, seed: int) -> torch.Tensor:
    vectors = torch.randn(
        count, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    poles = torch.tensor([[0, 0, 1.0], [0, 0, -1.0], [1.0, 0, 0], [0, 1.0, 0]], dtype=torch.float64)
    return torch.nn.functional.normalize(torch.cat([vectors, poles]), dim=-1)


def test_addition_theorem_holds_to_the_shipped_order():
    """Σ_q S_kq(u) S_kq(v) = P_k(u·v) for every degree up to 10, poles and axes included."""
    unit = _unit_vectors(40, seed=3)
    harmonics = addition_harmonics(unit, ORDER)
    assert harmonics.shape == (len(unit), (ORDER + 1) ** 2)
    cos = (unit @ unit.T).numpy()
    first = 0
    for k in range(ORDER + 1):
        block = harmonics[:, first : first + 2 * k + 1]
        first += 2 * k + 1
        legendre = np.polynomial.legendre.legval(cos, np.eye(ORDER + 1)[k])
        np.testing.assert_allclose((block @ block.T).numpy(), legendre, atol=1e-12)


def test_chebyshev_is_the_stated_combination_of_legendre_polynomials():
    x = np.linspace(-1, 1, 57)
    a = chebyshev_from_legendre(ORDER, torch.float64).numpy()
    legendre = np.polynomial.legendre.legvander(x, ORDER)
    np.testing.assert_allclose(
        legendre @ a.T, np.polynomial.chebyshev.chebvander(x, ORDER), atol=1e-12
    )


def _pair_by_pair(channels, unit, rows, cols, order):
    """Σ_{j≠k} g_c(j) g_d(k) T_l(cos θ_jk) over the (N, M, M, L) angle array."""
    width = unit.shape[1]
    cos = torch.einsum("nmc,npc->nmp", unit, unit).clamp(-1.0, 1.0)
    terms = chebyshev(cos, order) * (1.0 - torch.eye(width, dtype=unit.dtype))[..., None]
    per_d = torch.einsum("nmpl,npd->nmdl", terms, channels)
    return torch.einsum("nmc,nmdl->ncdl", channels, per_d)[:, rows, cols]


@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_pair_sums_equal_the_pair_by_pair_sums(dtype, tolerance):
    """With unused (zero) neighbour slots, against the sum over the angle array, relative to the
    largest sum; float32 stays within a few units of its rounding."""
    generator = torch.Generator().manual_seed(5)
    n_atoms, width, n_channels = 4, 30, 6
    unit = torch.nn.functional.normalize(
        torch.randn(n_atoms, width, 3, dtype=torch.float64, generator=generator), dim=-1
    )
    channels = torch.rand(n_atoms, width, n_channels, dtype=torch.float64, generator=generator)
    channels[:, -7:] = 0.0  # padding
    rows, cols = torch.triu_indices(n_channels, n_channels)
    expected = _pair_by_pair(channels, unit, rows, cols, ORDER)
    got = angular_pair_sums(
        channels.to(dtype), addition_harmonics(unit.to(dtype), ORDER), rows, cols, ORDER
    )
    assert got.shape == expected.shape == (n_atoms, len(rows), ORDER + 1)
    error = (got.double() - expected).abs().max() / expected.abs().max()
    assert error < tolerance


@pytest.fixture(scope="module")
def supercell(shared_dir) -> Atoms:
    """The 112-atom 2x2x2 supercell of a KRbB6C6 frame of the shared data set."""
    frame = read_frames(shared_dir / "datasets/krbb6c6-displaced/krbb6c6_dft.xyz", index="0:1")[0]
    atoms = Atoms(frame.symbols, frame.positions_angstrom, cell=frame.cell_angstrom, pbc=True)
    return atoms * (2, 2, 2)


def _population(atoms: Atoms, count: int, sigma_angstrom: float, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        atoms.positions + rng.normal(0.0, sigma_angstrom, atoms.positions.shape)
        for _ in range(count)
    ]


def test_neighbour_cache_gives_a_fresh_search_exactly(supercell):
    """A population displaced by 0.05 Å per component: one search, then reuses, each list equal
    to a new search element by element (indices, translations and distances)."""
    cache = NeighbourCache(skin_angstrom=1.0)
    cell = torch.tensor(supercell.cell[:])
    for positions in _population(supercell, 6, 0.05, seed=11):
        pos = torch.tensor(positions)
        expected = neighbour_pairs(pos, cell, (True, True, True), 6.0)
        got = cache.pairs(pos, cell, (True, True, True), 6.0)
        for a, b in zip(expected, (got.i, got.j, got.shift, got.distance), strict=True):
            assert torch.equal(a, b)
    assert (cache.searches, cache.reuses) == (1, 5)


def test_neighbour_cache_searches_when_it_cannot_be_sure(supercell):
    cache = NeighbourCache(skin_angstrom=1.0)
    cell = torch.tensor(supercell.cell[:])
    pbc = (True, True, True)
    pos = torch.tensor(supercell.positions)
    cache.pairs(pos, cell, pbc, 6.0)
    moved = pos.clone()
    moved[7, 0] += 0.6  # one atom beyond half the skin
    got = cache.pairs(moved, cell, pbc, 6.0)
    assert cache.searches == 2
    assert torch.equal(got.distance, neighbour_pairs(moved, cell, pbc, 6.0)[3])
    cache.pairs(moved, cell * 1.01, pbc, 6.0)  # another cell
    cache.pairs(moved, cell * 1.01, pbc, 6.5)  # a longer cutoff
    assert cache.searches == 4
    shorter = cache.pairs(moved, cell * 1.01, pbc, 3.0)  # a shorter one is cut from the list
    assert cache.searches == 4 and cache.reuses == 1
    assert torch.equal(shorter.j, neighbour_pairs(moved, cell * 1.01, pbc, 3.0)[1])
    with pytest.raises(ValueError, match="skin"):
        NeighbourCache(skin_angstrom=-0.1)


def _committee_with_kernel() -> CommitteePotential:
    """Two members with different descriptors (shared blocks), message passing and a kernel
    member with random weights."""
    torch.manual_seed(2)
    base = DescriptorSpec(
        ELEMENTS, radial_order=6, angular_order=ORDER, angular_inner_cutoff_angstrom=3.0
    )
    radial = DescriptorSpec(ELEMENTS, radial_order=6, angular_order=ORDER, angular_radial_order=2)
    kernel = DescriptorSpec(ELEMENTS, radial_order=6, angular_order=4, angular_cutoff_angstrom=3.5)
    model = CommitteePotential(
        base,
        NetworkSpec(8, 2, (16,), message_layers=1, message_width=8),
        n_members=2,
        member_descriptors=[base, radial],
        kernel_descriptor=kernel,
        kernel_weight=0.5,
    )
    with torch.no_grad():  # heads start at zero in training; randomise them here
        for member in model.members:
            member.network.heads.weight.normal_(0.0, 0.3)
            member.network.messages.head.weight.normal_(0.0, 0.3)
            member.linear_ev.normal_(0.0, 0.01)
        model.kernel.feature_std.fill_(10.0)
        model.kernel.linear_ev.normal_(0.0, 0.1)
        model.kernel.quadratic_ev.normal_(0.0, 0.01)
    return model.eval()


def test_predictions_do_not_depend_on_the_cache(supercell):
    """A population predicted in sequence (lists reused) equals each configuration predicted
    with a fresh cache, to the last bit; with the member forces (one backward pass per member)
    the committee's forces and stress are the same to rounding."""
    model = _committee_with_kernel()
    symbols = supercell.get_chemical_symbols()
    cell = supercell.cell[:]
    population = _population(supercell, 3, 0.05, seed=4)
    in_sequence = [model.predict(symbols, p, cell) for p in population]
    assert model.neighbour_cache.reuses == 2
    for positions, first in zip(population, in_sequence, strict=True):
        model.neighbour_cache = NeighbourCache()
        again = model.predict(symbols, positions, cell)
        assert again.energy_ev == first.energy_ev
        assert np.array_equal(again.forces_ev_per_angstrom, first.forces_ev_per_angstrom)
        assert np.array_equal(again.stress_ev_per_angstrom3, first.stress_ev_per_angstrom3)
        spread = model.predict(symbols, positions, cell, member_forces=True)
        scale = np.abs(first.forces_ev_per_angstrom).max()
        assert scale > 0 and spread.forces_std_ev_per_angstrom.max() > 0
        np.testing.assert_allclose(
            spread.forces_ev_per_angstrom, first.forces_ev_per_angstrom, atol=1e-12 * scale
        )
        np.testing.assert_allclose(
            spread.stress_ev_per_angstrom3,
            first.stress_ev_per_angstrom3,
            atol=1e-12 * np.abs(first.stress_ev_per_angstrom3).max(),
        )
