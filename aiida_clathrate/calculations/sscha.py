"""SSCHA processes: the ``clathrate.sscha.minimize`` CalcJob and the population calcfunctions.

``SschaMinimizeCalculation`` runs ``aiida-clathrate-sscha minimize`` on one population whose
energies and forces are known; the calcfunctions generate a seeded population from a matrix
(``generate_population``), convert it for the MLP (``ensemble_to_configurations``) and attach
computed results (``attach_results``).
"""

from __future__ import annotations

import json

import numpy as np
from aiida import orm
from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob, calcfunction

from aiida_clathrate.calculations.validators import settings_validator
from aiida_clathrate.data.dynamical_matrices import (
    dynamical_matrices_info,
    from_phonons,
    to_phonons,
    validate_dynamical_matrices,
    write_dyn_files,
)
from aiida_clathrate.data.ensemble import EnsembleData
from aiida_clathrate.validators import set_code_plugins

__all__ = (
    "SschaMinimizeCalculation",
    "attach_results",
    "ensemble_to_configurations",
    "generate_population",
)


_validate_settings = settings_validator(
    "aiida_clathrate.sscha.minimize.MinimizerSettings", "minimizer settings"
)


class SschaMinimizeCalculation(CalcJob):
    """One SSCHA minimisation on a population with results; optionally the next population.

    Outputs: ``dynamical_matrices`` (FolderData convention, the new auxiliary matrix),
    ``structure`` (centroid positions), ``free_energy_ev`` and ``free_energy_error_ev`` (per unit
    cell), ``kong_liu_ratio``, ``frequencies_cm1`` (ArrayData, supercell, translations removed),
    ``converged``, ``output_parameters`` (all scalars, gradient ratios, stop reason, free-energy
    trajectory) and, with ``next_population_size``, ``next_ensemble`` (positions only).
    """

    ENSEMBLE_FILE = "ensemble.npz"
    SETTINGS_FILE = "settings.json"
    DYN_DIR = "dyn_in"
    OUTPUT_DIR = "out"
    RESULTS_FILE = "results.json"

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("ensemble", valid_type=EnsembleData, help="population with energies and forces")
        spec.input(
            "dynamical_matrices",
            valid_type=orm.FolderData,
            validator=validate_dynamical_matrices,
            help="the matrix that generated the ensemble (dyn files, FolderData convention)",
        )
        spec.input("temperature_kelvin", valid_type=orm.Float, help="must be the ensemble's")
        spec.input(
            "settings",
            valid_type=orm.Dict,
            required=False,
            validator=_validate_settings,
            help="MinimizerSettings fields (kong_liu_ratio, meaningful_factor, lambda_a, ...)",
        )
        spec.input(
            "next_population_size",
            valid_type=orm.Int,
            required=False,
            help="even number of configurations of the next population",
        )
        spec.input("seed", valid_type=orm.Int, required=False, help="seed of the next population")
        spec.input(
            "compute_hessian",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help="also the free-energy Hessian of the minimised ensemble",
        )
        spec.input(
            "hessian_include_v4",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            help="include the fourth-order term in the Hessian",
        )
        spec.input(
            "hessian_memory_limit_gib",
            valid_type=orm.Float,
            required=False,
            help="when v4 ((3N)^4 doubles) needs more, it is dropped with a warning",
        )
        spec.input(
            "hessian_bootstrap_samples",
            valid_type=orm.Int,
            required=False,
            help="with compute_hessian: this many bootstrap resamples of the ensemble, each "
            "minimised again, for the stochastic error of the Hessian frequencies (at least 2)",
        )
        spec.input(
            "hessian_bootstrap_seed",
            valid_type=orm.Int,
            required=False,
            help="seed of the bootstrap resampling (default 0)",
        )
        spec.inputs["metadata"]["options"]["resources"].default = {
            "num_machines": 1,
            "num_mpiprocs_per_machine": 1,
        }
        spec.inputs["metadata"]["options"]["withmpi"].default = False
        spec.inputs["metadata"]["options"]["output_filename"].default = "aiida.out"
        spec.inputs["metadata"]["options"]["parser_name"].default = "clathrate.sscha.minimize"
        set_code_plugins(spec.inputs, "code", "clathrate.sscha.minimize")
        spec.inputs.validator = cls._validate_inputs

        spec.output("dynamical_matrices", valid_type=orm.FolderData)
        spec.output("structure", valid_type=orm.StructureData)
        spec.output("free_energy_ev", valid_type=orm.Float)
        spec.output("free_energy_error_ev", valid_type=orm.Float)
        spec.output("kong_liu_ratio", valid_type=orm.Float)
        spec.output("frequencies_cm1", valid_type=orm.ArrayData)
        spec.output("converged", valid_type=orm.Bool)
        spec.output("output_parameters", valid_type=orm.Dict)
        spec.output("next_ensemble", valid_type=EnsembleData, required=False)
        spec.output("hessian_dynamical_matrices", valid_type=orm.FolderData, required=False)
        spec.output("hessian_frequencies_cm1", valid_type=orm.ArrayData, required=False)
        spec.exit_code(
            300, "ERROR_MISSING_OUTPUT_FILES", message="expected output files are missing: {error}"
        )
        spec.exit_code(
            310, "ERROR_READING_OUTPUT", message="an output file could not be read: {error}"
        )
        spec.exit_code(320, "ERROR_SCRIPT_FAILED", message="aiida-clathrate-sscha failed: {error}")

    @staticmethod
    def _validate_inputs(inputs, _ctx=None):
        samples = inputs.get("hessian_bootstrap_samples")
        if samples is not None:
            compute = inputs.get("compute_hessian")
            if compute is None or not compute.value:
                return "hessian_bootstrap_samples needs compute_hessian"
            if samples.value < 2:
                return f"hessian_bootstrap_samples must be at least 2, got {samples.value}"
        ensemble = inputs.get("ensemble")
        if ensemble is not None:
            if not ensemble.has_results:
                return "the ensemble has no energies and forces: evaluate it first"
            temperature = inputs.get("temperature_kelvin")
            if (
                temperature is not None
                and abs(temperature.value - ensemble.temperature_kelvin) > 1e-9
            ):
                return (
                    f"temperature_kelvin {temperature.value} differs from the ensemble's "
                    f"{ensemble.temperature_kelvin} (reweighting to another temperature is not supported)"
                )
        size, seed = inputs.get("next_population_size"), inputs.get("seed")
        if (size is None) != (seed is None):
            return "next_population_size and seed go together"
        if size is not None and (size.value < 2 or size.value % 2):
            return f"next_population_size must be even and at least 2, got {size.value}"
        if seed is not None and seed.value < 0:
            return f"seed must be non-negative, got {seed.value}"
        return None

    def prepare_for_submission(self, folder):
        info = write_dyn_files(self.inputs.dynamical_matrices, folder.get_abs_path(self.DYN_DIR))
        self.inputs.ensemble.write_npz(folder.get_abs_path(self.ENSEMBLE_FILE))
        settings = self.inputs.settings.get_dict() if "settings" in self.inputs else {}
        with folder.open(self.SETTINGS_FILE, "w") as handle:
            json.dump(settings, handle)
        cmdline = [
            "minimize",
            "--dyn-dir",
            self.DYN_DIR,
            "--prefix",
            info["prefix"],
            "--nqirr",
            str(info["nqirr"]),
            "--ensemble",
            self.ENSEMBLE_FILE,
            "--temperature",
            repr(float(self.inputs.temperature_kelvin.value)),
            "--settings",
            self.SETTINGS_FILE,
            "--output-dir",
            self.OUTPUT_DIR,
        ]
        if "next_population_size" in self.inputs:
            cmdline += [
                "--next-configurations",
                str(self.inputs.next_population_size.value),
                "--seed",
                str(self.inputs.seed.value),
            ]
        if self.inputs.compute_hessian.value:
            cmdline.append("--hessian")
            if self.inputs.hessian_include_v4.value:
                cmdline.append("--v4")
            if "hessian_memory_limit_gib" in self.inputs:
                cmdline += ["--memory-limit-gib", repr(self.inputs.hessian_memory_limit_gib.value)]
            if "hessian_bootstrap_samples" in self.inputs:
                seed = self.inputs.get("hessian_bootstrap_seed")
                cmdline += [
                    "--bootstrap",
                    str(self.inputs.hessian_bootstrap_samples.value),
                    "--bootstrap-seed",
                    str(0 if seed is None else seed.value),
                ]
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = self.options.output_filename
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = [self.options.output_filename, self.OUTPUT_DIR]
        return calcinfo


# ---- calcfunctions --------------------------------------------------------------------------
@calcfunction
def generate_population(
    dynamical_matrices: orm.FolderData,
    temperature_kelvin: orm.Float,
    n_configurations: orm.Int,
    seed: orm.Int,
    force_positive_definite: orm.Bool,
) -> dict[str, orm.Data]:
    """A seeded population (``ensemble``) drawn from a matrix; with ``force_positive_definite``
    an imaginary-free copy of the matrix (``dynamical_matrices``) is made first and used, and
    ``report`` says how many modes were imaginary."""
    from aiida_clathrate.sscha.dynamical_matrix import (
        force_positive_definite as make_positive,
    )
    from aiida_clathrate.sscha.dynamical_matrix import (
        supercell_atoms,
    )
    from aiida_clathrate.sscha.population import ensemble_positions_angstrom, generate_ensemble

    info = dynamical_matrices_info(dynamical_matrices)
    phonons = to_phonons(dynamical_matrices)
    outputs: dict[str, orm.Data] = {}
    report = {"forced_positive_definite": False, "n_imaginary": 0}
    generating = dynamical_matrices
    if force_positive_definite.value:
        outcome = make_positive(phonons)
        report = {
            "forced_positive_definite": outcome.changed,
            "n_imaginary": outcome.n_imaginary,
            "lowest_frequency_cm1_before": outcome.lowest_frequency_cm1_before,
            "message": outcome.message(),
        }
        if outcome.changed:
            phonons = outcome.phonons
            generating = from_phonons(phonons, info["prefix"])
            outputs["dynamical_matrices"] = generating
    ensemble_cc = generate_ensemble(
        phonons, temperature_kelvin.value, n_configurations.value, seed.value
    )
    atoms = supercell_atoms(phonons)
    ensemble = EnsembleData(
        positions_angstrom=ensemble_positions_angstrom(ensemble_cc),
        reference_positions_angstrom=atoms.get_positions(),
        cell_angstrom=np.asarray(atoms.cell[:]),
        symbols=atoms.get_chemical_symbols(),
        temperature_kelvin=temperature_kelvin.value,
        seed=seed.value,
    )
    ensemble.set_generating_matrix(generating)
    outputs["ensemble"] = ensemble
    outputs["report"] = orm.Dict(report)
    return outputs


@calcfunction
def ensemble_to_configurations(ensemble: EnsembleData):
    """The population's configurations as a ``ConfigurationSetData`` (for the MLP evaluate CalcJob)."""
    from aiida_clathrate.data.configurations import ConfigurationSetData
    from aiida_clathrate.mlp.frames import Frame

    cell = ensemble.cell_angstrom
    frames = [
        Frame(symbols=ensemble.symbols, positions_angstrom=p, cell_angstrom=cell)
        for p in ensemble.get_array("positions_angstrom")
    ]
    return ConfigurationSetData(frames=frames)


@calcfunction
def attach_results(ensemble: EnsembleData, configurations: orm.ArrayData) -> EnsembleData:
    """A copy of ``ensemble`` with the energies/forces/stresses of a labelled configuration set.

    The configurations must be the ensemble's, in the same order (positions checked to 1e-6 Å).
    """
    positions = ensemble.get_array("positions_angstrom")
    n, n_atoms = positions.shape[:2]
    counts = configurations.get_array("atom_counts")
    if len(counts) != n or np.any(counts != n_atoms):
        raise ValueError("the configuration set does not match the ensemble's shape")
    labelled = configurations.get_array("positions").reshape(n, n_atoms, 3)
    if not np.allclose(labelled, positions, atol=1e-6):
        raise ValueError("the configuration set's positions differ from the ensemble's")
    stresses = None
    if "stresses" in configurations.get_arraynames():
        stresses = configurations.get_array("stresses")
        if np.any(np.isnan(stresses)):
            stresses = None
    result = ensemble.derived(positions)
    result.set_results(
        configurations.get_array("energies"),
        configurations.get_array("forces").reshape(n, n_atoms, 3),
        stresses,
    )
    return result
