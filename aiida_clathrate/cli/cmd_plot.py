"""``aiida-clathrate plot PK``: figures of a finished workflow (drawing in aiida_clathrate.plotting)."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.params import arguments
from aiida.cmdline.utils import decorators, echo

from . import cmd_root
from .params import output_dir_option

FORMATS = click.Choice(["png", "pdf"])


@cmd_root.command("plot")
@arguments.PROCESS()
@output_dir_option("the figures")
@click.option("--format", "file_format", type=FORMATS, default="png", show_default=True)
@click.option(
    "--pairs",
    multiple=True,
    help="ScreeningWorkChain: projected DOS of these pairs (e.g. --pairs KPb --pairs Sr); "
    "default: the top pair and the reference pair.",
)
@decorators.with_dbenv()
def cmd_plot(process, output_dir: pathlib.Path, file_format: str, pairs: tuple[str, ...]) -> None:
    """Draw the figures of a workflow and print the files written.

    HarmonicPhononWorkChain: phonon dispersion (cm^-1) and DOS.
    ElectronPhononWorkChain: phonon DOS, alpha^2F and cumulative lambda(omega); the gap Delta(T);
    its dispersion with the electron-phonon linewidths (when it computed them).
    ClathrateSuperconductorWorkChain: harmonic vs anharmonic dispersion with linewidths (Fig. 2).
    ScreeningWorkChain: the N(E_F) heat map (Fig. 1c; crosses: tagged compounds stable at the
    screen's pressure, hexagons: stable only under pressure up to 20 GPa) and the projected DOS
    of the top pair and of the reference pair (Fig. 1b).
    ThermodynamicsWorkChain: ΔH(P) against the elements and T*(P) with the synthesis-temperature
    line.
    StudyWorkChain: Tc(P) per compound (harmonic and anharmonic, error bars from the Tc
    uncertainty), the Fig. 4 summary across compounds (n, N(E_F), lambda, omega_log, Tc), the share
    of lambda below 200 cm^-1, the projected phonon DOS with alpha^2F/omega and lambda(omega)
    (Fig. 3) of each pair, and the lowest SSCHA frequency against the ensemble size.
    """
    import matplotlib

    matplotlib.use("Agg")
    makers = {
        "HarmonicPhononWorkChain": _harmonic_figures,
        "ElectronPhononWorkChain": _epc_figures,
        "ClathrateSuperconductorWorkChain": _compound_figures,
        "ScreeningWorkChain": lambda node: _screening_figures(node, pairs),
        "ThermodynamicsWorkChain": _thermodynamics_figures,
        "StudyWorkChain": _study_figures,
    }
    if pairs and process.process_label != "ScreeningWorkChain":
        echo.echo_critical("--pairs applies to a ScreeningWorkChain only")
    if process.process_label not in makers:
        echo.echo_critical(
            f"{process.process_label}<{process.pk}> has no figures: plot takes one of "
            f"{', '.join(makers)}"
        )
    try:
        figures = makers[process.process_label](process)
    except (KeyError, AttributeError, ValueError) as exc:
        echo.echo_critical(f"{process.process_label}<{process.pk}>: cannot plot ({exc})")
    output_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib.pyplot as plt

    for name, figure in figures.items():
        path = output_dir / f"{name}_{process.pk}.{file_format}"
        figure.savefig(path, dpi=150)
        plt.close(figure)
        echo.echo(str(path))


def _require(process, name: str):
    if name not in process.outputs:
        raise ValueError(f"output '{name}' missing (finished: {process.is_finished_ok})")
    return process.outputs[name]


def _frequencies_cm1(values, unit: str):
    """Frequencies in cm^-1 from an array in ``unit`` (matdyn writes 'cm^(-1)' and THz)."""
    import numpy as np

    from ..units import from_mev, to_mev

    if unit.replace("(", "").replace(")", "").replace(" ", "").lower() in ("cm^-1", "cm-1"):
        return np.asarray(values, dtype=float)
    return from_mev(to_mev(np.asarray(values, dtype=float), unit), "cm-1")


def band_set(bands, label: str | None = None, linewidths=None):
    """A :class:`~aiida_clathrate.plotting.BandSet` from a ``BandsData`` (THz or cm^-1, labelled).

    ``linewidths``: an ``ElectronPhononWorkChain``'s ``phonon_linewidths`` (``linewidths_ghz`` on
    the same q-points); negative values (Fourier-interpolation noise that matdyn.x can write at
    under-converged broadenings) are drawn as zero.
    """
    import numpy as np

    from ..plotting import BandSet, path_distances

    frequencies = _frequencies_cm1(bands.get_bands(), bands.base.attributes.get("units", "THz"))
    distances, ticks = path_distances(bands.get_kpoints(cartesian=True), bands.labels or [])
    widths = None
    if linewidths is not None:
        widths = np.clip(linewidths.get_array("linewidths_ghz"), 0.0, None)
    return BandSet(distances, frequencies, ticks, linewidths=widths, label=label)


def _dos_arrays(dos):
    _, x, unit = dos.get_x()
    return _frequencies_cm1(x, unit), dos.get_y()[0][1]


def _title(process) -> str:
    formula = process.inputs.structure.get_formula() if "structure" in process.inputs else ""
    return f"{formula} ({process.process_label}<{process.pk}>)".strip()


def _harmonic_figures(process) -> dict:
    from ..plotting import plot_dispersion_dos

    bands = band_set(_require(process, "phonon_bands"))
    dos_x, dos_y = (None, None)
    if "phonon_dos" in process.outputs:
        dos_x, dos_y = _dos_arrays(process.outputs.phonon_dos)
    return {"phonons": plot_dispersion_dos(bands, dos_x, dos_y, title=_title(process))}


def _epc_figures(process) -> dict:
    from ..calculations.eliashberg import xydata_to_alpha2f
    from ..plotting import plot_epc_spectrum, plot_gap_curve

    omega_mev, a2f = xydata_to_alpha2f(_require(process, "alpha2f"))
    dos_x, dos_y = (None, None)
    if "phonon_dos" in process.outputs:
        dos_x, dos_y = _dos_arrays(process.outputs.phonon_dos)
    figures = {"alpha2f": plot_epc_spectrum(omega_mev, a2f, dos_x, dos_y, title=_title(process))}
    curve = _require(process, "gap_curve")
    _, temperatures, _ = curve.get_x()
    ys = curve.get_y()
    labels = [_mustar_label(name) for name, _, _ in ys]
    figure, _ = plot_gap_curve(temperatures, [values for _, values, _ in ys], labels=labels)
    figures["gap"] = figure
    if "phonon_bands" in process.outputs and "phonon_linewidths" in process.outputs:
        figures[DISPERSION] = _epc_dispersion(process)
    return figures


#: Name of the dispersion-with-linewidths figure (``dispersion_linewidths_<PK>.<fmt>``).
DISPERSION = "dispersion_linewidths"


def _linewidth_set(outputs, label: str):
    """BandSet of an EPC run's ``phonon_bands`` with its ``phonon_linewidths`` (GHz)."""
    return band_set(outputs["phonon_bands"], label, outputs["phonon_linewidths"])


def _broadening_note(outputs) -> str:
    broadening = outputs["phonon_linewidths"].base.attributes.get("broadening_ry", None)
    return "" if broadening is None else f", σ = {broadening:.3f} Ry"


def _epc_dispersion(process):
    """An EPC run's own dispersion and linewidths: harmonic style, or red for given matrices."""
    from ..plotting import plot_band_overlay

    outputs = process.outputs
    note = _broadening_note(outputs)
    if "dynamical_matrices" in process.inputs:
        bands = _linewidth_set(outputs, "given matrices")
        return plot_band_overlay(
            None, bands, title=f"{_title(process)}{note}", linewidth_unit="GHz"
        )
    bands = _linewidth_set(outputs, "harmonic")
    return plot_band_overlay(bands, None, title=f"{_title(process)}{note}", linewidth_unit="GHz")


def _branch(process, branch: str):
    """The outputs of the compound's ``epc_<branch>`` run with linewidths, or ``None``.

    The exposed outputs first; for the harmonic branch also the called run itself (a compound
    with unstable harmonic phonons runs it for the anharmonic branch and does not expose it)."""
    namespace = f"epc_{branch}"
    if namespace in process.outputs:
        outputs = process.outputs[namespace]
        if "phonon_bands" in outputs and "phonon_linewidths" in outputs:
            return outputs, True
    if branch != "harmonic":
        return None
    called = [
        link.node
        for link in process.base.links.get_outgoing(link_label_filter=namespace).all()
        if link.node.is_finished_ok
    ]
    if called and {"phonon_bands", "phonon_linewidths"} <= set(called[-1].outputs):
        return called[-1].outputs, False
    return None


def _compound_figures(process) -> dict:
    """Fig. 2: the harmonic EPC run's dispersion and linewidths (dashed grey) against the
    anharmonic EPC run's (solid red); the harmonic branch alone when there is no anharmonic one."""
    from ..plotting import plot_band_overlay

    harmonic = _branch(process, "harmonic")
    anharmonic = _branch(process, "anharmonic")
    if harmonic is None and anharmonic is None:
        raise ValueError(
            "no EPC run with phonon_bands and phonon_linewidths (epc_harmonic, epc_anharmonic)"
        )
    sets = {}
    notes = []
    for name, found in (("harmonic", harmonic), ("anharmonic", anharmonic)):
        if found is None:
            sets[name] = None
            continue
        outputs, exposed = found
        label = name if exposed else f"{name} (unstable, not a result)"
        sets[name] = _linewidth_set(outputs, label)
        notes.append(_broadening_note(outputs))
    formula = _title(process)
    if anharmonic is None:
        title = f"{formula}\nharmonic branch only (no anharmonic branch){notes[0]}"
    elif harmonic is None:
        title = f"{formula}\nanharmonic branch only (no harmonic EPC run){notes[0]}"
    else:
        both = notes[0] if notes[0] == notes[1] else f"{notes[0]} (harmonic){notes[1]}"
        title = f"{formula}\nharmonic vs anharmonic{both}"
    figure = plot_band_overlay(
        sets["harmonic"], sets["anharmonic"], title=title, linewidth_unit="GHz"
    )
    return {DISPERSION: figure}


def _mustar_label(name: str) -> str:
    """'delta_mustar_0.130' -> 'μ* = 0.13' (other names unchanged)."""
    prefix = "delta_mustar_"
    if name.startswith(prefix):
        try:
            return f"μ* = {float(name[len(prefix) :]):.2f}"
        except ValueError:
            pass
    return name


def _screening_figures(process, pairs: tuple[str, ...] = ()) -> dict:
    """Fig. 1c (heat map) and Fig. 1b (projected DOS of the top and reference pairs)."""
    from ..plotting import plot_projected_dos, plot_screening_heatmap
    from ..query import stable_pairs
    from ..screening import pair_label
    from ..structures import enumerate_pairs

    rows = _require(process, "table").get_dict()["rows"]
    metals = [x for x, y in enumerate_pairs(process.inputs.metals.get_list()) if x == y]
    reference = tuple(process.inputs.reference_pair.get_list())
    at_pressure, under_pressure = stable_pairs(process.inputs.pressure_gpa.value)
    figures = {
        "screening_heatmap": plot_screening_heatmap(
            rows,
            metals,
            reference,
            [tuple(sorted(p)) * (2 if len(p) == 1 else 1) for p in at_pressure],
            [tuple(sorted(p)) * (2 if len(p) == 1 else 1) for p in under_pressure],
        )
    }
    runs = {
        pair_label(*node.inputs.metals.get_list()): node
        for node in process.called
        if node.process_label == "PairScreeningWorkChain" and node.is_finished_ok
    }
    best = max(rows, key=lambda r: r["n_ef_states_per_ev_b6c6"])["pair"]
    wanted = list(pairs) or [best, pair_label(*reference) if len(reference) == 2 else best]
    unknown = [label for label in wanted if label not in runs and pairs]
    if unknown:
        raise ValueError(
            f"--pairs {' '.join(unknown)}: not among the screened pairs {sorted(runs)}"
        )
    for label in dict.fromkeys(wanted):
        if label in runs:
            energies, curves = _element_pdos(runs[label])
            figures[f"pdos_{label}"] = plot_projected_dos(energies, curves, label)
    return figures


def _element_pdos(pair_run):
    """Projected DOS per element (states/eV) against E − E_F from a pair's projwfc.x run."""
    import numpy as np

    from ..workflows.screening import projected_dos_by_element

    pdos_run = next(n for n in pair_run.called if n.process_label == "PdosWorkChain")
    fermi = pdos_run.outputs.nscf.output_parameters["fermi_energy"]
    energies, curves = projected_dos_by_element(pdos_run.outputs.projwfc.projections)
    return np.asarray(energies) - fermi, curves


def _thermodynamics_figures(process) -> dict:
    from ..plotting import plot_thermodynamics

    data = _require(process, "thermodynamics").get_dict()
    return {"thermodynamics": plot_thermodynamics(data)}


def _study_figures(process) -> dict:
    from ..study_data import gather_study
    from ..study_figures import study_figures

    return study_figures(gather_study(process))
