"""Electron-phonon linewidths of matdyn.x on a q-point list (no AiiDA import).

matdyn.x with ``la2F=.true.`` and ``dos=.false.`` (QE 6.7) writes, for the q-points it is given and
for each Gaussian broadening N = 1..el_ph_nsigma of the electron-phonon run:

- ``elph.gamma.N`` (plotband format): `` &plot nbnd=  3N, nks=  nq /``, then per q-point a line
  ``(10x,3f10.6)`` of Cartesian coordinates (2pi/alat) and ``(6f10.4)`` lines of the linewidth of
  every mode in GHz;
- ``gam.lines``: the same linewidths in THz, ``' Broadening x.xxxx'`` (Ry) per broadening, then per
  q-point its index on a line and ``(9F8.4)`` lines;
- stdout: the same again in Ry (``Gamma lines for all modes [Rydberg]``).

The modes are in matdyn's order (ascending frequency at each q, as in its frequency file).
QE's convention (checked against ph.x's printed ``lambda``/``gamma`` on fcc Al):
lambda_qnu = gamma_qnu / (pi N(Ef) omega_qnu^2), with N(Ef) per spin (states/Ry/spin) and gamma,
omega in the same energy unit. :func:`read_linewidths_folder` reads all broadenings (values from
``elph.gamma.N``, four decimals in GHz; ``gam.lines`` gives the broadenings and a cross-check);
:func:`mode_lambdas` turns linewidths into lambda_qnu.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..units import MEV_PER_UNIT

#: GHz per Rydberg (QE's RY_TO_GHZ).
GHZ_PER_RY = MEV_PER_UNIT["ry"] / MEV_PER_UNIT["thz"] * 1000.0
#: cm^-1 per Rydberg.
CM1_PER_RY = MEV_PER_UNIT["ry"] / MEV_PER_UNIT["cm-1"]
#: Files to retrieve from matdyn.x for broadenings 1..nsigma.
GAM_LINES_NAME = "gam.lines"
ELPH_GAMMA_NAME = "elph.gamma.{}"
_ELPH_GAMMA = re.compile(r"^elph\.gamma\.(\d+)$")
_PLOT_HEADER = re.compile(r"nbnd\s*=\s*(\d+)\s*,\s*nks\s*=\s*(\d+)")
_BROADENING = re.compile(r"^\s*Broadening\s+(\S+)\s*$")
#: Tolerance of the gam.lines / elph.gamma.N cross-check (GHz): F8.4 in THz rounds to 0.05 GHz.
_CROSS_CHECK_GHZ = 0.051


def retrieve_names(nsigma: int) -> list[str]:
    """The linewidth files matdyn.x writes for ``nsigma`` broadenings (for a retrieve list)."""
    return [GAM_LINES_NAME] + [ELPH_GAMMA_NAME.format(n) for n in range(1, int(nsigma) + 1)]


def _fixed_width(line: str, width: int, source: str) -> list[float]:
    """The numbers of a Fortran ``fW.d`` line, read by column (``*****`` overflows refused)."""
    text = line.rstrip("\n").rstrip()
    values = []
    for start in range(0, len(text), width):
        field = text[start : start + width].strip()
        if not field:
            continue
        try:
            values.append(float(field))
        except ValueError as exc:
            raise ValueError(f"{source}: unreadable field {field!r} in line {line!r}") from exc
    return values


@dataclass
class ElphGamma:
    """One ``elph.gamma.N`` file: q-points (Cartesian, 2pi/alat) and linewidths (nq, nmodes) in GHz."""

    qpoints_cartesian: np.ndarray
    linewidths_ghz: np.ndarray


def read_elph_gamma(text: str, source: str = "elph.gamma") -> ElphGamma:
    """Read an ``elph.gamma.N`` text (plotband format written by matdyn.x with la2F)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{source}: empty file")
    header = _PLOT_HEADER.search(lines[0])
    if header is None:
        raise ValueError(f"{source}: no '&plot nbnd=..., nks=... /' header: {lines[0]!r}")
    nmodes, nq = int(header.group(1)), int(header.group(2))
    if nmodes < 1 or nq < 1:
        raise ValueError(f"{source}: nbnd={nmodes}, nks={nq}")
    per_q = 1 + -(-nmodes // 6)
    if len(lines) - 1 != nq * per_q:
        raise ValueError(
            f"{source}: {len(lines) - 1} data lines, expected {nq} q-points x {per_q} lines "
            f"for {nmodes} modes"
        )
    qpoints = np.empty((nq, 3))
    widths = np.empty((nq, nmodes))
    for iq in range(nq):
        block = lines[1 + iq * per_q : 1 + (iq + 1) * per_q]
        coordinates = _fixed_width(block[0][10:], 10, source)
        values = [v for line in block[1:] for v in _fixed_width(line, 10, source)]
        if len(coordinates) != 3 or len(values) != nmodes:
            raise ValueError(
                f"{source}: q-point {iq + 1} has {len(coordinates)} coordinates and "
                f"{len(values)} linewidths, expected 3 and {nmodes}"
            )
        qpoints[iq] = coordinates
        widths[iq] = values
    return ElphGamma(qpoints, widths)


def read_gam_lines(text: str, source: str = GAM_LINES_NAME) -> list[tuple[float, np.ndarray]]:
    """Read ``gam.lines``: per broadening (Ry, in file order) the linewidths (nq, nmodes) in THz."""
    blocks: list[tuple[float, list[list[float]]]] = []
    for line in text.splitlines():
        if not line.strip() or "Gamma lines" in line:
            continue
        match = _BROADENING.match(line)
        if match:
            blocks.append((float(match.group(1)), []))
            continue
        if not blocks:
            raise ValueError(f"{source}: data before the first 'Broadening' line: {line!r}")
        rows = blocks[-1][1]
        stripped = line.strip()
        if stripped.isdigit():
            if int(stripped) != len(rows) + 1:
                raise ValueError(f"{source}: q-point index {stripped} after {len(rows)} q-points")
            rows.append([])
        elif rows:
            rows[-1].extend(_fixed_width(line, 8, source))
        else:
            raise ValueError(f"{source}: values before a q-point index: {line!r}")
    if not blocks:
        raise ValueError(f"{source}: no 'Broadening' blocks")
    result = []
    for broadening, rows in blocks:
        sizes = {len(row) for row in rows}
        if not rows or len(sizes) != 1 or 0 in sizes:
            raise ValueError(f"{source}: broadening {broadening}: ragged or empty q-point rows")
        result.append((broadening, np.array(rows, dtype=float)))
    return result


@dataclass
class PathLinewidths:
    """Linewidths of every broadening on one q-point list.

    :param broadenings_ry: (nsigma,) Gaussian broadenings (Ry) from ``gam.lines``.
    :param linewidths_ghz: (nsigma, nq, nmodes) from ``elph.gamma.1..nsigma``.
    :param qpoints_cartesian: (nq, 3) q-points as matdyn writes them (Cartesian, 2pi/alat).
    """

    broadenings_ry: np.ndarray
    linewidths_ghz: np.ndarray
    qpoints_cartesian: np.ndarray


def read_linewidths_folder(folder: Path) -> PathLinewidths:
    """Read ``gam.lines`` and every ``elph.gamma.N`` of a matdyn.x folder; check they agree.

    Raises ``ValueError`` when a file is missing or malformed, the numbers of broadenings, q-points
    or modes differ between the files, or a ``gam.lines`` value (THz, four decimals) differs from
    the ``elph.gamma.N`` one by more than its rounding.
    """
    folder = Path(folder)
    if not (folder / GAM_LINES_NAME).is_file():
        raise ValueError(
            f"{folder}: no {GAM_LINES_NAME} (did matdyn.x run with la2F, dos=.false.?)"
        )
    blocks = read_gam_lines((folder / GAM_LINES_NAME).read_text(), GAM_LINES_NAME)
    found = sorted(
        int(m.group(1)) for m in (_ELPH_GAMMA.match(p.name) for p in folder.iterdir()) if m
    )
    expected = list(range(1, len(blocks) + 1))
    if found != expected:
        raise ValueError(
            f"{folder}: elph.gamma files {found}, expected {expected} for the {len(blocks)} "
            f"broadenings of {GAM_LINES_NAME}"
        )
    tables = []
    qpoints = None
    for n, (broadening, thz) in zip(expected, blocks, strict=True):
        name = ELPH_GAMMA_NAME.format(n)
        table = read_elph_gamma((folder / name).read_text(), name)
        if table.linewidths_ghz.shape != thz.shape:
            raise ValueError(
                f"{name} has shape {table.linewidths_ghz.shape}, {GAM_LINES_NAME} broadening "
                f"{broadening} {thz.shape}"
            )
        difference = np.abs(table.linewidths_ghz - 1000.0 * thz).max()
        if difference > _CROSS_CHECK_GHZ:
            raise ValueError(
                f"{name} and {GAM_LINES_NAME} broadening {broadening} differ by "
                f"{difference:.3f} GHz"
            )
        if qpoints is not None and not np.allclose(table.qpoints_cartesian, qpoints, atol=2e-6):
            raise ValueError(f"{name}: q-points differ from those of elph.gamma.1")
        qpoints = table.qpoints_cartesian
        tables.append(table.linewidths_ghz)
    return PathLinewidths(
        np.array([b for b, _ in blocks], dtype=float), np.stack(tables), np.asarray(qpoints)
    )


def mode_lambdas(
    linewidths_ghz,
    frequencies_cm1,
    dos_ef_states_per_ry_spin: float,
    omega_min_cm1: float = 1.0,
) -> np.ndarray:
    """lambda_qnu = gamma_qnu / (pi N(Ef) omega_qnu^2) (QE's convention, N(Ef) per spin).

    :param linewidths_ghz: (nq, nmodes) gamma in GHz as matdyn.x writes it.
    :param frequencies_cm1: (nq, nmodes) omega in cm^-1 in the same mode order.
    :param dos_ef_states_per_ry_spin: N(Ef) of the same broadening (matdyn's ``lambda`` file).
    :param omega_min_cm1: modes below this (acoustic at Gamma, imaginary) get lambda = 0.
    """
    gamma = np.asarray(linewidths_ghz, dtype=float)
    omega = np.asarray(frequencies_cm1, dtype=float)
    if gamma.shape != omega.shape:
        raise ValueError(f"linewidths {gamma.shape} and frequencies {omega.shape} differ in shape")
    if not dos_ef_states_per_ry_spin > 0:
        raise ValueError(f"N(Ef) must be positive, got {dos_ef_states_per_ry_spin}")
    result = np.zeros_like(gamma)
    ok = omega >= omega_min_cm1
    omega_ry = omega[ok] / CM1_PER_RY
    result[ok] = (gamma[ok] / GHZ_PER_RY) / (np.pi * dos_ef_states_per_ry_spin * omega_ry**2)
    return result
