"""Bond-angle sums without the angle matrix: the addition theorem of spherical harmonics.

The angular descriptor sums ``g_c(j) g_d(k) T_l(cos θ_jik)`` over every pair of neighbours
``j ≠ k`` of an atom. Computed pair by pair it costs ``M² (L + 1)`` per channel for ``M``
neighbours. With real Schmidt semi-normalised harmonics ``S_kq`` (``k = 0..L``, ``2k + 1`` of
each degree),

    P_k(u·v) = Σ_q S_kq(u) S_kq(v)        (addition theorem),

so ``Σ_{j,k} g_c(j) g_d(k) P_k(cos θ_jk) = Σ_q A_c,kq A_d,kq`` with ``A_c,kq = Σ_j g_c(j) S_kq(u_j)``,
at a cost of ``M (L + 1)²``; the terms ``j = k`` (``P_k(1) = 1``) are subtracted, and each
Chebyshev polynomial is a fixed combination of Legendre polynomials,
``T_l = Σ_k a_lk P_k``. The result is the pair-by-pair sum up to rounding.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def addition_harmonics(unit: torch.Tensor, order: int) -> torch.Tensor:
    """``S_kq(u)`` for unit vectors ``unit`` (..., 3), degrees ``k = 0..order``, on a new last
    axis of size ``(order + 1)²`` (degree by degree: the cosine parts of ``q = 0..k``, then the
    sine parts of ``q = 1..k``), such that ``Σ_q S_kq(u) S_kq(v) = P_k(u·v)``.

    ``S_kq = R_kq(z) Re/Im (x + i y)^q`` with ``R_kq`` the Schmidt semi-normalised associated
    Legendre function divided by ``(1 - z²)^{q/2}`` (a polynomial in ``z``, so no angle and no
    division by ``sin θ``), all orders ``q`` of a degree in one tensor operation."""
    x, y, z = unit.unbind(-1)
    real, imag = [torch.ones_like(z)], [torch.zeros_like(z)]  # (x + i y)^q
    for _ in range(order):
        real, imag = real + [x * real[-1] - y * imag[-1]], imag + [x * imag[-1] + y * real[-1]]
    real, imag = torch.stack(real, dim=-1), torch.stack(imag, dim=-1)  # (..., q)
    upward, back, diagonal = (
        torch.as_tensor(c, dtype=unit.dtype) for c in _recursion_coefficients(order)
    )
    z = z[..., None]
    previous, current = torch.zeros_like(real), torch.zeros_like(real)
    current[..., 0] = 1.0  # R_00
    degrees = [current]
    for k in range(1, order + 1):  # R_kq = (a z R_k-1,q - b R_k-2,q), q < k; R_kk from R_k-1,k-1
        new_diagonal = diagonal[k] * current[..., k - 1 : k]
        step = upward[k] * z * current - back[k] * previous
        step = torch.cat([step[..., :k], new_diagonal, step[..., k + 1 :]], dim=-1)
        previous, current = current, step
        degrees.append(current)
    legendre = torch.stack(degrees, dim=-2)  # (..., k, q), zero for q > k
    parts = torch.cat([legendre * real[..., None, :], legendre * imag[..., None, :]], dim=-1)
    flat = parts.reshape(*parts.shape[:-2], -1)
    return flat.index_select(-1, torch.as_tensor(_harmonic_columns(order)))


@functools.lru_cache(maxsize=16)
def _recursion_coefficients(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a[k, q]``, ``b[k, q]`` of the upward recursion (zero for ``q >= k``) and the diagonal
    factors ``c[k]`` with ``R_kk = c[k] R_k-1,k-1`` (``R_11 = 1``)."""
    upward, back = np.zeros((order + 1, order + 1)), np.zeros((order + 1, order + 1))
    diagonal = np.zeros(order + 1)
    for k in range(1, order + 1):
        q = np.arange(k)
        upward[k, :k] = (2 * k - 1) / np.sqrt(k**2 - q**2)
        back[k, :k] = np.sqrt((k - 1) ** 2 - q**2) / np.sqrt(k**2 - q**2)
        diagonal[k] = 1.0 if k == 1 else np.sqrt((2 * k - 1) / (2 * k))
    return upward, back, diagonal


@functools.lru_cache(maxsize=16)
def _harmonic_columns(order: int) -> np.ndarray:
    """Positions in the flattened ``(k, cosine q | sine q)`` array of the used harmonics."""
    width = 2 * (order + 1)
    columns = []
    for k in range(order + 1):
        columns += [k * width + q for q in range(k + 1)]
        columns += [k * width + order + 1 + q for q in range(1, k + 1)]
    return np.array(columns)


@functools.lru_cache(maxsize=16)
def _degree_sum_and_chebyshev(order: int) -> tuple[np.ndarray, np.ndarray]:
    degree = np.repeat(np.arange(order + 1), 2 * np.arange(order + 1) + 1)
    degree_sum = (degree[:, None] == np.arange(order + 1)[None, :]).astype(float)
    # a_lk = (2k + 1)/2 ∫ T_l P_k dx, exact with Gauss-Legendre nodes for degree <= 2 * order
    nodes, weights = np.polynomial.legendre.leggauss(order + 1)
    chebyshev = np.polynomial.chebyshev.chebvander(nodes, order)  # T_l(nodes)
    legendre = np.polynomial.legendre.legvander(nodes, order)  # P_k(nodes)
    a = (chebyshev * weights[:, None]).T @ legendre * (2 * np.arange(order + 1) + 1) / 2
    a[np.abs(a) < 1e-12] = 0.0  # quadrature noise where a_lk vanishes (k > l or l - k odd)
    return degree_sum, a


def degree_sum(order: int, dtype: torch.dtype) -> torch.Tensor:
    """``((order + 1)², order + 1)`` matrix summing the products of one degree's harmonics."""
    return torch.as_tensor(_degree_sum_and_chebyshev(order)[0], dtype=dtype)


def chebyshev_from_legendre(order: int, dtype: torch.dtype) -> torch.Tensor:
    """``a`` with ``T_l = Σ_k a[l, k] P_k`` for ``l, k = 0..order``."""
    return torch.as_tensor(_degree_sum_and_chebyshev(order)[1], dtype=dtype)


def angular_pair_sums(
    channels: torch.Tensor,
    harmonics: torch.Tensor,
    rows: torch.Tensor,
    cols: torch.Tensor,
    order: int,
) -> torch.Tensor:
    """``Σ_{j≠k} g_c(j) g_d(k) T_l(cos θ_jk)`` for the channel pairs ``(rows[p], cols[p])``.

    ``channels``: ``g`` as ``(N, M, C)`` (zero in unused neighbour slots); ``harmonics``:
    :func:`addition_harmonics` of the neighbours' unit vectors ``(N, M, (order + 1)²)``.
    Returns ``(N, P, order + 1)``."""
    n_atoms, _, n_channels = channels.shape
    pair_index = rows * n_channels + cols  # flat (c, d) positions; index_select, not fancy
    # indexing: its gradient is an index_add, far cheaper than an accumulating index_put
    moments = torch.einsum("nmc,nmy->ncy", channels, harmonics)  # A_c,kq
    products = torch.einsum("ncy,ndy->ncdy", moments, moments).reshape(
        n_atoms, -1, harmonics.shape[-1]
    )
    per_degree = products.index_select(1, pair_index) @ degree_sum(order, channels.dtype)
    same = torch.einsum("nmc,nmd->ncd", channels, channels).reshape(n_atoms, -1)  # j = k
    same = same.index_select(1, pair_index)
    return per_degree @ chebyshev_from_legendre(order, channels.dtype).T - same[..., None]
