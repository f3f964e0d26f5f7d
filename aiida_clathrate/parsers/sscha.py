"""Parser of ``clathrate.sscha.minimize``: results.json, the new dyn files, the next population."""

from __future__ import annotations

import json
import pathlib
import tempfile

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_clathrate.calculations.sscha import SschaMinimizeCalculation
from aiida_clathrate.data.dynamical_matrices import from_directory
from aiida_clathrate.data.ensemble import EnsembleData
from aiida_clathrate.parsers.common import (
    failed_script_exit_code,
    read_script_error,
    scheduler_exit_code,
    script_error,
)

__all__ = ("SschaMinimizeParser", "script_error")


def _structure(record: dict) -> orm.StructureData:
    from ase import Atoms

    atoms = Atoms(
        record["symbols"],
        positions=record["positions_angstrom"],
        cell=record["cell_angstrom"],
        pbc=True,
    )
    return orm.StructureData(ase=atoms)


class SschaMinimizeParser(Parser):
    """Outputs of :class:`SschaMinimizeCalculation`; units in the output names (eV, cm^-1)."""

    def parse(self, **kwargs):
        calc = SschaMinimizeCalculation
        out = calc.OUTPUT_DIR
        retrieved = self.retrieved
        results_path = f"{out}/{SschaMinimizeCalculation.RESULTS_FILE}"
        try:
            record = json.loads(retrieved.base.repository.get_object_content(results_path))
        except FileNotFoundError:
            error = read_script_error(retrieved, "aiida-clathrate-sscha")
            return (
                failed_script_exit_code(self, error)
                or scheduler_exit_code(self.node)
                or self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(error=results_path)
            )
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self.exit_codes.ERROR_READING_OUTPUT.format(error=str(exc))

        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = pathlib.Path(tmp)
            try:
                retrieved.base.repository.copy_tree(tmp_path, f"{out}")
            except (FileNotFoundError, OSError) as exc:
                return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(error=str(exc))
            try:
                matrices = from_directory(tmp_path / "dyn", record["dyn_prefix"])
            except ValueError as exc:
                return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(error=str(exc))
            hessian = None
            if "hessian" in record:
                try:
                    hessian = from_directory(tmp_path / "hessian", record["dyn_prefix"])
                except ValueError as exc:
                    return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(error=str(exc))
            next_ensemble = None
            if "next_population" in record:
                population = tmp_path / "next_population.npz"
                if not population.is_file():
                    return self.exit_codes.ERROR_MISSING_OUTPUT_FILES.format(error=population.name)
                next_ensemble = EnsembleData.from_population_npz(
                    population,
                    record["temperature_kelvin"],
                    record["next_population"]["seed"],
                )
                next_ensemble.set_generating_matrix(matrices)

        frequencies = orm.ArrayData()
        frequencies.set_array("frequencies_cm1", np.array(record["frequencies_cm1"]))
        parameters = {
            key: value
            for key, value in record.items()
            if key not in ("frequencies_cm1", "structure", "dyn_files")
        }
        if hessian is not None:
            parameters["hessian"] = {
                k: v
                for k, v in record["hessian"].items()
                if k not in ("frequencies_cm1", "bootstrap_frequencies_cm1")
            }
            hessian_frequencies = orm.ArrayData()
            hessian_frequencies.set_array(
                "frequencies_cm1", np.array(record["hessian"]["frequencies_cm1"])
            )
            if "bootstrap_frequencies_cm1" in record["hessian"]:
                hessian_frequencies.set_array(
                    "bootstrap_frequencies_cm1",
                    np.array(record["hessian"]["bootstrap_frequencies_cm1"]),
                )
            self.out("hessian_dynamical_matrices", hessian)
            self.out("hessian_frequencies_cm1", hessian_frequencies)
        self.out("dynamical_matrices", matrices)
        self.out("structure", _structure(record["structure"]))
        self.out("free_energy_ev", orm.Float(record["free_energy_ev"]))
        self.out("free_energy_error_ev", orm.Float(record["free_energy_error_ev"]))
        self.out("kong_liu_ratio", orm.Float(record["kong_liu_ratio"]))
        self.out("frequencies_cm1", frequencies)
        self.out("converged", orm.Bool(record["converged"]))
        self.out("output_parameters", orm.Dict(parameters))
        if next_ensemble is not None:
            self.out("next_ensemble", next_ensemble)
        return None
