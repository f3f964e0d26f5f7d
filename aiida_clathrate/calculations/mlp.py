"""CalcJobs that run ``aiida-clathrate-mlp train`` and ``aiida-clathrate-mlp evaluate``.

One installed code (the ``aiida-clathrate-mlp`` executable) serves both: the sub-command is put
in the command line by the CalcJob. Any AiiDA computer works (a GPU node is just another computer).
"""

from __future__ import annotations

import json

from aiida import orm
from aiida.common import CalcInfo, CodeInfo
from aiida.engine import CalcJob

from aiida_clathrate.calculations.validators import settings_validator
from aiida_clathrate.data.configurations import ConfigurationSetData
from aiida_clathrate.data.model import MlpModelData
from aiida_clathrate.validators import set_code_plugins

__all__ = ("MlpEvaluateCalculation", "MlpTrainCalculation")


_validate_parameters = settings_validator(
    "aiida_clathrate.mlp.training.TrainingSettings", "training parameters"
)


def _at_least_one(name: str):
    """A port validator: the Int input ``name`` must be at least 1."""

    def validate(value, _ctx=None):
        if value is not None and value.value < 1:
            return f"{name} must be at least 1, got {value.value}"
        return None

    return validate


def _validate_dtype(value, _ctx=None):
    if value is not None and value.value not in ("float32", "float64"):
        return f"dtype must be float32 or float64, got {value.value!r}"
    return None


class _MlpCalculation(CalcJob):
    """Common inputs: code, thread count and default resources."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            "num_threads",
            valid_type=orm.Int,
            default=lambda: orm.Int(1),
            validator=_at_least_one("num_threads"),
            help="torch threads used by the executable",
        )
        spec.inputs["metadata"]["options"]["resources"].default = {
            "num_machines": 1,
            "num_mpiprocs_per_machine": 1,
        }
        spec.inputs["metadata"]["options"]["withmpi"].default = False
        spec.inputs["metadata"]["options"]["output_filename"].default = "aiida.out"
        # one code serves both CalcJobs (its default plugin: clathrate.mlp.train)
        set_code_plugins(spec.inputs, "code", "clathrate.mlp.train", "clathrate.mlp.evaluate")
        spec.exit_code(
            300, "ERROR_MISSING_OUTPUT_FILES", message="expected output files are missing"
        )
        spec.exit_code(
            310, "ERROR_READING_OUTPUT", message="an output file could not be read: {error}"
        )
        spec.exit_code(320, "ERROR_INVALID_MODEL", message="the model file is invalid: {error}")
        spec.exit_code(330, "ERROR_SCRIPT_FAILED", message="aiida-clathrate-mlp failed: {error}")
        spec.exit_code(
            340,
            "ERROR_TRAINING_DIVERGED",
            message="the training diverged (non-finite loss): {error}",
        )


class MlpTrainCalculation(_MlpCalculation):
    """Train a committee on one or more configuration sets.

    Outputs: ``model`` (:class:`MlpModelData`), ``metrics`` (Dict: RMSE/MAE on train and
    validation sets), ``learning_curve`` (ArrayData: member, epoch, losses, learning rate).
    """

    TRAIN_FILE = "train.xyz"
    VALID_FILE = "valid.xyz"
    PARAMETERS_FILE = "parameters.json"
    MODEL_FILE = "model.pt"
    METRICS_FILE = "metrics.json"
    CURVE_FILE = "learning_curve.json"

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input_namespace(
            "configurations",
            valid_type=ConfigurationSetData,
            dynamic=True,
            help="labelled training sets (concatenated)",
        )
        spec.input(
            "validation",
            valid_type=ConfigurationSetData,
            required=False,
            help="validation set for early stopping and metrics (else a seeded split)",
        )
        spec.input(
            "parameters",
            valid_type=orm.Dict,
            required=False,
            validator=_validate_parameters,
            help="TrainingSettings fields (descriptor, network, committee, optimiser, weights)",
        )
        spec.inputs["metadata"]["options"]["parser_name"].default = "clathrate.mlp.train"
        spec.inputs.validator = cls._validate_inputs
        spec.output("model", valid_type=MlpModelData)
        spec.output("metrics", valid_type=orm.Dict)
        spec.output("learning_curve", valid_type=orm.ArrayData)

    @staticmethod
    def _validate_inputs(inputs, _ctx=None):
        sets = inputs.get("configurations", {})
        if not sets:
            return "at least one configuration set is required in `configurations`"
        for key, node in sets.items():
            if not (node.has_labels("energies") and node.has_labels("forces")):
                return f"configuration set `{key}` has no energy and force labels"
        return None

    def prepare_for_submission(self, folder):
        from aiida_clathrate.mlp.frames import write_frames

        frames = []
        for key in sorted(self.inputs.configurations):
            frames += self.inputs.configurations[key].to_frames()
        write_frames(folder.get_abs_path(self.TRAIN_FILE), frames)
        parameters = self.inputs.parameters.get_dict() if "parameters" in self.inputs else {}
        with folder.open(self.PARAMETERS_FILE, "w") as handle:
            json.dump(parameters, handle)
        cmdline = [
            "--threads",
            str(self.inputs.num_threads.value),
            "train",
            "--train",
            self.TRAIN_FILE,
            "--parameters",
            self.PARAMETERS_FILE,
            "--model",
            self.MODEL_FILE,
            "--metrics",
            self.METRICS_FILE,
            "--learning-curve",
            self.CURVE_FILE,
        ]
        if "validation" in self.inputs:
            self.inputs.validation.write_extxyz(folder.get_abs_path(self.VALID_FILE))
            cmdline += ["--valid", self.VALID_FILE]
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = self.options.output_filename
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = [self.options.output_filename, self.METRICS_FILE, self.CURVE_FILE]
        calcinfo.retrieve_temporary_list = [self.MODEL_FILE]
        return calcinfo


class MlpEvaluateCalculation(_MlpCalculation):
    """Label a configuration set with a trained committee.

    Outputs: ``configurations`` (the labelled set) and ``committee_spread`` (ArrayData with
    ``energy_std_ev``, ``energy_std_mev_per_atom``, ``committee_energies_ev``, with a kernel
    member ``kernel_energy_ev`` and, with ``member_forces``, ``max_force_std_ev_per_angstrom`` per
    configuration; the spread is the networks').
    """

    INPUT_FILE = "input.xyz"
    MODEL_FILE = "model.pt"
    OUTPUT_FILE = "labelled.xyz"
    SPREAD_FILE = "spread.json"

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input("model", valid_type=MlpModelData, help="trained committee")
        spec.input(
            "configurations", valid_type=ConfigurationSetData, help="configurations to label"
        )
        spec.input(
            "member_forces",
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help="also compute the committee spread of the forces",
        )
        spec.input(
            "dtype",
            valid_type=orm.Str,
            required=False,
            validator=_validate_dtype,
            help="float32 or float64 for the predictions (default: the model file's)",
        )
        spec.input(
            "num_workers",
            valid_type=orm.Int,
            default=lambda: orm.Int(1),
            validator=_at_least_one("num_workers"),
            help="processes, each with num_threads torch threads and a contiguous block of the "
            "configurations",
        )
        spec.inputs["metadata"]["options"]["parser_name"].default = "clathrate.mlp.evaluate"
        spec.inputs.validator = cls._validate_inputs
        spec.output("configurations", valid_type=ConfigurationSetData)
        spec.output("committee_spread", valid_type=orm.ArrayData)

    @staticmethod
    def _validate_inputs(inputs, _ctx=None):
        model, configurations = inputs.get("model"), inputs.get("configurations")
        if model is None or configurations is None:
            return None
        missing = set(configurations.base.attributes.get("elements", [])) - set(
            model.base.attributes.get("elements", [])
        )
        if missing:
            return f"configurations contain elements {sorted(missing)} unknown to the model"
        return None

    def prepare_for_submission(self, folder):
        self.inputs.configurations.write_extxyz(folder.get_abs_path(self.INPUT_FILE))
        with (
            self.inputs.model.open(mode="rb") as source,
            folder.open(self.MODEL_FILE, "wb") as target,
        ):
            target.write(source.read())
        cmdline = [
            "--threads",
            str(self.inputs.num_threads.value),
            "evaluate",
            "--model",
            self.MODEL_FILE,
            "--input",
            self.INPUT_FILE,
            "--output",
            self.OUTPUT_FILE,
            "--spread",
            self.SPREAD_FILE,
        ]
        if self.inputs.member_forces.value:
            cmdline.append("--member-forces")
        if "dtype" in self.inputs:
            cmdline += ["--dtype", self.inputs.dtype.value]
        if self.inputs.num_workers.value > 1:
            cmdline += ["--workers", str(self.inputs.num_workers.value)]
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = self.options.output_filename
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.retrieve_list = [self.options.output_filename, self.OUTPUT_FILE, self.SPREAD_FILE]
        return calcinfo
