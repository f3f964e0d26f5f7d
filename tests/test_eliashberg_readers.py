"""Readers for QE electron-phonon outputs and two-column alpha^2F files.

The files in examples/eliashberg_al_qe67/ are real Quantum ESPRESSO 6.7 outputs (fcc Al,
2x2x2 q-grid; inputs beside them), so these tests read exactly what matdyn.x and lambda.x write.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from aiida_clathrate.eliashberg import (
    read_alpha2f,
    read_lambda_x_alpha2f,
    read_lambda_x_table,
    read_matdyn_lambda,
    read_qe_a2f_dos,
    read_two_column,
    spectral_moments,
    to_mev,
)
from aiida_clathrate.eliashberg.readers import parse_fortran_float

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
AL = EXAMPLES / "eliashberg_al_qe67"


def test_real_matdyn_a2f_dos():
    spectrum = read_alpha2f(AL / "a2F.dos3")
    assert spectrum.file_format == "qe_a2f_dos" and spectrum.input_unit == "Ry"
    assert spectrum.broadening == "3"
    assert spectrum.omega_mev.size == 50 and spectrum.modes.shape == (50, 3)
    first_ry = 0.337530e-04
    assert spectrum.omega_mev[0] == pytest.approx(to_mev(first_ry, "Ry"))
    np.testing.assert_allclose(spectrum.modes.sum(axis=1), spectrum.a2f, rtol=2e-5, atol=2e-6)
    moments = spectral_moments(spectrum.omega_mev, spectrum.a2f)
    # QE's own footer lambda (midpoint sum) agrees with our quadrature
    assert moments.lambda_ == pytest.approx(spectrum.reported_lambda, rel=1e-3)
    # and with the lambda file written by the same matdyn run (broadening 3 = 0.015 Ry)
    rows = read_matdyn_lambda(AL / "lambda")
    assert len(rows) == 10 and rows[2]["broadening_ry"] == pytest.approx(0.015)
    assert moments.lambda_ == pytest.approx(rows[2]["lambda"], rel=1e-2)
    assert moments.omega_log_mev / 0.08617333262 == pytest.approx(
        rows[2]["omega_log_kelvin"], rel=0.01
    )
    assert 35 < moments.omega_max_mev < 50  # Al phonons end near 40 meV


def test_real_lambda_x_files():
    spectrum = read_alpha2f(AL / "alpha2F.dat", broadening=3)
    assert spectrum.file_format == "lambda_x_alpha2f" and spectrum.broadening == "0.015"
    assert spectrum.omega_mev[0] > 0  # the omega = 0 row is dropped
    table = read_lambda_x_table(AL / "lambda.dat")
    stdout = read_lambda_x_table(AL / "lambda_x.out")
    assert len(table) == len(stdout) == 10
    assert table[2] == stdout[2]
    moments = spectral_moments(spectrum.omega_mev, spectrum.a2f)
    assert moments.lambda_ == pytest.approx(table[2]["lambda_a2f"], rel=2e-3)
    assert moments.omega_log_mev / 0.08617333262 == pytest.approx(
        table[2]["omega_log_kelvin"], rel=2e-3
    )
    with pytest.raises(ValueError, match="broadening 11"):
        read_lambda_x_alpha2f(AL / "alpha2F.dat", broadening=11)


def _write_qe(path, rows, footer=True):
    text = (
        " \n # Eliashberg function a2F (per both spin)\n #  frequencies in Rydberg  \n"
        " # DOS normalized to E in Rydberg: a2F_total, a2F(mode) \n \n"
    )
    text += "\n".join("   " + "".join(f"{v:16s}" for v in row) for row in rows)
    if footer:
        text += "\n  lambda =  0.5   Delta =    1.0E-004\n"
    path.write_text(text)
    return path


def test_qe_rows_at_imaginary_frequencies_are_dropped(tmp_path):
    rows = [
        ["-0.200000E-03", "0.000000E+00", "0.000000E+00", "0.000000E+00"],
        ["0.100000E-03", "0.100000E+00", "0.500000E-01", "0.500000E-01"],
        ["0.200000E-03", "0.300000-101", "0.300000-101", "0.000000E+00"],
        ["0.300000E-03", "0.200000D+00", "0.100000E+00", "0.100000E+00"],
    ]
    spectrum = read_qe_a2f_dos(_write_qe(tmp_path / "a2F.dos7", rows))
    assert spectrum.broadening == "7" and spectrum.reported_lambda == 0.5
    np.testing.assert_allclose(spectrum.omega_mev, to_mev([1e-4, 2e-4, 3e-4], "Ry"))
    np.testing.assert_allclose(spectrum.a2f, [0.1, 0.3e-101, 0.2])


def test_qe_coupling_at_negative_frequency_is_an_error(tmp_path):
    rows = [
        ["-0.200000E-03", "0.100000E+00", "0.100000E+00"],
        ["0.100000E-03", "0.100000E+00", "0.100000E+00"],
    ]
    with pytest.raises(ValueError, match="non-zero at negative frequency"):
        read_qe_a2f_dos(_write_qe(tmp_path / "a2F.dos1", rows))


def test_qe_ragged_rows_are_an_error(tmp_path):
    rows = [["0.1E-03", "0.1E+00", "0.1E+00"], ["0.2E-03", "0.1E+00"]]
    with pytest.raises(ValueError, match="line 7: 2 columns where 3 were expected"):
        read_qe_a2f_dos(_write_qe(tmp_path / "a2F.dos1", rows))


def test_two_column_units_and_detection(tmp_path):
    path = tmp_path / "spectrum.txt"
    path.write_text("# omega(cm-1) a2F\n0.0 0.0\n100.0 0.2\n200.0 0.4\n300.0 0.1\n")
    spectrum = read_alpha2f(path, unit="cm-1")
    assert spectrum.file_format == "two_column"
    np.testing.assert_allclose(spectrum.omega_mev, to_mev([100.0, 200.0, 300.0], "cm-1"))
    thz = read_two_column(path, unit="THz")
    np.testing.assert_allclose(thz.omega_mev, to_mev([100.0, 200.0, 300.0], "THz"))
    with pytest.raises(ValueError, match="not cm-1"):
        read_alpha2f(AL / "a2F.dos3", unit="cm-1")
    bad = tmp_path / "bad.txt"
    bad.write_text("-1.0 0.3\n1.0 0.2\n")
    with pytest.raises(ValueError, match="non-zero at negative frequency"):
        read_two_column(bad)
    titled = tmp_path / "titled.txt"
    titled.write_text("omega_meV  a2F\n1.0 0.2\n2.0 0.4\n")
    np.testing.assert_allclose(read_two_column(titled).a2f, [0.2, 0.4])
    words = tmp_path / "words.txt"
    words.write_text("1.0 0.2\n2.0 abc\n")
    with pytest.raises(ValueError, match="line 2"):
        read_two_column(words)


def test_example_clathrate_like_file():
    spectrum = read_alpha2f(EXAMPLES / "eliashberg_clathrate_like_a2f.dat", unit="cm-1")
    moments = spectral_moments(spectrum.omega_mev, spectrum.a2f)
    assert moments.lambda_ == pytest.approx(1.75, rel=1e-3)


def test_fortran_float_parsing():
    assert parse_fortran_float("0.1234-100") == pytest.approx(0.1234e-100)
    assert parse_fortran_float("1.5D+02") == 150.0
    assert np.isnan(parse_fortran_float("********"))
    with pytest.raises(ValueError, match="cannot read"):
        parse_fortran_float("abc")
