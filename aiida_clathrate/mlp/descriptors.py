"""Element-resolved Chebyshev descriptors (radial and angular) computed in torch.

Radial block, for every neighbour species ``s`` and order ``k = 0..K``:
    G_rad[i, s, k] = Σ_j [s_j = s] T_k(2 r_ij / Rc - 1) f_c(r_ij; Rc)
Angular block, per shell of cutoff ``Ra``, for every unordered pair of channels ``c = (a, n)``,
``d = (b, n')`` (neighbour species and radial function ``n = 0..N``) and order ``l = 0..L``:
    G_ang[i, cd, l] = Σ_{j≠k} g_c(j) g_d(k) T_l(cos θ_jik),
    g_{(a, n)}(j) = [s_j = a] T_n(2 r_ij / Ra - 1) f_c(r_ij; Ra),
so that bond angles are resolved by the lengths of both bonds (``N = angular_radial_order``;
with ``N = 0`` the channels are the species pairs weighted by ``f_c(r_ij) f_c(r_ik)``), and
``f_c(r; R) = (cos(π r / R) + 1) / 2`` for ``r < R`` (zero value and slope at ``R``).
The angular sums are evaluated through the addition theorem of spherical harmonics
(:mod:`.harmonics`), linear instead of quadratic in the neighbour count; the analytic
pair-vector gradients (:func:`descriptor_jacobians`) use the pair-by-pair form.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .harmonics import addition_harmonics, angular_pair_sums
from .neighbours import PaddedNeighbours, PairList, neighbour_pairs, pad_pairs


@dataclasses.dataclass(frozen=True)
class DescriptorSpec:
    """Hyperparameters of the descriptor (lengths in Å)."""

    elements: tuple[str, ...]
    radial_cutoff_angstrom: float = 6.0
    radial_order: int = 12
    angular_cutoff_angstrom: float = 5.0
    angular_order: int = 10
    angular_inner_cutoff_angstrom: float | None = None
    angular_radial_order: int = 0

    def __post_init__(self) -> None:
        if len(self.elements) == 0 or len(set(self.elements)) != len(self.elements):
            raise ValueError(
                f"elements must be a non-empty list of distinct symbols: {self.elements}"
            )
        if self.radial_cutoff_angstrom <= 0 or self.angular_cutoff_angstrom <= 0:
            raise ValueError("cutoffs must be positive")
        if self.angular_cutoff_angstrom > self.radial_cutoff_angstrom:
            raise ValueError("angular cutoff must not exceed the radial cutoff")
        inner = self.angular_inner_cutoff_angstrom
        if inner is not None and not 0 < inner < self.angular_cutoff_angstrom:
            raise ValueError(
                f"angular_inner_cutoff_angstrom ({inner}) must lie between 0 and the angular cutoff"
            )
        if min(self.radial_order, self.angular_order, self.angular_radial_order) < 0:
            raise ValueError("Chebyshev orders must be non-negative")

    @property
    def n_species(self) -> int:
        return len(self.elements)

    @property
    def radial_size(self) -> int:
        return self.n_species * (self.radial_order + 1)

    @property
    def angular_cutoffs(self) -> tuple[float, ...]:
        """Cutoffs of the angular shells (outer first; an optional inner shell resolves near
        neighbours)."""
        if self.angular_inner_cutoff_angstrom is None:
            return (self.angular_cutoff_angstrom,)
        return (self.angular_cutoff_angstrom, self.angular_inner_cutoff_angstrom)

    @property
    def n_angular_radial(self) -> int:
        """Neighbour channels of an angular shell: species x radial functions."""
        return self.n_species * (self.angular_radial_order + 1)

    @property
    def n_angular_channels(self) -> int:
        """Angular tokens: per shell, the unordered pairs of neighbour channels."""
        c = self.n_angular_radial
        return len(self.angular_cutoffs) * c * (c + 1) // 2

    @property
    def angular_size(self) -> int:
        return self.n_angular_channels * (self.angular_order + 1)

    @property
    def size(self) -> int:
        return self.radial_size + self.angular_size

    def species_indices(self, symbols) -> torch.Tensor:
        lookup = {e: n for n, e in enumerate(self.elements)}
        unknown = sorted(set(symbols) - set(lookup))
        if unknown:
            raise ValueError(
                f"elements {unknown} are not among the model's elements {self.elements}"
            )
        return torch.tensor([lookup[s] for s in symbols], dtype=torch.long)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self) | {"elements": list(self.elements)}


@dataclasses.dataclass
class StructureNeighbours:
    """Radial and angular padded neighbour lists of one structure."""

    radial: PaddedNeighbours
    angular: PaddedNeighbours


def build_neighbours(
    positions: torch.Tensor, cell: torch.Tensor, pbc, spec: DescriptorSpec
) -> StructureNeighbours:
    """Neighbour lists for the radial and the (shorter) angular cutoff."""
    pbc = tuple(bool(p) for p in pbc)
    pairs = PairList(*neighbour_pairs(positions, cell, pbc, spec.radial_cutoff_angstrom))
    return shared_neighbours(positions.shape[0], [spec], pairs)[spec]


def shared_neighbours(
    n_atoms: int, specs, pairs: PairList
) -> dict[DescriptorSpec, StructureNeighbours]:
    """The lists of several descriptors cut from ``pairs`` (every pair within at least their
    radial cutoffs); descriptors with a cutoff in common share that padded list (one object, so
    that :func:`compute_descriptors` can share the blocks built on it)."""
    padded: dict[float, PaddedNeighbours] = {}

    def within(cutoff: float) -> PaddedNeighbours:
        if cutoff not in padded:
            inside = pairs.within(cutoff)
            padded[cutoff] = pad_pairs(inside.i, inside.j, inside.shift, n_atoms)
        return padded[cutoff]

    return {
        spec: StructureNeighbours(
            radial=within(spec.radial_cutoff_angstrom), angular=within(spec.angular_cutoff_angstrom)
        )
        for spec in specs
    }


def chebyshev(x: torch.Tensor, order: int) -> torch.Tensor:
    """Chebyshev polynomials T_0..T_order of ``x`` stacked on a new last axis."""
    values = [torch.ones_like(x)]
    if order >= 1:
        values.append(x)
    for _ in range(2, order + 1):
        values.append(2.0 * x * values[-1] - values[-2])
    return torch.stack(values, dim=-1)


def _cutoff_function(r: torch.Tensor, cutoff: float) -> torch.Tensor:
    inside = r < cutoff
    return torch.where(inside, 0.5 * (torch.cos(math.pi * r / cutoff) + 1.0), torch.zeros_like(r))


def _pair_vectors(
    positions: torch.Tensor, cell: torch.Tensor, nbrs: PaddedNeighbours, far: float
) -> torch.Tensor:
    """Padded pair vectors; unused slots get a constant vector beyond the cutoff (no NaN grads)."""
    # index_select: its gradient is an index_add (an accumulating index_put is far slower)
    neighbours = positions.index_select(0, nbrs.index.reshape(-1)).reshape(*nbrs.index.shape, 3)
    vectors = neighbours + nbrs.shift.to(positions.dtype) @ cell - positions[:, None, :]
    filler = torch.zeros_like(vectors)
    filler[..., 0] = far
    return torch.where(nbrs.mask[..., None], vectors, filler)


def compute_descriptors(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    neighbours: StructureNeighbours,
    spec: DescriptorSpec,
    shared: dict | None = None,
) -> torch.Tensor:
    """Descriptor matrix ``(n_atoms, spec.size)``, differentiable w.r.t. positions and cell.

    ``shared``: a dict kept over the calls for several descriptors of one configuration (same
    positions, cell and species): blocks that two descriptors have in common (the radial block of
    one neighbour list and order; the bond distances and addition-theorem harmonics of one
    angular list and order) are computed once and stored there.
    """
    memo = {} if shared is None else shared
    radial = _shared(
        memo,
        ("radial", id(neighbours.radial), spec.radial_cutoff_angstrom, spec.radial_order),
        lambda: _radial_block(positions, cell, species, neighbours.radial, spec),
    )
    r, harmonics, onehot = _shared(
        memo,
        ("angular", id(neighbours.angular), spec.angular_cutoff_angstrom, spec.angular_order),
        lambda: _angular_terms(positions, cell, species, neighbours.angular, spec),
    )
    rows, cols = torch.triu_indices(spec.n_angular_radial, spec.n_angular_radial)
    shells = []
    for ra in spec.angular_cutoffs:
        channels, _ = _angular_channels(r, onehot, ra, spec.angular_radial_order)  # (N, M, C)
        sums = angular_pair_sums(channels, harmonics, rows, cols, spec.angular_order)
        shells.append(sums.reshape(len(positions), -1))  # (N, P * L), channel pair by pair
    return torch.cat([radial, *shells], dim=1)


def _shared(memo: dict, key: tuple, compute):
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def _radial_block(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    nb: PaddedNeighbours,
    spec: DescriptorSpec,
) -> torch.Tensor:
    """``G_rad`` as ``(n_atoms, n_species * (radial_order + 1))``."""
    rc = spec.radial_cutoff_angstrom
    vec = _pair_vectors(positions, cell, nb, 2.0 * rc)
    r = torch.linalg.norm(vec, dim=-1)
    fc = _cutoff_function(r, rc)
    x = torch.clamp(2.0 * r / rc - 1.0, -1.0, 1.0)
    cheb = chebyshev(x, spec.radial_order)  # (N, M, K)
    onehot = torch.nn.functional.one_hot(species[nb.index], spec.n_species).to(positions.dtype)
    return torch.einsum("nmk,nm,nms->nsk", cheb, fc, onehot).reshape(len(positions), -1)


def _angular_terms(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    nb: PaddedNeighbours,
    spec: DescriptorSpec,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pair distances ``(N, M)``, the addition-theorem harmonics of the bond directions
    ``(N, M, (L + 1)²)`` and the neighbours' species one-hot ``(N, M, S)`` of the angular list."""
    vec = _pair_vectors(positions, cell, nb, 2.0 * spec.angular_cutoff_angstrom)
    r = torch.linalg.norm(vec, dim=-1)
    harmonics = addition_harmonics(vec / r[..., None], spec.angular_order)
    onehot = torch.nn.functional.one_hot(species[nb.index], spec.n_species).to(positions.dtype)
    return r, harmonics, onehot


def strained(
    positions: torch.Tensor, cell: torch.Tensor, strain: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``r' = r (I + ε)`` to row-vector positions and cell vectors."""
    deformation = torch.eye(3, dtype=positions.dtype) + strain
    return positions @ deformation, cell @ deformation


def chebyshev_with_derivative(x: torch.Tensor, order: int) -> tuple[torch.Tensor, torch.Tensor]:
    """T_0..T_order and their derivatives dT_k/dx = k U_{k-1}(x), stacked on the last axis."""
    values = chebyshev(x, order)
    second_kind = [torch.ones_like(x)]
    if order >= 2:
        second_kind.append(2.0 * x)
    for _ in range(3, order + 1):
        second_kind.append(2.0 * x * second_kind[-1] - second_kind[-2])
    derivs = [torch.zeros_like(x)] + [k * second_kind[k - 1] for k in range(1, order + 1)]
    return values, torch.stack(derivs, dim=-1)


def _cutoff_with_derivative(r: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    inside = r < cutoff
    zero = torch.zeros_like(r)
    value = torch.where(inside, 0.5 * (torch.cos(math.pi * r / cutoff) + 1.0), zero)
    slope = torch.where(inside, -0.5 * math.pi / cutoff * torch.sin(math.pi * r / cutoff), zero)
    return value, slope


def _angular_channels(
    r: torch.Tensor, onehot: torch.Tensor, cutoff: float, radial_order: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Neighbour channels ``g_(a, n)(r) = [s = a] T_n(2 r / R - 1) f_c(r; R)`` of an angular
    shell and their derivatives with respect to ``r``, both ``(N, M, S * (radial_order + 1))``."""
    fc, dfc = _cutoff_with_derivative(r, cutoff)
    x = torch.clamp(2.0 * r / cutoff - 1.0, -1.0, 1.0)
    cheb, dcheb = chebyshev_with_derivative(x, radial_order)
    value = cheb * fc[..., None]
    slope = dcheb * (2.0 / cutoff) * fc[..., None] + cheb * dfc[..., None]
    shape = (*r.shape, -1)
    return (
        (onehot[..., :, None] * value[..., None, :]).reshape(shape),
        (onehot[..., :, None] * slope[..., None, :]).reshape(shape),
    )


def _pair_gradients(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    neighbours: StructureNeighbours,
    spec: DescriptorSpec,
) -> list[tuple[PaddedNeighbours, torch.Tensor, torch.Tensor]]:
    """Analytic derivatives of each descriptor block w.r.t. its padded pair vectors.

    Returns, per block, ``(neighbours, vectors (N, M, 3), dG/dv (N, M, D_block, 3))``.
    """
    n_atoms = positions.shape[0]
    n_species = spec.n_species
    dtype = positions.dtype
    blocks = []

    # radial block: G[i, s, k] = sum_m A_ms T_k(x_m) f(r_m)
    rc = spec.radial_cutoff_angstrom
    nb = neighbours.radial
    vec = _pair_vectors(positions, cell, nb, 2.0 * rc)
    r = torch.linalg.norm(vec, dim=-1)
    unit = vec / r[..., None]
    fc, dfc = _cutoff_with_derivative(r, rc)
    x = torch.clamp(2.0 * r / rc - 1.0, -1.0, 1.0)
    cheb, dcheb = chebyshev_with_derivative(x, spec.radial_order)
    d_term = dcheb * (2.0 / rc) * fc[..., None] + cheb * dfc[..., None]  # (N, M, K)
    onehot = torch.nn.functional.one_hot(species[nb.index], n_species).to(dtype)
    grad = torch.einsum("nms,nmk,nmc->nmskc", onehot, d_term, unit)
    blocks.append((nb, vec, grad.reshape(n_atoms, vec.shape[1], -1, 3)))

    # angular blocks: G[i, c, d, l] = sum_{m != p} g_mc g_pd T_l(c_mp), one per shell
    nb = neighbours.angular
    vec = _pair_vectors(positions, cell, nb, 2.0 * spec.angular_cutoff_angstrom)
    r = torch.linalg.norm(vec, dim=-1)
    unit = vec / r[..., None]
    cos = torch.clamp(torch.einsum("nmc,npc->nmp", unit, unit), -1.0, 1.0)
    width = nb.index.shape[1]
    n_orders = spec.angular_order + 1
    off_diagonal = 1.0 - torch.eye(width, dtype=dtype)
    cheb, dcheb = chebyshev_with_derivative(cos, spec.angular_order)  # (N, M, M, L)
    # as (N, M·L, M) matrices: rows (m, l), columns p, for the sums over p as batched products
    cheb = (cheb * off_diagonal[..., None]).transpose(2, 3).reshape(n_atoms, -1, width)
    dcheb = (dcheb * off_diagonal[..., None]).transpose(2, 3)
    dcheb_cos = (dcheb * cos[:, :, None, :]).reshape(n_atoms, -1, width)
    dcheb = dcheb.reshape(n_atoms, -1, width)
    onehot = torch.nn.functional.one_hot(species[nb.index], n_species).to(dtype)  # (N, M, S)
    rows, cols = torch.triu_indices(spec.n_angular_radial, spec.n_angular_radial)
    shell_grads = []
    for ra in spec.angular_cutoffs:
        g, dg = _angular_channels(r, onehot, ra, spec.angular_radial_order)  # (N, M, C)
        # through m as the member in channel c of the pair (c, d), then the other way round:
        # radial part g'_mc u_m sum_p g_pd T_l(c_mp); angle part
        # g_mc sum_p g_pd T'_l(c_mp) (u_p - c_mp u_m) / r_m
        n_channels = g.shape[-1]
        split = (n_atoms, width, n_orders, n_channels)
        per_d = torch.bmm(cheb, g).reshape(split).transpose(2, 3)  # (N, M, C, L)
        g_unit = (g[..., None] * unit[:, :, None, :]).reshape(n_atoms, width, -1)
        towards_p = torch.bmm(dcheb, g_unit).reshape(*split, 3).transpose(2, 3)
        along_m = torch.bmm(dcheb_cos, g).reshape(split).transpose(2, 3)
        angle = towards_p - along_m[..., None] * unit[:, :, None, None, :]  # (N, M, C, L, 3)
        radial = per_d[..., None] * unit[:, :, None, None, :]  # (N, M, C, L, 3)
        # m in channel c, the others in d: g'_mc u_m per_d + g_mc / r_m angle_d, for all (c, d)
        # in one batched product over the pairs (a contraction of length two)
        left = torch.stack([dg, g / r[..., None]], dim=-1).reshape(-1, n_channels, 2)
        right = torch.stack([radial, angle], dim=2).reshape(len(left), 2, -1)
        full = torch.bmm(left, right).reshape(n_atoms, width, n_channels**2, -1)
        # the unordered pair (c, d), c <= d: m in channel c and in channel d
        grad = full.index_select(2, rows * n_channels + cols) + full.index_select(
            2, cols * n_channels + rows
        )
        shell_grads.append(grad.reshape(n_atoms, width, -1, 3))
    grad = torch.cat(shell_grads, dim=2)
    blocks.append((nb, vec, grad))
    return blocks


def descriptor_jacobians(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    neighbours: StructureNeighbours,
    spec: DescriptorSpec,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Descriptors and their exact derivatives w.r.t. positions ``(N, D, N, 3)`` and strain
    ``(N, D, 3, 3)`` (strain as in :func:`strained`), from analytic pair-vector gradients."""
    n_atoms = positions.shape[0]
    with torch.no_grad():
        values = compute_descriptors(positions, cell, species, neighbours, spec)
        jac_blocks, strain_blocks = [], []
        for nb, vec, grad in _pair_gradients(positions, cell, species, neighbours, spec):
            grad = grad * nb.mask[:, :, None, None].to(grad.dtype)
            width, size = grad.shape[1], grad.shape[2]
            jac = torch.zeros((n_atoms * n_atoms, size, 3), dtype=grad.dtype)
            rows = (torch.arange(n_atoms)[:, None] * n_atoms + nb.index).reshape(-1)
            jac.index_add_(0, rows, grad.reshape(n_atoms * width, size, 3))
            jac = jac.reshape(n_atoms, n_atoms, size, 3)
            own = torch.arange(n_atoms)
            jac[own, own] -= grad.sum(dim=1)
            jac_blocks.append(jac.permute(0, 2, 1, 3))
            strain_blocks.append(torch.einsum("nma,nmdb->ndab", vec, grad))
    return values, torch.cat(jac_blocks, dim=1), torch.cat(strain_blocks, dim=1)


def descriptor_jacobians_autodiff(
    positions: torch.Tensor,
    cell: torch.Tensor,
    species: torch.Tensor,
    neighbours: StructureNeighbours,
    spec: DescriptorSpec,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Same as :func:`descriptor_jacobians` by forward-mode autodiff (slow; for checks)."""
    from torch.func import jacfwd

    def function(displacement: torch.Tensor, strain: torch.Tensor) -> torch.Tensor:
        pos, lattice = strained(positions + displacement, cell, strain)
        return compute_descriptors(pos, lattice, species, neighbours, spec)

    zeros_pos = torch.zeros_like(positions)
    zeros_strain = torch.zeros((3, 3), dtype=positions.dtype)
    with torch.no_grad():
        values = function(zeros_pos, zeros_strain)
    jac_pos, jac_strain = jacfwd(function, argnums=(0, 1))(zeros_pos, zeros_strain)
    return values, jac_pos, jac_strain
