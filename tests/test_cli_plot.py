"""Figures: the drawing functions on synthetic arrays, and ``aiida-clathrate plot`` on hand-built
workflow nodes (fcc Al phonons from a nearest-neighbour force-constant model, the real QE 6.7 Al
alpha^2F and its Eliashberg gap curve)."""

from __future__ import annotations

import pathlib

import matplotlib
import numpy as np
import pytest
from click.testing import CliRunner

from aiida_clathrate.phonons import THZ_TO_CM1, band_path
from aiida_clathrate.plotting import (
    BandSet,
    path_distances,
    plot_band_overlay,
    plot_dispersion_dos,
    plot_epc_spectrum,
)

matplotlib.use("Agg")

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "eliashberg_al_qe67"
A_ALUMINIUM = 4.05


def fcc_nearest_neighbour_cm1(qpoints_cartesian: np.ndarray, top_cm1: float = 320.0) -> np.ndarray:
    """Phonon frequencies (cm^-1) of an fcc crystal with one central nearest-neighbour spring,
    scaled so that the highest branch at the zone boundary X is ``top_cm1``."""
    a = A_ALUMINIUM
    signs = [(s1, s2) for s1 in (1, -1) for s2 in (1, -1)]
    neighbours = (
        0.5
        * a
        * np.array(
            [v for s1, s2 in signs for v in ((s1, s2, 0), (s1, 0, s2), (0, s1, s2))], dtype=float
        )
    )
    units = neighbours / np.linalg.norm(neighbours, axis=1)[:, None]
    projectors = units[:, :, None] * units[:, None, :]

    def omega(q):
        phases = 1.0 - np.cos(q @ neighbours.T)  # (nq, 12)
        matrices = np.einsum("qn,nij->qij", phases, projectors)
        return np.sqrt(np.clip(np.linalg.eigvalsh(matrices), 0.0, None))

    scale = top_cm1 / omega(np.array([[2 * np.pi / a, 0.0, 0.0]])).max()
    return scale * omega(np.asarray(qpoints_cartesian, dtype=float))


def test_model_is_sound():
    """Acoustic at Γ, linear near Γ, the fcc X-point ratio sqrt(2) between L and T branches."""
    a = A_ALUMINIUM
    freqs = fcc_nearest_neighbour_cm1(
        np.array([[0, 0, 0], [1e-3, 0, 0], [2e-3, 0, 0], [2 * np.pi / a, 0, 0]])
    )
    assert np.allclose(freqs[0], 0.0, atol=1e-6)
    assert np.allclose(freqs[2], 2 * freqs[1], rtol=1e-4)
    x_point = np.sort(freqs[3])
    assert x_point[2] == pytest.approx(320.0) and x_point[2] / x_point[0] == pytest.approx(
        np.sqrt(2)
    )


# --- drawing functions on synthetic arrays --------------------------------------------------


def test_path_distances_jump_and_gamma():
    points = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0], [5, 5, 5], [5, 5.5, 5], [5, 6, 5]], float)
    distances, ticks = path_distances(points, [(0, "GAMMA"), (2, "X"), (3, "M"), (5, "R")])
    # labels at neighbouring indices (aiida's BandsData convention) mark a jump: no length
    np.testing.assert_allclose(distances, [0, 1, 2, 2, 2.5, 3])
    assert ticks == [(0.0, "Γ"), (2.0, "X|M"), (3.0, "R")]
    with pytest.raises(ValueError, match="label index 9"):
        path_distances(points, [(9, "X")])
    assert path_distances(points)[1] == []
    with pytest.raises(ValueError, match="shape"):
        path_distances(points[:, :2])


def test_bandset_validation():
    with pytest.raises(ValueError, match="nq = 3"):
        BandSet(np.arange(3.0), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="linewidths shape"):
        BandSet(np.arange(3.0), np.zeros((3, 2)), linewidths=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="non-negative"):
        BandSet(np.arange(3.0), np.zeros((3, 2)), linewidths=-np.ones((3, 2)))


def _synthetic_bands(nq: int, shift_cm1: float, linewidths: bool) -> BandSet:
    x = np.linspace(0.0, 1.0, nq)
    freqs = np.stack([300 * np.sin(np.pi * x / 2) + shift_cm1 * k for k in range(3)], axis=1)
    freqs[:, 0] -= 80.0 * np.exp(-((x - 0.1) ** 2) / 0.002)  # a soft mode dipping below zero
    widths = np.abs(np.cos(3 * x))[:, None] * np.array([1.0, 2.0, 4.0]) if linewidths else None
    return BandSet(x * 2.0, freqs, [(0.0, "Γ"), (1.0, "X"), (2.0, "M")], widths)


def test_band_overlay_marker_sizes(tmp_path):
    """Two band sets on different samplings; markers scale with the largest linewidth of both."""
    harmonic = _synthetic_bands(41, 20.0, linewidths=True)
    anharmonic = _synthetic_bands(61, 35.0, linewidths=True)
    anharmonic.linewidths = anharmonic.linewidths * 0.5
    figure = plot_band_overlay(harmonic, anharmonic, title="synthetic", max_marker_size=50.0)
    ax = figure.axes[0]
    collections = ax.collections
    assert len(collections) == 2
    sizes = [c.get_sizes() for c in collections]
    assert sizes[0].max() == pytest.approx(50.0)  # harmonic holds the largest linewidth
    assert sizes[1].max() == pytest.approx(25.0)
    assert len(sizes[0]) == 41 * 3 and len(sizes[1]) == 61 * 3
    offsets = collections[1].get_offsets()
    assert offsets[:, 0].max() == pytest.approx(2.0)  # rescaled onto the harmonic path
    assert harmonic.frequencies_cm1.min() < -25.0
    assert ax.get_ylim()[0] < harmonic.frequencies_cm1.min()  # the imaginary dip is visible
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Γ", "X", "M"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["harmonic", "anharmonic"]
    path = tmp_path / "overlay.png"
    figure.savefig(path)
    assert path.stat().st_size > 10_000
    without = plot_band_overlay(_synthetic_bands(11, 0.0, False), _synthetic_bands(11, 5.0, False))
    assert len(without.axes[0].collections) == 0
    with pytest.raises(ValueError, match="max_marker_size"):
        plot_band_overlay(harmonic, anharmonic, max_marker_size=0)


def test_dispersion_dos_and_epc_spectrum(tmp_path):
    bands = _synthetic_bands(31, 10.0, linewidths=False)
    dos_x = np.linspace(0.0, 350.0, 71)
    dos_y = np.exp(-((dos_x - 250.0) ** 2) / 800.0)
    figure = plot_dispersion_dos(bands, dos_x, dos_y, title="t")
    assert len(figure.axes) == 2 and figure.axes[1].get_ylim()[1] >= 350.0
    with pytest.raises(ValueError, match="shape"):
        plot_dispersion_dos(bands, dos_x, dos_y[:-1])
    omega_mev = np.linspace(0.5, 40.0, 80)
    a2f = 0.5 * np.exp(-((omega_mev - 30.0) ** 2) / 10.0)
    figure = plot_epc_spectrum(omega_mev, a2f, dos_x, dos_y)
    assert len(figure.axes) == 3  # DOS, alpha^2F and the lambda(omega) twin
    twin_line = figure.axes[2].get_lines()[0]
    running = twin_line.get_xdata()
    assert running[-1] == pytest.approx(2 * np.trapezoid(a2f / omega_mev, omega_mev), rel=0.02)
    figure.savefig(tmp_path / "epc.pdf")
    assert (tmp_path / "epc.pdf").read_bytes()[:4] == b"%PDF"


# --- the CLI on hand-built workflow nodes ----------------------------------------------------


def _workflow(label: str, structure, outputs: dict):
    """A finished WorkChainNode with process label ``label``, input ``structure`` and ``outputs``."""
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    node = orm.WorkChainNode()
    node.set_process_label(label)
    node.base.links.add_incoming(structure.store(), LinkType.INPUT_WORK, "structure")
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    node.store()
    for name, output in outputs.items():
        output.store()
        output.base.links.add_incoming(node, LinkType.RETURN, name)
    node.seal()
    return node


@pytest.fixture(scope="module")
def al_phonons(aiida_profile):
    """(BandsData along Γ-X-W-K-Γ-L-U-W-L-K|U-X in THz, phonon DOS XyData in cm^-1) of fcc Al."""
    from aiida import orm
    from ase.build import bulk

    atoms = bulk("Al", "fcc", a=A_ALUMINIUM)
    fractional, labels = band_path(atoms, 80)
    reciprocal = 2 * np.pi * atoms.cell.reciprocal()
    freqs = fcc_nearest_neighbour_cm1(fractional @ reciprocal)
    bands = orm.BandsData()
    bands.set_cell(atoms.cell[:])
    bands.set_kpoints(fractional)
    bands.labels = labels
    bands.set_bands(freqs / THZ_TO_CM1, units="THz")
    mesh = np.stack(np.meshgrid(*[np.arange(16) / 16] * 3, indexing="ij"), -1).reshape(-1, 3)
    histogram, edges = np.histogram(
        fcc_nearest_neighbour_cm1(mesh @ reciprocal), bins=70, range=(0, 350)
    )
    dos = orm.XyData()
    dos.set_x(0.5 * (edges[1:] + edges[:-1]), "frequency", "cm^(-1)")
    dos.set_y(histogram / histogram.sum(), "dos", "states * cm")
    return orm.StructureData(ase=atoms), bands, dos


@pytest.fixture(scope="module")
def epc_node(al_phonons):
    from aiida import orm

    from aiida_clathrate.calculations.eliashberg import alpha2f_xydata, eliashberg
    from aiida_clathrate.eliashberg import read_alpha2f

    structure, _, dos = al_phonons
    spectrum = read_alpha2f(EXAMPLE / "a2F.dos3")
    alpha2f = alpha2f_xydata(spectrum.omega_mev, spectrum.a2f, "meV")
    results, process = eliashberg.run_get_node(
        alpha2f=alpha2f, mustar=orm.List([0.0, 0.05]), settings=orm.Dict({"gap_curve_points": 4})
    )
    assert process.is_finished_ok, process.exit_message
    outputs = {"alpha2f": alpha2f, "gap_curve": results["gap_curve"], "phonon_dos": dos}
    return _workflow("ElectronPhononWorkChain", orm.StructureData(ase=structure.get_ase()), outputs)


def _plot(*args: str):
    from aiida_clathrate.cli import cmd_root

    return CliRunner().invoke(cmd_root, ["plot", *args])


def test_cli_harmonic(al_phonons, tmp_path):
    structure, bands, dos = al_phonons
    node = _workflow(
        "HarmonicPhononWorkChain", structure, {"phonon_bands": bands, "phonon_dos": dos}
    )
    out = tmp_path / "figs"
    result = _plot(str(node.pk), "--output-dir", str(out))
    assert result.exit_code == 0, result.output
    path = out / f"phonons_{node.pk}.png"
    assert result.output.split() == [str(path)]
    assert path.stat().st_size > 20_000
    result = _plot(str(node.pk), "--output-dir", str(out), "--format", "pdf")
    assert result.exit_code == 0, result.output
    assert (out / f"phonons_{node.pk}.pdf").read_bytes()[:4] == b"%PDF"


def test_cli_harmonic_figure_content(al_phonons):
    """What the CLI draws: cm^-1 bands with the path's labels (the extraction, not just a file)."""
    from aiida_clathrate.cli.cmd_plot import band_set

    _, bands, _ = al_phonons
    bandset = band_set(bands)
    assert bandset.frequencies_cm1.max() == pytest.approx(320.0, rel=0.02)
    labels = [label for _, label in bandset.ticks]
    assert labels[0] == "Γ" and "X" in labels and any("|" in label for label in labels)
    assert np.all(np.diff(bandset.distances) >= 0)


def test_cli_epc(epc_node, tmp_path):
    result = _plot(str(epc_node.pk), "--output-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    written = [pathlib.Path(p) for p in result.output.split()]
    assert [p.name for p in written] == [f"alpha2f_{epc_node.pk}.png", f"gap_{epc_node.pk}.png"]
    assert all(p.stat().st_size > 10_000 for p in written)


def test_cli_refuses_other_processes(epc_node, tmp_path):
    caller = epc_node.outputs.gap_curve.creator  # the eliashberg calcfunction
    result = _plot(str(caller.pk), "--output-dir", str(tmp_path))
    assert result.exit_code != 0 and "has no figures" in result.output
    assert not any(tmp_path.iterdir())


# --- Fig. 2: dispersion with electron-phonon linewidths (ElectronPhononWorkChain, compound) ----


def _linewidth_outputs(bands, stiffening: float = 1.0) -> dict:
    """``phonon_bands`` (THz) and ``phonon_linewidths`` (GHz) as an ElectronPhononWorkChain
    writes them; linewidths grow with omega^2 (a stand-in: the real ones are tested with QE)."""
    from aiida import orm

    stiff = orm.BandsData()
    stiff.set_cell(bands.cell)
    stiff.set_kpoints(bands.get_kpoints())
    stiff.labels = bands.labels
    frequencies_thz = bands.get_bands() * stiffening
    stiff.set_bands(frequencies_thz, units="THz")
    widths = 30.0 * (frequencies_thz / frequencies_thz.max()) ** 2
    widths[0] = -0.0  # as matdyn.x writes Gamma
    table = orm.ArrayData()
    table.set_array("linewidths_ghz", widths)
    table.set_array("frequencies_cm1", frequencies_thz * THZ_TO_CM1)
    table.base.attributes.set("broadening_ry", 0.04)
    return {"phonon_bands": stiff, "phonon_linewidths": table}


def _compound(structure, branches: dict[str, dict], called: dict[str, dict] | None = None):
    """A finished ClathrateSuperconductorWorkChain node exposing ``epc_<branch>`` outputs and,
    in ``called``, EPC runs it called without exposing them."""
    from aiida import orm
    from aiida.common.links import LinkType
    from aiida.engine import ProcessState

    node = orm.WorkChainNode()
    node.set_process_label("ClathrateSuperconductorWorkChain")
    node.base.links.add_incoming(structure.clone().store(), LinkType.INPUT_WORK, "structure")
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    node.store()
    for label, outputs in (called or {}).items():
        child = orm.WorkChainNode()
        child.set_process_label("ElectronPhononWorkChain")
        child.base.links.add_incoming(node, LinkType.CALL_WORK, label)
        child.set_process_state(ProcessState.FINISHED)
        child.set_exit_status(0)
        child.store()
        for name, output in outputs.items():
            output.store()
            output.base.links.add_incoming(child, LinkType.RETURN, name)
        child.seal()
    for branch, outputs in branches.items():
        for name, output in outputs.items():
            output.store()
            output.base.links.add_incoming(node, LinkType.RETURN, f"epc_{branch}__{name}")
    node.seal()
    return node


def test_cli_compound_both_branches(al_phonons, tmp_path):
    from aiida_clathrate.cli.cmd_plot import _compound_figures

    structure, bands, _ = al_phonons
    node = _compound(
        structure,
        {"harmonic": _linewidth_outputs(bands), "anharmonic": _linewidth_outputs(bands, 1.2)},
    )
    result = _plot(str(node.pk), "--output-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    path = tmp_path / f"dispersion_linewidths_{node.pk}.png"
    assert result.output.split() == [str(path)]
    assert path.stat().st_size > 20_000
    ax = _compound_figures(node)["dispersion_linewidths"].axes[0]
    assert "harmonic vs anharmonic" in ax.get_title() and "0.040 Ry" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["harmonic", "anharmonic"] and legend[2] == "γ = 30 GHz"
    harmonic, anharmonic = (c.get_sizes() for c in ax.collections)
    assert anharmonic.max() == pytest.approx(60.0) and harmonic.max() == pytest.approx(60.0)
    assert ax.get_ylim()[1] >= 1.2 * 320.0  # the stiffer branch is inside the frame


def test_cli_compound_harmonic_only_and_unexposed(al_phonons, tmp_path):
    from aiida_clathrate.cli.cmd_plot import _compound_figures

    structure, bands, _ = al_phonons
    alone = _compound(structure, {"harmonic": _linewidth_outputs(bands)})
    ax = _compound_figures(alone)["dispersion_linewidths"].axes[0]
    assert "harmonic branch only" in ax.get_title()
    assert len(ax.collections) == 1
    # unstable harmonic phonons: the harmonic EPC run is called but not exposed
    unstable = _compound(
        structure,
        {"anharmonic": _linewidth_outputs(bands, 1.2)},
        called={"epc_harmonic": _linewidth_outputs(bands)},
    )
    ax = _compound_figures(unstable)["dispersion_linewidths"].axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:2] == ["harmonic (unstable, not a result)", "anharmonic"]
    empty = _compound(structure, {})
    result = _plot(str(empty.pk), "--output-dir", str(tmp_path))
    assert result.exit_code != 0 and "no EPC run with phonon_bands" in result.output


def test_cli_epc_with_linewidths(epc_node, al_phonons, tmp_path):
    from aiida import orm

    structure, bands, dos = al_phonons
    outputs = {
        "alpha2f": epc_node.outputs.alpha2f.clone(),
        "gap_curve": epc_node.outputs.gap_curve.clone(),
        "phonon_dos": dos.clone(),
        **_linewidth_outputs(bands),
    }
    node = _workflow("ElectronPhononWorkChain", orm.StructureData(ase=structure.get_ase()), outputs)
    result = _plot(str(node.pk), "--output-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    names = [pathlib.Path(p).name for p in result.output.split()]
    assert names == [f"{n}_{node.pk}.png" for n in ("alpha2f", "gap", "dispersion_linewidths")]
    assert (tmp_path / names[2]).stat().st_size > 20_000


def test_band_overlay_one_branch_and_none():
    only = plot_band_overlay(None, _synthetic_bands(21, 5.0, True), linewidth_unit="GHz")
    ax = only.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "anharmonic"
    assert len(ax.collections) == 1
    with pytest.raises(ValueError, match="no band set"):
        plot_band_overlay(None, None)
