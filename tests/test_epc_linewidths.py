"""Readers of matdyn.x's linewidth files (``elph.gamma.N``, ``gam.lines``) and lambda_qnu.

The texts below are real QE 6.7 output: a 4-atom simple-cubic cell of fcc Al (12 modes, so the
rows wrap: six per line in ``elph.gamma.N``, nine in ``gam.lines``), electron-phonon ph.x at
Gamma with ``el_ph_sigma=0.02``, ``el_ph_nsigma=2``, then q2r.x and matdyn.x (``la2F``,
``dos=.false.``, ``asr='crystal'``) on three q-points (0, 0.25, 0.5 along x, crystal).
The real-QE workflow tests are in tests/test_epc_qe.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from aiida_clathrate.calculations.epc_linewidths import (
    GHZ_PER_RY,
    mode_lambdas,
    read_elph_gamma,
    read_gam_lines,
    read_linewidths_folder,
    retrieve_names,
)

ELPH_GAMMA_1 = """ &plot nbnd=  12, nks=   3 /
            0.000000  0.000000  0.000000
   -0.0000    0.0000    0.0000   37.9613   37.9613   37.9613
   37.9469   37.9469   37.9469  278.0513  278.0513  278.0513
            0.250000  0.000000  0.000000
    5.5587    5.5587   40.7168   32.3961   32.3961   37.9637
   37.9469   73.1118   73.1118  237.3321  242.8929  242.8929
            0.500000  0.000000  0.000000
   18.9671   18.9671   18.9881   18.9881   37.9571   37.9469
  139.0212  139.0343  106.2845  106.2845  209.7198  209.7198
"""
ELPH_GAMMA_2 = """ &plot nbnd=  12, nks=   3 /
            0.000000  0.000000  0.000000
   -0.0000   -0.0000   -0.0000   16.1719   16.1719   16.1719
   16.1648   16.1648   16.1648   94.3277   94.3277   94.3277
            0.250000  0.000000  0.000000
    2.3679    2.3679   13.8132   13.8006   13.8006   16.1726
   16.1648   27.6135   27.6135   80.5139   82.8824   82.8824
            0.500000  0.000000  0.000000
    8.0814    8.0814    8.0873    8.0873   16.1707   16.1648
   47.1626   47.1663   40.7675   40.7675   69.7282   69.7282
"""
#: matdyn.x's frequency file (cm^-1) of the same run.
FREQUENCIES = """ &plot nbnd=  12, nks=   3 /
            0.000000  0.000000  0.000000
   -0.0000   -0.0000    0.0000  173.0220  173.0220  173.0220
  173.1677  173.1677  173.1677  352.5171  352.5171  352.5171
            0.250000  0.000000  0.000000
   66.2405   66.2405  134.9024  159.9187  159.9187  173.0220
  173.1677  209.2193  209.2193  325.6833  332.3514  332.3514
            0.500000  0.000000  0.000000
  122.3966  122.3966  122.3966  122.3966  173.0220  173.1677
  249.2672  249.2672  277.6886  277.6886  277.7034  277.7034
"""
#: ph.x's N(Ef) (states/spin/Ry) at the two broadenings (0.02, 0.04 Ry).
DOS_EF = [16.098112, 11.826315]
#: The cell: simple cubic, celldm(1) = 7.65 bohr.
A_ANGSTROM = 7.65 * 0.529177210903
GAM_LINES = """
  Gamma lines for all modes [THz]

 Broadening   0.0200
       1
 -0.0000  0.0000  0.0000  0.0380  0.0380  0.0380  0.0379  0.0379  0.0379
  0.2781  0.2781  0.2781
       2
  0.0056  0.0056  0.0407  0.0324  0.0324  0.0380  0.0379  0.0731  0.0731
  0.2373  0.2429  0.2429
       3
  0.0190  0.0190  0.0190  0.0190  0.0380  0.0379  0.1390  0.1390  0.1063
  0.1063  0.2097  0.2097
 Broadening   0.0400
       1
 -0.0000 -0.0000 -0.0000  0.0162  0.0162  0.0162  0.0162  0.0162  0.0162
  0.0943  0.0943  0.0943
       2
  0.0024  0.0024  0.0138  0.0138  0.0138  0.0162  0.0162  0.0276  0.0276
  0.0805  0.0829  0.0829
       3
  0.0081  0.0081  0.0081  0.0081  0.0162  0.0162  0.0472  0.0472  0.0408
  0.0408  0.0697  0.0697
"""


def _folder(path, files: dict[str, str]):
    path.mkdir(exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return path


def test_elph_gamma_wrapped_rows():
    table = read_elph_gamma(ELPH_GAMMA_1)
    assert table.linewidths_ghz.shape == (3, 12) and table.qpoints_cartesian.shape == (3, 3)
    np.testing.assert_allclose(table.qpoints_cartesian[:, 0], [0.0, 0.25, 0.5])
    assert table.linewidths_ghz[0, 9] == pytest.approx(278.0513)
    assert table.linewidths_ghz[2, 11] == pytest.approx(209.7198)
    assert table.linewidths_ghz[0, 0] == 0.0  # '-0.0000'


def test_gam_lines_wrapped_rows():
    blocks = read_gam_lines(GAM_LINES)
    assert [b for b, _ in blocks] == [0.02, 0.04]
    assert all(values.shape == (3, 12) for _, values in blocks)
    assert blocks[1][1][2, 11] == pytest.approx(0.0697)


def test_folder_reads_every_broadening_and_cross_checks(tmp_path):
    folder = _folder(
        tmp_path,
        {"gam.lines": GAM_LINES, "elph.gamma.1": ELPH_GAMMA_1, "elph.gamma.2": ELPH_GAMMA_2},
    )
    table = read_linewidths_folder(folder)
    np.testing.assert_allclose(table.broadenings_ry, [0.02, 0.04])
    assert table.linewidths_ghz.shape == (2, 3, 12)
    # gam.lines (THz, 4 decimals) and elph.gamma.N (GHz) are the same numbers
    thz = np.stack([values for _, values in read_gam_lines(GAM_LINES)])
    assert np.abs(table.linewidths_ghz - 1000 * thz).max() <= 0.05
    assert retrieve_names(2) == ["gam.lines", "elph.gamma.1", "elph.gamma.2"]


def test_folder_refuses_swapped_or_missing_files(tmp_path):
    swapped = _folder(
        tmp_path / "swapped",
        {"gam.lines": GAM_LINES, "elph.gamma.1": ELPH_GAMMA_2, "elph.gamma.2": ELPH_GAMMA_1},
    )
    with pytest.raises(ValueError, match="differ by"):
        read_linewidths_folder(swapped)
    missing = _folder(tmp_path / "missing", {"gam.lines": GAM_LINES, "elph.gamma.1": ELPH_GAMMA_1})
    with pytest.raises(ValueError, match=r"elph.gamma files \[1\], expected \[1, 2\]"):
        read_linewidths_folder(missing)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no gam.lines"):
        read_linewidths_folder(tmp_path / "empty")


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("garbage\n", "header"),
        (ELPH_GAMMA_1.rsplit("\n", 2)[0] + "\n", "data lines"),
        (ELPH_GAMMA_1.replace("278.0513", "********", 1), "unreadable field"),
    ],
)
def test_elph_gamma_malformed(text, match):
    with pytest.raises(ValueError, match=match):
        read_elph_gamma(text)


def test_gam_lines_malformed():
    with pytest.raises(ValueError, match="no 'Broadening'"):
        read_gam_lines("  Gamma lines for all modes [THz] \n")
    with pytest.raises(ValueError, match="index 3 after 1"):
        read_gam_lines(" Broadening   0.0200\n       1\n  0.1\n       3\n  0.2\n")


def test_mode_lambdas_qe_convention():
    """ph.x, fcc Al (QE 6.7), X point, broadening 0.005 Ry: lambda(3) = 0.1988 with
    gamma = 115.34 GHz, N(Ef) = 5.667537 states/spin/Ry; matdyn.x: omega = 345.2264 cm^-1."""
    lam = mode_lambdas([[115.34, 0.0]], [[345.2264, 0.5]], 5.667537)
    assert lam[0, 0] == pytest.approx(0.1988, abs=2e-4)
    assert lam[0, 1] == 0.0  # below omega_min_cm1
    assert GHZ_PER_RY == pytest.approx(3289841.96, rel=1e-8)
    with pytest.raises(ValueError, match="shape"):
        mode_lambdas([[1.0]], [[1.0, 2.0]], 1.0)
    with pytest.raises(ValueError, match="positive"):
        mode_lambdas([[1.0]], [[100.0]], 0.0)


def _calcfunction_inputs(qpoints=None, broadenings=(0.02, 0.04)):
    from aiida import orm

    from aiida_clathrate.phonons import THZ_TO_CM1

    retrieved = orm.FolderData()
    for name, text in (
        ("gam.lines", GAM_LINES),
        ("elph.gamma.1", ELPH_GAMMA_1),
        ("elph.gamma.2", ELPH_GAMMA_2),
    ):
        retrieved.base.repository.put_object_from_bytes(text.encode(), name)
    frequencies = read_elph_gamma(FREQUENCIES, "freq").linewidths_ghz  # same layout, cm^-1
    bands = orm.BandsData()
    bands.set_cell(np.eye(3) * A_ANGSTROM)
    bands.set_kpoints(qpoints if qpoints is not None else [[0, 0, 0], [0.25, 0, 0], [0.5, 0, 0]])
    bands.set_bands(frequencies / THZ_TO_CM1, units="THz")
    rows = [
        {"broadening_ry": b, "dos_ef_states_per_ry_spin": d}
        for b, d in zip(broadenings, DOS_EF, strict=True)
    ]
    summary = orm.Dict({"broadenings": rows, "chosen_index": 2})
    return retrieved, bands, summary, frequencies


def test_calcfunction_linewidths_at_the_chosen_broadening(aiida_profile):
    from aiida_clathrate.calculations.epc_functions import parse_epc_linewidths

    retrieved, bands, summary, frequencies = _calcfunction_inputs()
    node = parse_epc_linewidths(retrieved, bands, summary)
    widths = node.get_array("linewidths_ghz")
    np.testing.assert_allclose(widths, read_elph_gamma(ELPH_GAMMA_2).linewidths_ghz)
    np.testing.assert_allclose(node.get_array("frequencies_cm1"), frequencies, rtol=1e-9)
    assert node.get_array("linewidths_all_broadenings_ghz").shape == (2, 3, 12)
    assert node.base.attributes.get("broadening_ry") == 0.04
    lam = node.get_array("lambda_qnu")
    # Gamma, the highest triplet: ph.x printed lambda 0.0893, 0.0594, 0.0756 (gamma 112.69,
    # 74.87, 95.42 GHz: not symmetrised); matdyn.x splits the triplet evenly (94.3277 GHz each),
    # so each lambda is their mean.
    np.testing.assert_allclose(lam[0, 9:], (0.0893 + 0.0594 + 0.0756) / 3, atol=2e-4)
    assert np.all(lam[0, :3] == 0.0)  # acoustic at Gamma


def test_calcfunction_refuses_mismatches(aiida_profile):
    from aiida_clathrate.calculations.epc_functions import parse_epc_linewidths

    retrieved, bands, summary, _ = _calcfunction_inputs(
        qpoints=[[0, 0, 0], [0, 0.25, 0], [0.5, 0, 0]]
    )
    _, node = parse_epc_linewidths.run_get_node(retrieved, bands, summary)
    assert node.exit_status == 300 and "q-points differ" in node.exit_message
    retrieved, bands, summary, _ = _calcfunction_inputs(broadenings=(0.01, 0.02))
    _, node = parse_epc_linewidths.run_get_node(retrieved, bands, summary)
    assert node.exit_status == 300 and "broadenings" in node.exit_message
