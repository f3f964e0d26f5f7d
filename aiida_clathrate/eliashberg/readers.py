"""Readers for alpha^2F files: Quantum ESPRESSO (matdyn ``a2F.dosN`` and ``lambda``; lambda.x
``alpha2F.dat``, ``lambda.dat`` and its standard output) and plain two-column text.

Every reader returns frequencies in meV.  A row at omega = 0 (lambda.x starts there; smeared
spectra can be non-zero there) is dropped whatever its alpha^2F, as in
:func:`~.spectrum.validate_spectrum`.  Rows at omega < 0 (matdyn writes them when the phonon DOS
range starts at imaginary, i.e. negative, frequencies) are dropped when alpha^2F there is zero
and rejected with ``ValueError`` otherwise.
"""

from __future__ import annotations

import pathlib
import re
from dataclasses import dataclass

import numpy as np

from ..units import normalize_unit, to_mev

_MISSING_E = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))([+-]\d{2,3})$")


#: lambda.x's alpha2F.dat header, 'E(THz)' with or without spaces.
LAMBDA_X_HEADER = re.compile(r"E\s*\(\s*THz\s*\)", re.IGNORECASE)
#: A unit in brackets in a column title: (meV), [eV], (THz), (cm-1), (cm^-1), (Ry).
HEADER_UNIT = re.compile(r"[\(\[]\s*(meV|eV|THz|cm\^?-1|Ry)\s*[\)\]]", re.IGNORECASE)
#: Where a phonon spectrum ends (meV): from heavy-element solids to hydrides (H stretch ~ 500 meV).
PLAUSIBLE_MAX_PHONON_MEV = (1.0, 1000.0)


def parse_fortran_float(token: str) -> float:
    """Float from a Fortran-formatted token: handles D exponents, 3-digit exponents written
    without 'E' (``0.1234-100``) and overflow stars (returned as NaN)."""
    text = token.strip().replace("D", "E").replace("d", "E")
    if set(text) == {"*"}:
        return float("nan")
    match = _MISSING_E.match(text)
    if match:
        text = f"{match.group(1)}E{match.group(2)}"
    try:
        return float(text)
    except ValueError as exc:
        raise ValueError(f"cannot read number {token!r}") from exc


@dataclass(frozen=True)
class Alpha2F:
    """alpha^2F(omega) read from a file (omega in meV, positive and increasing).

    Attributes:
        omega_mev, a2f: the spectrum handed to the solver.
        source: file path; file_format: 'qe_a2f_dos', 'lambda_x_alpha2f' or 'two_column'.
        input_unit: frequency unit of the file.
        modes: per-mode alpha^2F columns (QE a2F.dosN only), shape (n_omega, n_modes).
        reported_lambda: the lambda QE wrote in the file footer, if any.
        broadening: broadening label (the N of a2F.dosN, or the lambda.x degauss column).
    """

    omega_mev: np.ndarray
    a2f: np.ndarray
    source: str
    file_format: str
    input_unit: str
    modes: np.ndarray | None = None
    reported_lambda: float | None = None
    broadening: str = ""


def _drop_nonpositive(
    omega: np.ndarray, table: np.ndarray, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Drop rows at omega = 0 and rows at omega < 0 whose values are all zero; reject coupling
    at omega < 0 (imaginary modes)."""
    negative = omega < 0.0
    if np.any(negative):
        values = table[negative]
        if np.any(values != 0.0):
            i = int(np.flatnonzero(negative & np.any(table != 0.0, axis=1))[0])
            raise ValueError(
                f"{source}: alpha^2F is non-zero at negative frequency omega = {omega[i]} "
                f"(row {i}); imaginary modes cannot carry coupling"
            )
    keep = omega > 0.0
    return omega[keep], table[keep]


def _numeric_rows(lines: list[str], source: str, skip=lambda line: False, header: bool = False):
    """(line number, values) of the numeric lines; with ``header`` a first non-numeric,
    non-comment line (column titles such as 'omega a2F') is skipped."""
    rows = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!%" or skip(stripped):
            continue
        try:
            rows.append((number, [parse_fortran_float(tok) for tok in stripped.split()]))
        except ValueError as exc:
            if header and not rows:
                header = False
                continue
            raise ValueError(f"{source}, line {number}: {exc}") from exc
    return rows


def _table(rows, source: str) -> np.ndarray:
    if not rows:
        raise ValueError(f"{source}: no numeric data found")
    width = len(rows[0][1])
    for number, values in rows:
        if len(values) != width:
            raise ValueError(
                f"{source}, line {number}: {len(values)} columns where {width} were expected"
            )
    return np.array([values for _, values in rows], dtype=float)


def read_qe_a2f_dos(path) -> Alpha2F:
    """Read matdyn's ``a2F.dosN``: '#' header lines, then rows 'omega[Ry] a2F_total a2F_mode...'
    (format 3X,1000E16.6 in QE 6.7) and a footer ' lambda = ...   Delta = ...'."""
    source = str(path)
    lines = pathlib.Path(path).read_text().splitlines()
    reported = None
    for line in lines[::-1]:
        match = re.search(r"lambda\s*=\s*(\S+)", line)
        if match:
            reported = parse_fortran_float(match.group(1))
            break
    rows = _numeric_rows(lines, source, skip=lambda s: s.lower().startswith("lambda"))
    table = _table(rows, source)
    if table.shape[1] < 2:
        raise ValueError(f"{source}: expected at least 2 columns (omega, a2F_total)")
    omega = to_mev(table[:, 0], "Ry")
    omega, rest = _drop_nonpositive(omega, table[:, 1:], source)
    match = re.search(r"a2F\.dos(\d+)$", pathlib.Path(path).name)
    return Alpha2F(
        omega_mev=omega,
        a2f=rest[:, 0].copy(),
        source=source,
        file_format="qe_a2f_dos",
        input_unit="Ry",
        modes=rest[:, 1:].copy() if rest.shape[1] > 1 else None,
        reported_lambda=reported,
        broadening=match.group(1) if match else "",
    )


def read_lambda_x_alpha2f(path, broadening: int = 1) -> Alpha2F:
    """Read lambda.x's ``alpha2F.dat``: header '# E(THz)  degauss...' then 'E[THz] a2F(sigma_1)...'.

    ``broadening`` picks the column (1-based, in the order of the header's degauss values).
    """
    source = str(path)
    lines = pathlib.Path(path).read_text().splitlines()
    degauss: list[str] = []
    for line in lines:
        match = LAMBDA_X_HEADER.search(line)
        if line.strip().startswith("#") and match:
            degauss = line[match.end() :].split()
            break
    table = _table(_numeric_rows(lines, source), source)
    n_sigma = table.shape[1] - 1
    if not 1 <= broadening <= n_sigma:
        raise ValueError(f"{source}: broadening {broadening} not in 1..{n_sigma}")
    omega = to_mev(table[:, 0], "THz")
    omega, values = _drop_nonpositive(omega, table[:, broadening : broadening + 1], source)
    label = degauss[broadening - 1] if len(degauss) >= broadening else str(broadening)
    return Alpha2F(omega, values[:, 0].copy(), source, "lambda_x_alpha2f", "THz", broadening=label)


def read_two_column(path, unit: str = "meV", column: int = 2) -> Alpha2F:
    """Read 'omega alpha^2F' text ('#', '!' or '%' comments, one optional line of column
    titles); ``column`` is the 1-based alpha^2F column."""
    source = str(path)
    canonical = normalize_unit(unit)
    lines = pathlib.Path(path).read_text().splitlines()
    table = _table(_numeric_rows(lines, source, header=True), source)
    if table.shape[1] < 2:
        raise ValueError(f"{source}: need at least two columns (omega, alpha^2F)")
    if not 2 <= column <= table.shape[1]:
        raise ValueError(f"{source}: column {column} not in 2..{table.shape[1]}")
    omega = to_mev(table[:, 0], canonical)
    omega, values = _drop_nonpositive(omega, table[:, column - 1 : column], source)
    return Alpha2F(omega, values[:, 0].copy(), source, "two_column", unit)


def detect_format(path) -> str:
    """'qe_a2f_dos', 'lambda_x_alpha2f' or 'two_column' from the file name and header."""
    name = pathlib.Path(path).name
    with open(path) as handle:
        head = [handle.readline() for _ in range(8)]
    text = "".join(head)
    if re.match(r"a2F\.dos\d+$", name) or "Eliashberg function a2F" in text:
        return "qe_a2f_dos"
    if LAMBDA_X_HEADER.search(text):
        return "lambda_x_alpha2f"
    return "two_column"


def header_unit(path) -> str | None:
    """The frequency unit named in a text file's first comment or title line, e.g. '# omega (eV)'
    or 'E [meV] a2F', or None."""
    with open(path) as handle:
        head = [handle.readline() for _ in range(8)]
    for line in head:
        stripped = line.strip()
        if not stripped or stripped[0].isdigit() or stripped[0] in "+-.":
            break
        match = HEADER_UNIT.search(stripped)
        if match:
            return normalize_unit(match.group(1))
    return None


def plausibility_error(omega_mev: np.ndarray, unit: str, source: str) -> str | None:
    """Why the frequencies cannot be phonons in the stated unit, or None: the highest one must lie
    in PLAUSIBLE_MAX_PHONON_MEV (an eV file read as meV tops out below 1 meV)."""
    low, high = PLAUSIBLE_MAX_PHONON_MEV
    top = float(np.max(omega_mev)) if len(omega_mev) else 0.0
    if not low <= top <= high:
        return (
            f"{source}: the highest frequency is {top:.4g} meV read as {unit}; phonon spectra end "
            f"between {low:g} and {high:g} meV. Give the file's unit with --units"
        )
    return None


def read_alpha2f(path, unit: str | None = None, column: int = 2, broadening: int = 1) -> Alpha2F:
    """Read any supported alpha^2F file; ``unit`` applies to two-column files (default meV).

    QE files carry their own unit (a2F.dosN: Ry, alpha2F.dat: THz); a conflicting ``unit`` raises.
    """
    fmt = detect_format(path)
    if fmt == "two_column":
        declared = header_unit(path)
        if unit is not None and declared is not None and normalize_unit(unit) != declared:
            raise ValueError(f"{path}: its header gives {declared}, not {unit}")
        spectrum = read_two_column(path, unit or declared or "meV", column)
        error = plausibility_error(spectrum.omega_mev, spectrum.input_unit, str(path))
        if error:
            raise ValueError(error)
        return spectrum
    own = "ry" if fmt == "qe_a2f_dos" else "thz"
    if unit is not None and normalize_unit(unit) != own:
        raise ValueError(f"{path} is a {fmt} file in {own}, not {unit}")
    if fmt == "qe_a2f_dos":
        return read_qe_a2f_dos(path)
    return read_lambda_x_alpha2f(path, broadening)


_MATDYN_LAMBDA = re.compile(
    r"Broadening\s*(?P<broadening>\S+?)\s*lambda\s*(?P<lambda>\S+?)\s*dos\(Ef\)\s*(?P<dos>\S+?)"
    r"(?:\s*omega_ln\s*\[K\]\s*(?P<wlog>\S+))?\s*$"
)


def read_matdyn_lambda(path) -> list[dict]:
    """Read matdyn's ``lambda`` file: one row per broadening (broadening in Ry, as QE writes it).

    Returns dicts with broadening_ry, lambda, dos_ef (states/Ry/spin as in QE) and
    omega_log_kelvin (None for QE versions that do not write it).
    """
    rows = []
    for line in pathlib.Path(path).read_text().splitlines():
        match = _MATDYN_LAMBDA.search(line.strip())
        if match:
            wlog = match.group("wlog")
            rows.append(
                {
                    "broadening_ry": parse_fortran_float(match.group("broadening")),
                    "lambda": parse_fortran_float(match.group("lambda")),
                    "dos_ef": parse_fortran_float(match.group("dos")),
                    "omega_log_kelvin": parse_fortran_float(wlog) if wlog else None,
                }
            )
    if not rows:
        raise ValueError(f"{path}: no 'Broadening ... lambda ... dos(Ef)' lines found")
    return rows


_LAMBDA_X_STDOUT = re.compile(
    r"lambda\s*=\s*(?P<lambda>\S+)\s*\(\s*(?P<lambda2>\S+)\s*\)\s*<log w>=\s*(?P<wlog>\S+)\s*K\s*"
    r"N\(Ef\)=\s*(?P<dos>\S+)\s*at degauss=\s*(?P<degauss>\S+)"
)


def read_lambda_x_table(path) -> list[dict]:
    """Read lambda.x's ``lambda.dat`` or its standard output: one dict per broadening with
    degauss, lambda (sum over q), lambda_a2f (integral of alpha2F), omega_log_kelvin, dos_ef."""
    text = pathlib.Path(path).read_text()
    rows = []
    for match in _LAMBDA_X_STDOUT.finditer(text):
        rows.append(
            {
                "degauss": parse_fortran_float(match.group("degauss")),
                "lambda": parse_fortran_float(match.group("lambda")),
                "lambda_a2f": parse_fortran_float(match.group("lambda2")),
                "omega_log_kelvin": parse_fortran_float(match.group("wlog")),
                "dos_ef": parse_fortran_float(match.group("dos")),
            }
        )
    if rows:
        return rows
    if "degauss" in text and "lambda" in text:
        for number, values in _numeric_rows(text.splitlines(), str(path)):
            if len(values) < 5:
                raise ValueError(f"{path}, line {number}: expected 5 columns in lambda.dat")
            rows.append(
                {
                    "degauss": values[0],
                    "lambda": values[1],
                    "lambda_a2f": values[2],
                    "omega_log_kelvin": values[3],
                    "dos_ef": values[4],
                }
            )
    if not rows:
        raise ValueError(f"{path}: neither lambda.dat rows nor lambda.x output lines found")
    return rows
