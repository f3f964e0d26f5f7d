"""Parsers for the MLP training and evaluation CalcJobs."""

from __future__ import annotations

import json
import pathlib

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_clathrate.calculations.mlp import MlpEvaluateCalculation, MlpTrainCalculation
from aiida_clathrate.data.configurations import ConfigurationSetData
from aiida_clathrate.data.model import MlpModelData
from aiida_clathrate.mlp.training import DIVERGED_MESSAGE
from aiida_clathrate.parsers.common import (
    failed_script_exit_code,
    read_script_error,
    scheduler_exit_code,
)

__all__ = ("MlpEvaluateParser", "MlpTrainParser")


def missing_results(parser: Parser):
    """The exit code of a job whose results are missing: the script's own error (a diverged
    training apart), else the scheduler's verdict (out of memory, walltime), else "missing"."""
    error = read_script_error(parser.retrieved, "aiida-clathrate-mlp")
    if error.startswith(DIVERGED_MESSAGE):
        return parser.exit_codes.ERROR_TRAINING_DIVERGED.format(error=error)
    return (
        failed_script_exit_code(parser, error)
        or scheduler_exit_code(parser.node)
        or parser.exit_codes.ERROR_MISSING_OUTPUT_FILES
    )


class MlpTrainParser(Parser):
    """Model file -> ``model``; metrics.json -> ``metrics``; learning_curve.json -> ``learning_curve``."""

    def parse(self, retrieved_temporary_folder=None, **kwargs):
        calc = MlpTrainCalculation
        names = self.retrieved.base.repository.list_object_names()
        model_path = (
            pathlib.Path(retrieved_temporary_folder) / calc.MODEL_FILE
            if retrieved_temporary_folder
            else None
        )
        if (
            calc.METRICS_FILE not in names
            or calc.CURVE_FILE not in names
            or model_path is None
            or not model_path.is_file()
        ):
            return missing_results(self)
        try:
            metrics = json.loads(
                self.retrieved.base.repository.get_object_content(calc.METRICS_FILE)
            )
            curve = json.loads(self.retrieved.base.repository.get_object_content(calc.CURVE_FILE))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return self.exit_codes.ERROR_READING_OUTPUT.format(error=str(exc))
        try:
            model = MlpModelData(file=str(model_path))
        except (ValueError, FileNotFoundError) as exc:
            return self.exit_codes.ERROR_INVALID_MODEL.format(error=str(exc))
        learning_curve = orm.ArrayData()
        for key in ("member", "epoch", "train_loss", "valid_loss", "learning_rate", "elapsed_s"):
            learning_curve.set_array(key, np.array([row[key] for row in curve]))
        # the training stage of every row (2: the fine-tune); curves before it have stage 1 only
        learning_curve.set_array("stage", np.array([row.get("stage", 1) for row in curve]))
        self.out("model", model)
        self.out("metrics", orm.Dict(metrics))
        self.out("learning_curve", learning_curve)
        return None


class MlpEvaluateParser(Parser):
    """labelled.xyz -> ``configurations``; spread.json -> ``committee_spread``."""

    def parse(self, **kwargs):
        calc = MlpEvaluateCalculation
        names = self.retrieved.base.repository.list_object_names()
        if calc.OUTPUT_FILE not in names or calc.SPREAD_FILE not in names:
            return missing_results(self)
        try:
            with self.retrieved.base.repository.as_path(calc.OUTPUT_FILE) as path:
                labelled = ConfigurationSetData.from_extxyz(path)
            spread = json.loads(self.retrieved.base.repository.get_object_content(calc.SPREAD_FILE))
        except (ValueError, OSError, json.JSONDecodeError) as exc:
            return self.exit_codes.ERROR_READING_OUTPUT.format(error=str(exc))
        records = spread["configurations"]
        if len(records) != labelled.n_configurations:
            return self.exit_codes.ERROR_READING_OUTPUT.format(
                error="number of spreads differs from the number of configurations"
            )
        array = orm.ArrayData()
        array.set_array("energy_std_ev", np.array([r["committee_energy_std_ev"] for r in records]))
        array.set_array(
            "energy_std_mev_per_atom",
            np.array([r["committee_energy_std_mev_per_atom"] for r in records]),
        )
        array.set_array(
            "committee_energies_ev", np.array([r["committee_energies_ev"] for r in records])
        )
        if records and "committee_max_force_std_ev_per_angstrom" in records[0]:
            array.set_array(
                "max_force_std_ev_per_angstrom",
                np.array([r["committee_max_force_std_ev_per_angstrom"] for r in records]),
            )
        if records and records[0].get("kernel_energy_ev") is not None:
            array.set_array("kernel_energy_ev", np.array([r["kernel_energy_ev"] for r in records]))
        self.out("configurations", labelled)
        self.out("committee_spread", array)
        return None
