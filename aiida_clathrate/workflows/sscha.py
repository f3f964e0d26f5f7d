"""``SschaWorkChain`` (``clathrate.sscha``): the SSCHA population loop.

generate the first population from the starting matrix (imaginary modes made positive with
``ForcePositiveDefinite`` first, reported) -> per population: energies and forces from the engine
(``mlp``: one ``MlpEvaluateCalculation``; ``dft``: one ``PwBaseWorkChain`` per configuration, at
most ``max_concurrent_dft`` at a time in as many ``PwSeriesWorkChain``s, failed configurations
dropped with their ± partner) ->
``SschaMinimizeCalculation`` (new matrix, free energy, Kong–Liu ratio, gradient ratio, the next
population drawn with seed ``seed + population + 1``) -> stop when python-sscha converges or after
``max_populations``.

The project's CalcJobs run inside their restart wrappers (``workflows/restart.py``:
``SschaMinimizeBaseWorkChain``, ``MlpTrainBaseWorkChain``, ``MlpEvaluateBaseWorkChain``), whose
handlers apply the remedies (e.g. ``root_representation: sqrt`` when a step breaks the acoustic
sum rule, kept for later populations) and whose reports say what failed.

With ``target_pressure_gpa`` the cell follows the quantum stress: after each minimisation it takes
one step towards the target pressure (the engine must compute stresses), and the loop converges
only when the stress matches the target within its error. With ``fine_dynamical_matrices`` (the
harmonic matrices on a finer q-grid) the Hessian − harmonic difference is interpolated onto that
grid and added to it (``anharmonic_dynamical_matrices``).

The ``active`` engine (the study's active learning): DFT for the first ``n_dft_populations``
populations; then a committee (``MlpTrainCalculation``, ``committee_size`` members) trained on all
DFT-labelled configurations so far labels each population (``MlpEvaluateCalculation`` with member
forces); configurations whose largest committee force spread exceeds the threshold go to DFT with
their ± partner, their MLP labels are replaced by the DFT ones, and the committee is retrained
before the next population. The threshold is ``spread_threshold_factor`` times the median of the
committee's spread on its own training configurations, or
``spread_threshold_ev_per_angstrom`` when given. A committee whose validation force RMSE exceeds
``max_validation_force_rmse_mev_per_angstrom`` labels nothing: that population runs with DFT and
the committee is retrained on it.
"""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from aiida.engine import ToContext, WorkChain, append_, calcfunction, if_, while_
from aiida.plugins import CalculationFactory, WorkflowFactory
from aiida_quantumespresso.workflows.protocols.utils import ProtocolMixin

from aiida_clathrate.calculations.anharmonic import anharmonic_on_fine_grid
from aiida_clathrate.calculations.sscha import (
    SschaMinimizeCalculation,
    attach_results,
    ensemble_to_configurations,
    generate_population,
)
from aiida_clathrate.data.dynamical_matrices import to_phonons, validate_dynamical_matrices
from aiida_clathrate.data.ensemble import EnsembleData
from aiida_clathrate.limits import pressure_error, raise_if
from aiida_clathrate.mlp.uncertainty import (
    DEFAULT_SPREAD_THRESHOLD_FACTOR,
    REFERENCE_KEY,
    spread_threshold_ev_per_angstrom,
)
from aiida_clathrate.pseudo_family import SHIPPED_FAMILY_LABEL, load_family
from aiida_clathrate.sscha.interpolation import (
    frequencies_per_qpoint_cm1,
    lowest_frequency_cm1,
    lowest_frequency_per_qpoint_cm1,
)
from aiida_clathrate.validators import pressure_port, set_code_plugins
from aiida_clathrate.workflows.common import apply_shared_cores, failure, parallelisation
from aiida_clathrate.workflows.pw_inputs import ENERGY_SURFACE_SYSTEM_KEYS, pw_base_inputs
from aiida_clathrate.workflows.pw_series import PwSeriesWorkChain, series_runs
from aiida_clathrate.workflows.restart import (
    MlpEvaluateBaseWorkChain,
    MlpTrainBaseWorkChain,
    SschaMinimizeBaseWorkChain,
)

MlpEvaluateCalculation = CalculationFactory("clathrate.mlp.evaluate")
MlpTrainCalculation = CalculationFactory("clathrate.mlp.train")
PwBaseWorkChain = WorkflowFactory("quantumespresso.pw.base")

ENGINES = ("mlp", "dft", "active")
#: The force accuracy of the study's potentials (meV/Å): the active engine's default limit.
STUDY_FORCE_RMSE_MEV_PER_ANGSTROM = 50.0
#: Lowest frequencies kept per population in ``populations.lowest_frequencies_cm1``.
N_LOWEST = 6
#: ``get_builder_from_protocol`` overrides that are inputs without a protocol value.
PROTOCOL_OPTIONAL_KEYS = (
    "spread_threshold_ev_per_angstrom",
    "max_validation_force_rmse_mev_per_angstrom",
    "compute_hessian",
    "hessian_include_v4",
    "hessian_memory_limit_gib",
)


def _validate_sizes(value, _ctx=None):
    if value is None:
        return None
    sizes = value.get_list()
    if not sizes or any((not isinstance(n, int)) or n < 2 or n % 2 for n in sizes):
        return f"population_sizes must be even integers >= 2, got {sizes}"
    return None


def _validate_bootstrap(value, _ctx=None):
    if value is not None and value.value < 2:
        return f"hessian_bootstrap_samples must be at least 2, got {value.value}"
    return None


def _validate_engine(value, _ctx=None):
    if value is not None and value.value not in ENGINES:
        return f"engine must be one of {ENGINES}, got {value.value!r}"
    return None


#: pw.x SYSTEM keys the supercell configurations take from the harmonic scf: the correction
#: Hessian − harmonic needs both at the same cutoffs and smearing (the energy surface).
HARMONIC_SYSTEM_KEYS = ENERGY_SURFACE_SYSTEM_KEYS


def supercell_kpoints_mesh(kpoints_mesh: list[int], qpoints_mesh: list[int]) -> list[int]:
    """k-mesh of the SSCHA supercell (q-mesh times the unit cell) with the unit cell's density."""
    return [max(1, -(-int(k) // int(q))) for k, q in zip(kpoints_mesh, qpoints_mesh, strict=True)]


def dft_engine_inputs(
    pw_code,
    structure: orm.StructureData,
    protocol: str,
    pseudo_family: str,
    harmonic_system: dict,
    kpoints_mesh: list[int],
    qpoints_mesh: list[int],
    num_mpiprocs: int = 1,
) -> dict:
    """``dft`` namespace inputs (PwBaseWorkChain, no structure) for the supercell configurations:
    the harmonic scf's ``SYSTEM`` cutoffs and smearing (``harmonic_system``), forces and stress
    on, and the harmonic k-mesh divided by the q-mesh (the supercell)."""
    overrides = {
        "pseudo_family": pseudo_family,
        "pw": {
            "parameters": {
                "CONTROL": {"tprnfor": True, "tstress": True},
                "SYSTEM": {
                    key: harmonic_system[key]
                    for key in ENERGY_SURFACE_SYSTEM_KEYS
                    if key in harmonic_system
                },
            }
        },
    }
    return pw_base_inputs(
        pw_code,
        structure,
        protocol,
        overrides,
        supercell_kpoints_mesh(kpoints_mesh, qpoints_mesh),
        num_mpiprocs,
    )


def dft_call_label(population: int, index: int) -> str:
    """Call link label of the pw.x run of configuration ``index`` in ``population`` (from 1)."""
    return f"dft_{population}_{index}"


def dft_runs(sscha: orm.WorkflowNode) -> dict[str, orm.WorkflowNode]:
    """Every pw.x run (``PwBaseWorkChain``) of an SSCHA work chain node by its call link label
    (:func:`dft_call_label`), gathered from its ``PwSeriesWorkChain``s."""
    return series_runs(n for n in sscha.called if n.process_label == PwSeriesWorkChain.__name__)


def configurations_to_keep(n_configurations: int, failed: set[int] | list[int]) -> list[int]:
    """Indices kept when ``failed`` configurations are dropped with their ± partner (2k, 2k+1)."""
    dropped = set()
    for index in failed:
        if not 0 <= index < n_configurations:
            raise ValueError(f"configuration index {index} out of range 0..{n_configurations - 1}")
        dropped |= {index, index ^ 1}
    return [i for i in range(n_configurations) if i not in dropped]


def configurations_for_dft(
    max_force_std_ev_per_angstrom, threshold_ev_per_angstrom: float
) -> list[int]:
    """Indices whose committee force spread exceeds the threshold, each with its ± partner."""
    spread = np.asarray(max_force_std_ev_per_angstrom, dtype=float)
    if spread.ndim != 1 or len(spread) % 2:
        raise ValueError(f"expected an even number of spreads (± pairs), got shape {spread.shape}")
    if threshold_ev_per_angstrom < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold_ev_per_angstrom}")
    selected = set()
    for index in np.flatnonzero(~(spread <= threshold_ev_per_angstrom)):  # NaN counts as large
        selected |= {int(index), int(index) ^ 1}
    return sorted(selected)


def committee_is_accurate(metrics: dict, limit_mev_per_angstrom: float) -> tuple[bool, str]:
    """Whether a trained committee's validation force RMSE (``metrics["validation"]``, held-out
    DFT configurations) is within the limit, and the reason in words."""
    validation = metrics.get("validation") or {}
    rmse = validation.get("forces_rmse_mev_per_angstrom")
    if rmse is None:
        return False, "no validation force error (no held-out configurations)"
    accurate = rmse <= limit_mev_per_angstrom
    return accurate, (
        f"validation force RMSE {rmse:.1f} meV/A on {validation.get('n_configurations')} "
        f"held-out configurations, {'within' if accurate else 'above'} the limit "
        f"{limit_mev_per_angstrom:g} meV/A"
    )


#: python-sscha's message when a minimisation step left a dynamical matrix without its three
#: translational modes


def cell_relaxation_note(engine: str, minimizer_settings: dict) -> str | None:
    """The report line for a cell that follows a machine-learning potential's pressure (``None``
    without cell relaxation, i.e. no ``target_pressure_gpa`` in the minimiser's settings, whether
    it came as an input of its own or inside ``minimizer_settings``, or without the MLP)."""
    if "target_pressure_gpa" not in minimizer_settings or engine not in ("mlp", "active"):
        return None
    return (
        f"note: with engine `{engine}` the cell follows the MLP's pressure in MLP-labelled "
        "populations; it is only as good as the volume dependence of its training labels "
        "(converged cutoff and k-grid needed; docs/mlp.md, Limits)"
    )


def resolve_spread_threshold(
    absolute_ev_per_angstrom: float | None, factor: float, reference: dict | None
) -> tuple[float, str]:
    """The active engine's spread threshold (eV/Å) and, for the report, where it comes from: the
    absolute value when given, else ``factor`` x the committee's spread ``reference``."""
    if absolute_ev_per_angstrom is not None:
        return absolute_ev_per_angstrom, "absolute"
    threshold = spread_threshold_ev_per_angstrom(reference, factor)
    return threshold, (
        f"{factor:g} x {reference[REFERENCE_KEY]:.4f}, the median on the committee's "
        f"{reference['n_configurations']} training configurations"
    )


@calcfunction
def labelled_configurations(ensemble: EnsembleData):
    """An ensemble with results as a labelled ``ConfigurationSetData`` (MLP training data)."""
    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp.frames import Frame

    results = ensemble.get_results()
    stresses = results.get("stresses_ev_per_angstrom3")
    frames = [
        Frame(
            symbols=ensemble.symbols,
            positions_angstrom=positions,
            cell_angstrom=ensemble.cell_angstrom,
            energy_ev=float(results["energies_ev"][k]),
            forces_ev_per_angstrom=results["forces_ev_per_angstrom"][k],
            stress_ev_per_angstrom3=None if stresses is None else stresses[k],
        )
        for k, positions in enumerate(ensemble.get_array("positions_angstrom"))
    ]
    return ConfigurationSetData(frames=frames)


@calcfunction
def replace_results(ensemble: EnsembleData, dft_results: EnsembleData) -> EnsembleData:
    """A copy of ``ensemble`` (with MLP results) whose configurations ``dft_results.kept_indices``
    carry the DFT energies, forces and stresses instead (positions checked to 1e-6 Å)."""
    indices = list(dft_results.base.attributes.get("kept_indices"))
    positions = ensemble.get_array("positions_angstrom")
    if not np.allclose(positions[indices], dft_results.get_array("positions_angstrom"), atol=1e-6):
        raise ValueError("the DFT configurations' positions differ from the ensemble's")
    old, new = ensemble.get_results(), dft_results.get_results()
    energies = old["energies_ev"].copy()
    forces = old["forces_ev_per_angstrom"].copy()
    energies[indices] = new["energies_ev"]
    forces[indices] = new["forces_ev_per_angstrom"]
    stresses = None
    if "stresses_ev_per_angstrom3" in old and "stresses_ev_per_angstrom3" in new:
        stresses = old["stresses_ev_per_angstrom3"].copy()
        stresses[indices] = new["stresses_ev_per_angstrom3"]
    result = ensemble.derived(positions)
    result.base.attributes.set("dft_indices", indices)
    result.set_results(energies, forces, stresses)
    return result


@calcfunction
def collect_dft_results(ensemble: EnsembleData, **outputs) -> EnsembleData:
    """An ensemble with the configurations whose DFT succeeded (pairs kept whole) and their results.

    ``outputs`` hold ``parameters_{i}`` (``output_parameters``, energy in eV) and
    ``trajectory_{i}`` (``output_trajectory``, forces in eV/Å, stress in GPa with Quantum
    ESPRESSO's sign, i.e. the opposite of ASE's) for each kept configuration index ``i``.
    """
    from aiida_clathrate.units import stress_gpa_to_ev_per_angstrom3

    kept = sorted(int(key.split("_")[1]) for key in outputs if key.startswith("parameters_"))
    if not kept:
        raise ValueError("no configuration has DFT results")
    energies, forces, stresses = [], [], []
    for i in kept:
        energies.append(outputs[f"parameters_{i}"]["energy"])
        trajectory = outputs[f"trajectory_{i}"]
        forces.append(trajectory.get_array("forces")[-1])
        if "stress" in trajectory.get_arraynames():
            stresses.append(-stress_gpa_to_ev_per_angstrom3(trajectory.get_array("stress")[-1]))
    positions = ensemble.get_array("positions_angstrom")[kept]
    result = ensemble.derived(positions)
    result.base.attributes.set("kept_indices", kept)
    result.set_results(
        np.array(energies),
        np.array(forces),
        np.array(stresses) if len(stresses) == len(kept) else None,
    )
    return result


@calcfunction
def summarize_populations(**inputs) -> orm.ArrayData:
    """Per-population table from the minimisations' ``output_parameters`` (``parameters_{p}``)
    and the DFT counts (``n_dft_{p}``): arrays named with their units, one row per population.
    With the minimised matrices (``matrices_{p}``): the lowest auxiliary frequency at each
    q-point of the supercell grid (``lowest_frequency_per_qpoint_cm1``, populations x q-points,
    acoustic modes at Γ left out; q-points in ``qpoints_crystal``): Γ, X, M and R in 2x2x2."""
    count = len([key for key in inputs if key.startswith("parameters_")])
    rows = [inputs[f"parameters_{p}"].get_dict() for p in range(count)]
    table = orm.ArrayData()
    table.set_array("population", np.arange(1, count + 1))
    table.set_array("n_configurations", np.array([r["n_configurations"] for r in rows]))
    table.set_array("n_dft", np.array([inputs[f"n_dft_{p}"].value for p in range(count)]))
    for key in ("free_energy_ev", "free_energy_error_ev", "kong_liu_ratio", "gradient_ratio_fc"):
        table.set_array(key, np.array([r[key] for r in rows], dtype=float))
    table.set_array("converged", np.array([r["converged"] for r in rows], dtype=bool))
    table.set_array("lowest_frequency_cm1", np.array([r["lowest_frequency_cm1"] for r in rows]))
    cells = [r.get("cell_relaxation") or {} for r in rows]
    for key in ("pressure_gpa", "pressure_error_gpa"):
        table.set_array(key, np.array([c.get(key, np.nan) for c in cells], dtype=float))
    lowest = np.full((count, N_LOWEST), np.nan)
    for p in range(count):
        values = np.sort(np.array(inputs[f"frequencies_{p}"].get_array("frequencies_cm1")))
        lowest[p, : min(N_LOWEST, len(values))] = values[:N_LOWEST]
    table.set_array("lowest_frequencies_cm1", lowest)
    if all(f"matrices_{p}" in inputs for p in range(count)):
        per_q = []
        for p in range(count):
            qpoints, frequencies = frequencies_per_qpoint_cm1(to_phonons(inputs[f"matrices_{p}"]))
            per_q.append(lowest_frequency_per_qpoint_cm1(qpoints, frequencies))
        table.set_array("qpoints_crystal", qpoints)
        table.set_array("lowest_frequency_per_qpoint_cm1", np.array(per_q))
    return table


@calcfunction
def sscha_verdict(
    auxiliary_frequencies: orm.ArrayData,
    populations: orm.ArrayData,
    tolerance_cm1: orm.Float,
    hessian_frequencies: orm.ArrayData | None = None,
) -> orm.Dict:
    """The stability verdict (``aiida_clathrate.sscha.verdicts``) as a Dict; ``undetermined``
    when the auxiliary matrix is real but no Hessian was computed (run not converged)."""
    from aiida_clathrate.sscha.verdicts import stability_verdict

    hessian = (
        None if hessian_frequencies is None else hessian_frequencies.get_array("frequencies_cm1")
    )
    try:
        verdict = stability_verdict(
            auxiliary_frequencies.get_array("frequencies_cm1"),
            hessian,
            populations.get_array("lowest_frequency_cm1"),
            populations.get_array("n_configurations"),
            tolerance_cm1=tolerance_cm1.value,
        )
    except ValueError:
        lowest = float(np.min(auxiliary_frequencies.get_array("frequencies_cm1")))
        return orm.Dict(
            {
                "category": "undetermined",
                "lowest_auxiliary_cm1": lowest,
                "lowest_hessian_cm1": None,
                "message": "auxiliary matrix real but no Hessian (the run did not converge)",
            }
        )
    return orm.Dict(
        {
            "category": verdict.category,
            "lowest_auxiliary_cm1": verdict.lowest_auxiliary_cm1,
            "lowest_hessian_cm1": verdict.lowest_hessian_cm1,
            "message": verdict.message,
        }
    )


class SschaWorkChain(ProtocolMixin, WorkChain):
    """SSCHA population loop with forces from the MLP or from DFT."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            "structure",
            valid_type=orm.StructureData,
            required=False,
            help="The relaxed structure (provenance; the matrices carry the positions used).",
        )
        spec.input(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            validator=validate_dynamical_matrices,
            help="Starting matrices (e.g. HarmonicPhononWorkChain's `dynamical_matrices`); their "
            "q-mesh is the SSCHA supercell.",
        )
        spec.input("temperature_kelvin", valid_type=orm.Float, default=lambda: orm.Float(0.0))
        spec.input(
            "target_pressure_gpa",
            **pressure_port(
                "Relax the cell to this pressure (GPa) with the quantum stress; the engine must "
                "compute stresses (pw.x `tstress`). Omitted: the cell stays fixed.",
                default=None,
            ),
        )
        spec.input(
            "fine_dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            validator=validate_dynamical_matrices,
            help="Harmonic matrices on a finer q-grid (a multiple of the SSCHA grid): the Hessian "
            "correction is interpolated onto it (`anharmonic_dynamical_matrices`).",
        )
        spec.input(
            "population_sizes",
            valid_type=orm.List,
            default=lambda: orm.List([100, 200, 400]),
            validator=_validate_sizes,
            help="Configurations per population; the last size is used for further populations.",
        )
        spec.input("max_populations", valid_type=orm.Int, default=lambda: orm.Int(10))
        spec.input(
            "seed",
            valid_type=orm.Int,
            default=lambda: orm.Int(1),
            help="Population p (0-based) is drawn with seed + p.",
        )
        spec.input(
            "minimizer_settings",
            valid_type=orm.Dict,
            required=False,
            help="MinimizerSettings: kong_liu_ratio (default 0.6), meaningful_factor, lambda_a...",
        )
        spec.input(
            "engine",
            valid_type=orm.Str,
            validator=_validate_engine,
            help="`mlp`, `dft` or `active` (DFT first, then a committee MLP with DFT for the "
            "configurations it is unsure of)",
        )
        spec.input(
            "n_dft_populations",
            valid_type=orm.Int,
            default=lambda: orm.Int(1),
            help="active engine: populations computed entirely with DFT before the MLP takes over",
        )
        spec.input(
            "spread_threshold_factor",
            valid_type=orm.Float,
            default=lambda: orm.Float(DEFAULT_SPREAD_THRESHOLD_FACTOR),
            help="active engine: configurations whose largest committee force spread exceeds "
            "this times the median of the committee's spread on its training configurations go "
            "to DFT (with their ± partner)",
        )
        spec.input(
            "max_validation_force_rmse_mev_per_angstrom",
            valid_type=orm.Float,
            default=lambda: orm.Float(STUDY_FORCE_RMSE_MEV_PER_ANGSTROM),
            help="active engine: a committee whose force RMSE on held-out DFT configurations "
            "exceeds this labels nothing; the population runs with DFT (default: the study's "
            "50 meV/Å)",
        )
        spec.input(
            "spread_threshold_ev_per_angstrom",
            valid_type=orm.Float,
            required=False,
            help="active engine: an absolute spread threshold (eV/Å) instead of "
            "`spread_threshold_factor`",
        )
        spec.input(
            "committee_size",
            valid_type=orm.Int,
            default=lambda: orm.Int(2),
            help="active engine: committee members trained (overrides `train.parameters`)",
        )
        spec.input(
            "max_concurrent_dft",
            valid_type=orm.Int,
            default=lambda: orm.Int(8),
            help="DFT engine: PwBaseWorkChains running at the same time.",
        )
        spec.input(
            "compute_hessian",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="After convergence, the free-energy Hessian on the last population.",
        )
        spec.input("hessian_include_v4", valid_type=orm.Bool, default=lambda: orm.Bool(True))
        spec.input(
            "hessian_memory_limit_gib",
            valid_type=orm.Float,
            required=False,
            help="v4 needs (3N)^4 doubles; above this limit it is dropped with a warning.",
        )
        spec.input(
            "hessian_bootstrap_samples",
            valid_type=orm.Int,
            required=False,
            validator=_validate_bootstrap,
            help="Bootstrap resamples of the last population, each minimised again, for the "
            "stochastic error of the Hessian frequencies (output hessian_frequencies_cm1, array "
            "bootstrap_frequencies_cm1; drawn with `seed`). At least 2.",
        )
        spec.input(
            "stability_tolerance_cm1",
            valid_type=orm.Float,
            default=lambda: orm.Float(10.0),
            help="Imaginary modes shallower than this count as real in the verdict.",
        )
        spec.expose_inputs(
            MlpEvaluateCalculation,
            namespace="mlp",
            exclude=("configurations",),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.inputs["mlp"]["model"].required = False  # the active engine trains its own
        spec.expose_inputs(
            MlpTrainCalculation,
            namespace="train",
            exclude=("configurations", "validation"),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.inputs["train"].validator = None  # it asks for the training sets, given at run time
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="dft",
            exclude=("pw.structure", "clean_workdir"),
            namespace_options={"required": False, "populate_defaults": False},
        )
        spec.expose_inputs(
            SschaMinimizeCalculation,
            namespace="minimize",
            exclude=(
                "ensemble",
                "dynamical_matrices",
                "temperature_kelvin",
                "settings",
                "next_population_size",
                "seed",
            ),
        )
        set_code_plugins(spec.inputs, "dft.pw.code", "quantumespresso.pw")
        spec.inputs.validator = cls._validate_inputs
        spec.outline(
            cls.setup,
            cls.generate_first_population,
            while_(cls.should_run_population)(
                cls.select_engine,
                if_(cls.population_uses_mlp)(
                    if_(cls.needs_training)(cls.run_train, cls.inspect_train),
                    # a committee short of the accuracy limit hands the population to DFT
                    if_(cls.population_uses_mlp)(cls.run_mlp, cls.inspect_mlp),
                ),
                if_(cls.population_needs_dft)(cls.run_dft, cls.inspect_dft),
                cls.run_minimize,
                cls.inspect_minimize,
            ),
            if_(cls.should_compute_hessian)(cls.run_hessian, cls.inspect_hessian),
            cls.results,
        )
        spec.output("dynamical_matrices", valid_type=orm.FolderData, help="final auxiliary matrix")
        spec.output("structure", valid_type=orm.StructureData, help="final centroids")
        spec.output("free_energy_ev", valid_type=orm.Float)
        spec.output("free_energy_error_ev", valid_type=orm.Float)
        spec.output("kong_liu_ratio", valid_type=orm.Float)
        spec.output("frequencies_cm1", valid_type=orm.ArrayData)
        spec.output("converged", valid_type=orm.Bool)
        spec.output(
            "populations",
            valid_type=orm.ArrayData,
            help="one row per population: sizes, DFT count, free energy, KL ratio, gradient "
            "ratio, lowest frequencies (cm^-1)",
        )
        spec.output(
            "starting_dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="the input matrix made positive definite, when it had imaginary modes",
        )
        spec.output("hessian_dynamical_matrices", valid_type=orm.FolderData, required=False)
        spec.output("hessian_frequencies_cm1", valid_type=orm.ArrayData, required=False)
        spec.output(
            "anharmonic_dynamical_matrices",
            valid_type=orm.FolderData,
            required=False,
            help="fine_dynamical_matrices + the interpolated Hessian - harmonic difference",
        )
        spec.output(
            "anharmonic_frequencies_cm1",
            valid_type=orm.ArrayData,
            required=False,
            help="frequencies (cm^-1) of `anharmonic_dynamical_matrices` per q-point",
        )
        spec.output(
            "verdict",
            valid_type=orm.Dict,
            help="category: stable, auxiliary_stable_hessian_imaginary, flat_soft_mode, "
            "unstable or undetermined; lowest auxiliary and Hessian frequencies (cm^-1)",
        )
        spec.exit_code(
            401,
            "ERROR_MLP_EVALUATION_FAILED",
            message="The MLP evaluation (MlpEvaluateBaseWorkChain) failed.",
        )
        spec.exit_code(
            405,
            "ERROR_MLP_TRAINING_FAILED",
            message="The MLP training (MlpTrainBaseWorkChain) failed.",
        )
        spec.exit_code(
            406,
            "ERROR_NO_SPREAD_REFERENCE",
            message="The trained model has no committee spread reference for the threshold.",
        )
        spec.exit_code(
            402,
            "ERROR_TOO_MANY_DFT_FAILURES",
            message="Fewer than two configurations of a population have DFT results.",
        )
        spec.exit_code(
            403,
            "ERROR_MINIMIZATION_FAILED",
            message="The minimisation (SschaMinimizeBaseWorkChain) failed.",
        )
        spec.exit_code(
            404,
            "ERROR_HESSIAN_FAILED",
            message="The free-energy Hessian (SschaMinimizeBaseWorkChain) failed.",
        )

    @staticmethod
    def _validate_inputs(inputs, _ctx=None):
        engine = inputs.get("engine")
        if engine is None:
            return None
        if engine.value == "mlp" and "model" not in inputs.get("mlp", {}):
            return "engine `mlp` needs `mlp.model` and `mlp.code`"
        if engine.value == "dft" and "pw" not in inputs.get("dft", {}):
            return "engine `dft` needs the `dft` PwBaseWorkChain inputs"
        if engine.value == "active":
            if "pw" not in inputs.get("dft", {}):
                return "engine `active` needs the `dft` PwBaseWorkChain inputs"
            if "code" not in inputs.get("mlp", {}) or "code" not in inputs.get("train", {}):
                return "engine `active` needs `mlp.code` (evaluate) and `train.code` (train)"
            if inputs["n_dft_populations"].value < 1:
                return (
                    f"n_dft_populations must be at least 1, got {inputs['n_dft_populations'].value}"
                )
            if "spread_threshold_ev_per_angstrom" in inputs:
                if inputs["spread_threshold_ev_per_angstrom"].value < 0:
                    return "spread_threshold_ev_per_angstrom must be >= 0"
            for key in ("spread_threshold_factor", "max_validation_force_rmse_mev_per_angstrom"):
                if key in inputs and inputs[key].value <= 0:
                    return f"{key} must be > 0"
            if inputs["committee_size"].value < 2:
                return f"committee_size must be at least 2, got {inputs['committee_size'].value}"
        if "target_pressure_gpa" in inputs and engine.value in ("dft", "active"):
            parameters = inputs["dft"]["pw"]["parameters"].get_dict()
            if not parameters.get("CONTROL", {}).get("tstress", False):
                return "target_pressure_gpa needs stresses: set dft.pw.parameters CONTROL.tstress"
        fine = inputs.get("fine_dynamical_matrices")
        if fine is not None:
            coarse_mesh = inputs["dynamical_matrices"].base.attributes.get("qpoints_mesh", None)
            fine_mesh = fine.base.attributes.get("qpoints_mesh", None)
            if not coarse_mesh or not fine_mesh:
                return "fine_dynamical_matrices and dynamical_matrices need a `qpoints_mesh`"
            if any(int(f) % int(c) for f, c in zip(fine_mesh, coarse_mesh, strict=True)):
                return (
                    f"fine_dynamical_matrices q-mesh {fine_mesh} is not a multiple of the SSCHA "
                    f"q-mesh {coarse_mesh}"
                )
        if inputs.get("max_populations") is not None and inputs["max_populations"].value < 1:
            return "max_populations must be at least 1"
        return None

    # ---- protocols ----------------------------------------------------------------------
    @classmethod
    def get_protocol_filepath(cls) -> pathlib.Path:
        return pathlib.Path(__file__).parent / "protocols" / "sscha.yaml"

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode | str],
        structure: orm.StructureData,
        dynamical_matrices: orm.FolderData | None,
        protocol: str | None = None,
        overrides: dict | None = None,
        engine: str = "dft",
        energy_surface: dict | None = None,
        kpoints_mesh: list[int] | None = None,
        pseudo_family: str = SHIPPED_FAMILY_LABEL,
        num_mpiprocs: int = 1,
        mlp_model: orm.Data | None = None,
        target_pressure_gpa: float | None = None,
        temperature_kelvin: float | None = None,
        qpoints_mesh: list[int] | None = None,
    ):
        """A builder from the ``fast``/``balanced``/``stringent`` protocol of ``sscha.yaml``.

        :param codes: ``sscha`` (the minimiser, e.g. ``clathrate-sscha@localhost``), ``pw`` for
            the ``dft``/``active`` engines, ``mlp`` (e.g. ``clathrate-mlp@localhost``) for the
            ``mlp``/``active`` engines; nodes or labels (only the engine's codes are loaded).
        :param structure: the relaxed structure (provenance; the pw.x protocol's pseudopotentials).
        :param dynamical_matrices: the starting matrices (their ``qpoints_mesh`` is the SSCHA
            supercell), or ``None`` with ``qpoints_mesh`` (a parent work chain's namespace).
        :param overrides: the protocol's keys (``population_sizes``, ``max_populations``, ``seed``,
            ``minimizer_settings`` (merged with the protocol's), ``max_concurrent_dft``,
            ``temperature_kelvin``, ``stability_tolerance_cm1``, ``committee_size``,
            ``n_dft_populations``, ``spread_threshold_factor``, ``cell_bulk_modulus_gpa``) and
            :data:`PROTOCOL_OPTIONAL_KEYS`.
        :param energy_surface: ``dft``/``active``: the harmonic scf's ``SYSTEM`` namelist; its
            cutoffs and smearing are the supercell pw.x's (Hessian − harmonic needs both alike).
        :param kpoints_mesh: ``dft``/``active``: the harmonic scf's k-mesh, divided by the q-mesh
            for the supercell. ``harmonic_scf_settings`` reads both from a finished harmonic run.
        :param target_pressure_gpa: relax the cell to this pressure with the quantum stress
            (initial bulk modulus: ``cell_bulk_modulus_gpa``); ``None``: the cell stays fixed.
        :param temperature_kelvin: default: the protocol's.
        """
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        data = cls._load_protocol_file()
        known = set(data["default_inputs"]).union(*data["protocols"].values())
        unknown = set(overrides or {}) - known - set(PROTOCOL_OPTIONAL_KEYS) - {"description"}
        if unknown:
            raise ValueError(f"unknown SSCHA override keys {sorted(unknown)}")
        if "sscha" not in codes:
            raise ValueError("codes needs `sscha` (e.g. clathrate-sscha@localhost) for the SSCHA")
        if engine == "mlp" and ("mlp" not in codes or mlp_model is None):
            raise ValueError("the `mlp` engine needs codes['mlp'] and mlp_model")
        if engine == "active" and "mlp" not in codes:
            raise ValueError("the `active` engine needs codes['mlp'] (clathrate-mlp@localhost)")
        if qpoints_mesh is None and dynamical_matrices is not None:
            qpoints_mesh = dynamical_matrices.base.attributes.get("qpoints_mesh", None)
        if engine != "mlp":
            missing = [
                name
                for name, value in (
                    ("codes['pw']", codes.get("pw")),
                    ("energy_surface", energy_surface),
                    ("kpoints_mesh", kpoints_mesh),
                    ("qpoints_mesh (or dynamical_matrices)", qpoints_mesh),
                )
                if value is None
            ]
            if missing:
                raise ValueError(
                    f"the `{engine}` engine needs {', '.join(missing)}: the harmonic scf's SYSTEM "
                    "namelist and k-mesh (harmonic_scf_settings) and the harmonic q-mesh"
                )

        def code(key: str) -> orm.AbstractCode:
            value = codes[key]
            return orm.load_code(value) if isinstance(value, str) else value

        protocol = protocol or cls.get_default_protocol()
        inputs = cls.get_protocol_inputs(protocol, overrides)
        settings = dict(inputs["minimizer_settings"])
        builder = cls.get_builder()
        builder.structure = structure
        if dynamical_matrices is not None:
            builder.dynamical_matrices = dynamical_matrices
        if target_pressure_gpa is not None:
            raise_if(pressure_error(target_pressure_gpa))
            builder.target_pressure_gpa = orm.Float(target_pressure_gpa)
            settings.setdefault("bulk_modulus_gpa", float(inputs["cell_bulk_modulus_gpa"]))
        if temperature_kelvin is None:
            temperature_kelvin = inputs["temperature_kelvin"]
        builder.engine = orm.Str(engine)
        builder.temperature_kelvin = orm.Float(temperature_kelvin)
        builder.population_sizes = orm.List([int(n) for n in inputs["population_sizes"]])
        builder.max_populations = orm.Int(inputs["max_populations"])
        builder.seed = orm.Int(inputs["seed"])
        builder.minimizer_settings = orm.Dict(settings)
        builder.max_concurrent_dft = orm.Int(inputs["max_concurrent_dft"])
        builder.stability_tolerance_cm1 = orm.Float(inputs["stability_tolerance_cm1"])
        builder.minimize.code = code("sscha")
        for key, node_type in (
            ("compute_hessian", orm.Bool),
            ("hessian_include_v4", orm.Bool),
            ("hessian_memory_limit_gib", orm.Float),
            ("hessian_bootstrap_samples", orm.Int),
        ):
            if key in inputs:
                builder[key] = node_type(inputs[key])
        if engine in ("mlp", "active"):  # how the potential labels the populations
            builder.mlp.dtype = orm.Str(inputs["mlp_evaluate_dtype"])
            builder.mlp.num_workers = orm.Int(inputs["mlp_evaluate_workers"])
        if engine == "mlp":
            builder.mlp.code = code("mlp")
            builder.mlp.model = mlp_model
        else:
            builder.dft = dft_engine_inputs(
                code("pw"),
                structure,
                protocol,
                load_family(pseudo_family).label,
                energy_surface,
                kpoints_mesh,
                qpoints_mesh,
                num_mpiprocs,
            )
        if engine == "active":
            builder.mlp.code = code("mlp")
            builder.train.code = code("mlp")
            for key, node_type in (
                ("committee_size", orm.Int),
                ("n_dft_populations", orm.Int),
                ("spread_threshold_factor", orm.Float),
                ("spread_threshold_ev_per_angstrom", orm.Float),
                ("max_validation_force_rmse_mev_per_angstrom", orm.Float),
            ):
                if key in inputs:
                    builder[key] = node_type(inputs[key])
        builder.metadata.label = f"sscha {structure.get_formula()} {engine}"
        builder.metadata.description = f"protocol={protocol}"
        return builder

    # ---- loop ---------------------------------------------------------------------------
    def setup(self):
        self.ctx.population = 0
        self.ctx.converged = False
        self.ctx.rows = {}
        self.ctx.matrices = self.inputs.dynamical_matrices
        self.ctx.sizes = self.inputs.population_sizes.get_list()
        settings = {"kong_liu_ratio": 0.6}
        if "minimizer_settings" in self.inputs:
            settings.update(self.inputs.minimizer_settings.get_dict())
        if "target_pressure_gpa" in self.inputs:
            settings["target_pressure_gpa"] = self.inputs.target_pressure_gpa.value
        self.ctx.settings = orm.Dict(settings)
        note = cell_relaxation_note(self.inputs.engine.value, settings)
        if note:
            self.report(note)
        self.ctx.cell_history = {"volumes": [], "pressures": [], "errors": []}
        self.ctx.training_sets = []
        self.ctx.needs_training = False

    def _size(self, population: int) -> int:
        return int(self.ctx.sizes[min(population, len(self.ctx.sizes) - 1)])

    def generate_first_population(self):
        outputs = generate_population(
            self.inputs.dynamical_matrices,
            self.inputs.temperature_kelvin,
            orm.Int(self._size(0)),
            orm.Int(self.inputs.seed.value),
            orm.Bool(True),
        )
        self.report(outputs["report"]["message"])
        if "dynamical_matrices" in outputs:
            self.ctx.matrices = outputs["dynamical_matrices"]
            self.out("starting_dynamical_matrices", outputs["dynamical_matrices"])
        self.ctx.ensemble = outputs["ensemble"]

    def should_run_population(self):
        return not self.ctx.converged and self.ctx.population < self.inputs.max_populations.value

    def select_engine(self):
        """This population's engine: MLP or DFT (``active``: DFT for the first populations)."""
        engine = self.inputs.engine.value
        self.ctx.use_mlp = engine == "mlp" or (
            engine == "active" and self.ctx.population >= self.inputs.n_dft_populations.value
        )
        n = self.ctx.ensemble.n_configurations
        self.ctx.dft_indices = [] if self.ctx.use_mlp else list(range(n))
        self.ctx.dft_series = []
        self.ctx.n_dft = 0

    def population_uses_mlp(self):
        return self.ctx.use_mlp

    def population_needs_dft(self):
        return bool(self.ctx.dft_indices)

    def is_active(self):
        return self.inputs.engine.value == "active"

    # ---- MLP training (active engine) ---------------------------------------------------
    def needs_training(self):
        return self.is_active() and self.ctx.needs_training

    def run_train(self):
        inputs = self.exposed_inputs(MlpTrainCalculation, namespace="train")
        parameters = inputs["parameters"].get_dict() if "parameters" in inputs else {}
        parameters["committee_size"] = self.inputs.committee_size.value
        # validation frames whose ± partner was trained on are not unseen: hold out pairs
        parameters.setdefault("split_block_frames", 2)
        inputs["parameters"] = orm.Dict(parameters)
        inputs["configurations"] = {
            f"set_{k}": node for k, node in enumerate(self.ctx.training_sets)
        }
        return ToContext(
            training=self.submit(
                MlpTrainBaseWorkChain,
                mlp=inputs,
                metadata={"call_link_label": f"train_{self.ctx.population + 1}"},
            )
        )

    def inspect_train(self):
        calc = self.ctx.training
        if not calc.is_finished_ok:
            self.report(f"{failure(calc)}: population {self.ctx.population + 1} has no committee")
            return self.exit_codes.ERROR_MLP_TRAINING_FAILED
        self.ctx.model = calc.outputs.model
        self.ctx.needs_training = False
        n_frames = sum(node.n_configurations for node in self.ctx.training_sets)
        accurate, verdict = committee_is_accurate(
            calc.outputs.metrics.get_dict().get("metrics", {}),
            self.inputs.max_validation_force_rmse_mev_per_angstrom.value,
        )
        self.report(
            f"committee of {self.inputs.committee_size.value} trained on {n_frames} DFT "
            f"configurations: {verdict}"
            + ("" if accurate else f"; population {self.ctx.population + 1} runs with DFT")
        )
        if not accurate:
            self.ctx.use_mlp = False
            self.ctx.dft_indices = list(range(self.ctx.ensemble.n_configurations))
        return None

    # ---- MLP engine ---------------------------------------------------------------------
    def run_mlp(self):
        inputs = self.exposed_inputs(MlpEvaluateCalculation, namespace="mlp")
        if self.is_active():
            inputs["model"] = self.ctx.model
            inputs["member_forces"] = orm.Bool(True)
        inputs["configurations"] = ensemble_to_configurations(self.ctx.ensemble)
        return ToContext(
            evaluation=self.submit(
                MlpEvaluateBaseWorkChain,
                mlp=inputs,
                metadata={"call_link_label": f"mlp_{self.ctx.population + 1}"},
            )
        )

    def inspect_mlp(self):
        calc = self.ctx.evaluation
        if not calc.is_finished_ok:
            self.report(
                f"{failure(calc)}: population {self.ctx.population + 1} "
                f"({self.ctx.ensemble.n_configurations} configurations) has no MLP labels"
            )
            return self.exit_codes.ERROR_MLP_EVALUATION_FAILED
        self.ctx.ensemble_with_results = attach_results(
            self.ctx.ensemble, calc.outputs.configurations
        )
        if self.is_active():
            spread = calc.outputs.committee_spread.get_array("max_force_std_ev_per_angstrom")
            try:
                threshold, source = self._spread_threshold()
            except ValueError as exc:
                self.report(f"no spread threshold: {exc}")
                return self.exit_codes.ERROR_NO_SPREAD_REFERENCE
            self.ctx.dft_indices = configurations_for_dft(spread, threshold)
            self.report(
                f"population {self.ctx.population + 1}: committee force spread max "
                f"{np.max(spread):.4f}, median {np.median(spread):.4f} eV/A; "
                f"{len(self.ctx.dft_indices)} of {len(spread)} configurations above "
                f"{threshold:.4f} eV/A ({source}; with partners) go to DFT"
            )
        return None

    def _spread_threshold(self) -> tuple[float, str]:
        absolute = self.inputs.get("spread_threshold_ev_per_angstrom")
        return resolve_spread_threshold(
            absolute.value if absolute is not None else None,
            self.inputs.spread_threshold_factor.value,
            self.ctx.model.spread_reference,
        )

    # ---- DFT engine ---------------------------------------------------------------------
    def run_dft(self):
        """``max_concurrent_dft`` ``PwSeriesWorkChain``s side by side, the configurations dealt
        out in turn: each starts its next pw.x as soon as its last one ends."""
        atoms_list = self.ctx.ensemble.to_atoms_list()
        indices = self.ctx.dft_indices
        population = self.ctx.population + 1
        n_series = min(self.inputs.max_concurrent_dft.value, len(indices))
        pw_base = self.exposed_inputs(PwBaseWorkChain, namespace="dft")
        apply_shared_cores(pw_base["pw"], n_series)
        for series in range(n_series):
            structures = {
                dft_call_label(population, index): orm.StructureData(ase=atoms_list[index])
                for index in indices[series::n_series]
            }
            node = self.submit(
                PwSeriesWorkChain,
                pw_base=pw_base,
                structures=structures,
                metadata={"call_link_label": f"series_{population}_{series + 1}"},
            )
            self.to_context(dft_series=append_(node))
        self.report(
            f"population {population}: {len(indices)} pw.x, {n_series} at a time "
            f"({parallelisation(pw_base['pw'])} each; each series starts its next as soon as its "
            "last ends)"
        )

    def _dft_runs(self) -> dict[int, orm.WorkflowNode]:
        """This population's ``PwBaseWorkChain`` per configuration index, from the series' call
        links (each marked with the extra ``sscha_configuration``)."""
        by_index = {}
        for label, node in series_runs(self.ctx.dft_series).items():
            index = int(label.rsplit("_", 1)[1])
            node.base.extras.set("sscha_configuration", index)
            by_index[index] = node
        return by_index

    def inspect_dft(self):
        by_index = self._dft_runs()
        not_run = set(self.ctx.dft_indices) - set(by_index)
        if not_run:  # a series that stopped early (e.g. killed): its remaining configurations
            self.report(
                f"population {self.ctx.population + 1}: {len(not_run)} configurations never ran "
                f"({', '.join(failure(s) for s in self.ctx.dft_series if not s.is_finished_ok)})"
            )
        failed = {i for i, node in by_index.items() if not node.is_finished_ok} | not_run
        kept = configurations_to_keep(self.ctx.ensemble.n_configurations, failed)
        if self.ctx.use_mlp:
            return self._replace_with_dft(by_index, failed, kept)
        if len(kept) < 2:
            reasons = [failure(by_index[i]) for i in sorted(failed - not_run)[:3]]
            self.report(
                f"population {self.ctx.population + 1}: {len(failed)} of "
                f"{len(self.ctx.dft_indices)} DFT configurations failed ({', '.join(reasons)}"
                f"{', ...' if len(failed) > 3 else ''}); {len(kept)} left with their +- partners, "
                "at least 2 needed"
            )
            return self.exit_codes.ERROR_TOO_MANY_DFT_FAILURES
        if failed:
            self.report(
                f"WARNING: population {self.ctx.population + 1}: {len(failed)} DFT configurations "
                f"failed; dropped {len(self.ctx.dft_indices) - len(kept)} (with their +- "
                f"partners), {len(kept)} kept"
            )
        outputs = {}
        for i in kept:
            node = by_index[i]
            outputs[f"parameters_{i}"] = node.outputs.output_parameters
            outputs[f"trajectory_{i}"] = node.outputs.output_trajectory
        self.ctx.ensemble_with_results = collect_dft_results(self.ctx.ensemble, **outputs)
        self.ctx.n_dft = len(self.ctx.dft_indices)
        if self.is_active():
            self.ctx.training_sets.append(labelled_configurations(self.ctx.ensemble_with_results))
            self.ctx.needs_training = True
        return None

    def _replace_with_dft(self, by_index, failed, kept):
        """Active engine, MLP population: DFT labels replace the MLP ones of the configurations
        sent to DFT (pairs whose DFT failed keep their MLP labels); the committee is retrained."""
        self.ctx.n_dft = len(self.ctx.dft_indices)
        kept = [i for i in kept if i in by_index]
        if failed:
            self.report(
                f"WARNING: population {self.ctx.population + 1}: {len(failed)} DFT configurations "
                "failed; their pairs keep the MLP labels"
            )
        if not kept:
            return None
        outputs = {}
        for i in kept:
            outputs[f"parameters_{i}"] = by_index[i].outputs.output_parameters
            outputs[f"trajectory_{i}"] = by_index[i].outputs.output_trajectory
        dft_results = collect_dft_results(self.ctx.ensemble, **outputs)
        self.ctx.ensemble_with_results = replace_results(
            self.ctx.ensemble_with_results, dft_results
        )
        self.ctx.training_sets.append(labelled_configurations(dft_results))
        self.ctx.needs_training = True
        return None

    # ---- minimisation -------------------------------------------------------------------
    def run_minimize(self):
        inputs = self.exposed_inputs(SschaMinimizeCalculation, namespace="minimize")
        inputs.update(
            {
                "ensemble": self.ctx.ensemble_with_results,
                "dynamical_matrices": self.ctx.matrices,
                "temperature_kelvin": self.inputs.temperature_kelvin,
                "settings": self.ctx.settings,
            }
        )
        if self.ctx.population + 1 < self.inputs.max_populations.value:
            inputs["next_population_size"] = orm.Int(self._size(self.ctx.population + 1))
            inputs["seed"] = orm.Int(self.inputs.seed.value + self.ctx.population + 1)
        return ToContext(
            minimization=self.submit(
                SschaMinimizeBaseWorkChain,
                sscha=inputs,
                metadata={"call_link_label": f"minimize_{self.ctx.population + 1}"},
            )
        )

    def inspect_minimize(self):
        calc = self.ctx.minimization
        if not calc.is_finished_ok:
            self.report(f"{failure(calc)}: population {self.ctx.population + 1} not minimised")
            return self.exit_codes.ERROR_MINIMIZATION_FAILED
        if "settings" in calc.outputs:
            self.ctx.settings = calc.outputs.settings
            self.report(
                f"minimiser settings changed by {calc.process_label}<{calc.pk}> "
                f"(root_representation {calc.outputs.settings.get('root_representation')}) "
                "kept for later populations"
            )
        p = self.ctx.population
        parameters = calc.outputs.output_parameters
        self.ctx.rows[f"parameters_{p}"] = parameters
        self.ctx.rows[f"n_dft_{p}"] = orm.Int(self.ctx.n_dft)
        self.ctx.rows[f"frequencies_{p}"] = calc.outputs.frequencies_cm1
        self.ctx.rows[f"matrices_{p}"] = calc.outputs.dynamical_matrices
        self.report(
            f"population {p + 1}: {parameters['n_configurations']} configurations "
            f"({self.ctx.n_dft} DFT), F = {parameters['free_energy_ev']:.6f} +- "
            f"{parameters['free_energy_error_ev']:.6f} eV, Kong-Liu {parameters['kong_liu_ratio']:.3f}, "
            f"gradient/error {parameters['gradient_ratio_fc']:.3g}, lowest "
            f"{parameters['lowest_frequency_cm1']:.1f} cm^-1, {parameters['stop_reason']}"
        )
        cell = parameters.get("cell_relaxation")
        if cell:
            self._update_bulk_modulus(cell)
            self.report(
                f"population {p + 1}: pressure {cell['pressure_gpa']:.3f} +- "
                f"{cell['pressure_error_gpa']:.3f} GPa (target {cell['target_pressure_gpa']:g}); "
                + (
                    "cell kept"
                    if cell["cell_converged"]
                    else f"cell updated, volume {cell['volume_change_percent']:+.3f} %"
                )
            )
        self.ctx.converged = bool(calc.outputs.converged.value)
        self.ctx.last_inputs = {
            "ensemble": self.ctx.ensemble_with_results,
            "dynamical_matrices": self.ctx.matrices,
        }
        self.ctx.matrices = calc.outputs.dynamical_matrices
        if "next_ensemble" in calc.outputs:
            self.ctx.ensemble = calc.outputs.next_ensemble
        self.ctx.population += 1
        return None

    def _update_bulk_modulus(self, cell: dict) -> None:
        """Secant estimate of the bulk modulus from the last two populations' (V, P), used to
        size the next cell step (the first steps use ``bulk_modulus_gpa`` of the settings)."""
        from aiida_clathrate.sscha.cell import secant_bulk_modulus_gpa

        history = self.ctx.cell_history
        history["volumes"].append(abs(float(np.linalg.det(cell["cell_before_angstrom"]))))
        history["pressures"].append(cell["pressure_gpa"])
        history["errors"].append(cell["pressure_error_gpa"])
        estimate = secant_bulk_modulus_gpa(
            history["volumes"], history["pressures"], history["errors"]
        )
        if estimate is None:
            return
        settings = self.ctx.settings.get_dict()
        settings["bulk_modulus_gpa"] = estimate
        self.ctx.settings = orm.Dict(settings)
        self.report(f"bulk modulus from the last two populations: {estimate:.0f} GPa (next steps)")

    def should_compute_hessian(self):
        return self.ctx.converged and self.inputs.compute_hessian.value

    def run_hessian(self):
        """The converged population again (same ensemble, same starting matrix: the minimisation
        is deterministic) with the Hessian of the minimised ensemble."""
        inputs = self.exposed_inputs(SschaMinimizeCalculation, namespace="minimize")
        inputs.update(self.ctx.last_inputs)
        inputs.update(
            {
                "temperature_kelvin": self.inputs.temperature_kelvin,
                "settings": self.ctx.settings,
                "compute_hessian": orm.Bool(True),
                "hessian_include_v4": self.inputs.hessian_include_v4,
            }
        )
        if "hessian_memory_limit_gib" in self.inputs:
            inputs["hessian_memory_limit_gib"] = self.inputs.hessian_memory_limit_gib
        if "hessian_bootstrap_samples" in self.inputs:
            inputs["hessian_bootstrap_samples"] = self.inputs.hessian_bootstrap_samples
            inputs["hessian_bootstrap_seed"] = self.inputs.seed
        return ToContext(
            hessian=self.submit(
                SschaMinimizeBaseWorkChain, sscha=inputs, metadata={"call_link_label": "hessian"}
            )
        )

    def inspect_hessian(self):
        calc = self.ctx.hessian
        if not calc.is_finished_ok or "hessian_frequencies_cm1" not in calc.outputs:
            self.report(f"{failure(calc)}: no free-energy Hessian")
            return self.exit_codes.ERROR_HESSIAN_FAILED
        info = calc.outputs.output_parameters["hessian"]
        if info.get("warning"):
            self.report(f"WARNING: {info['warning']}")
        self.out("hessian_dynamical_matrices", calc.outputs.hessian_dynamical_matrices)
        self.out("hessian_frequencies_cm1", calc.outputs.hessian_frequencies_cm1)
        if "fine_dynamical_matrices" in self.inputs:
            fine = anharmonic_on_fine_grid(
                calc.outputs.hessian_dynamical_matrices,
                self.inputs.dynamical_matrices,
                self.inputs.fine_dynamical_matrices,
            )
            self.out("anharmonic_dynamical_matrices", fine["dynamical_matrices"])
            self.out("anharmonic_frequencies_cm1", fine["frequencies_cm1"])
            arrays = fine["frequencies_cm1"]
            lowest = lowest_frequency_cm1(
                arrays.get_array("qpoints_crystal"), arrays.get_array("frequencies_cm1")
            )
            mesh = self.inputs.fine_dynamical_matrices.base.attributes.get("qpoints_mesh")
            self.report(
                f"Hessian correction interpolated onto the {mesh} grid: lowest {lowest:.1f} "
                "cm^-1 (acoustic modes at Gamma left out)"
            )
        return None

    def results(self):
        calc = self.ctx.minimization
        for name in (
            "dynamical_matrices",
            "structure",
            "free_energy_ev",
            "free_energy_error_ev",
            "kong_liu_ratio",
            "frequencies_cm1",
        ):
            self.out(name, calc.outputs[name])
        self.out("converged", calc.outputs.converged)
        populations = summarize_populations(**self.ctx.rows)
        self.out("populations", populations)
        verdict_inputs = {
            "auxiliary_frequencies": calc.outputs.frequencies_cm1,
            "populations": populations,
            "tolerance_cm1": self.inputs.stability_tolerance_cm1,
        }
        if "hessian" in self.ctx:
            verdict_inputs["hessian_frequencies"] = self.ctx.hessian.outputs.hessian_frequencies_cm1
        verdict = sscha_verdict(**verdict_inputs)
        self.out("verdict", verdict)
        self.report(f"verdict: {verdict['category']} ({verdict['message']})")
        if not self.ctx.converged:
            self.report(
                f"WARNING: not converged after {self.ctx.population} populations (max_populations)"
            )
