"""Restart wrappers of the project's own CalcJobs, as aiida-quantumespresso's PwBaseWorkChain.

``SschaMinimizeBaseWorkChain``, ``MlpTrainBaseWorkChain`` and ``MlpEvaluateBaseWorkChain`` run
their CalcJob until it finishes, and on a failure either apply a remedy (a ``process_handler``)
and run it again, or stop with an exit code whose report line says what failed. Handlers, by
priority:

========================  ==========================  =====================================
exit of the CalcJob       wrapper                     remedy
========================  ==========================  =====================================
320 acoustic sum rule     SSCHA minimiser             ``root_representation: sqrt`` (once)
340 training diverged     MLP training                learning rates divided by 10
110 out of memory         SSCHA minimiser (Hessian)   the Hessian without the v4 term
110 out of memory         MLP training                the autograd path (no stored Jacobians)
120 out of walltime       every wrapper               MLP training: a time limit per member
                                                      that fits; otherwise twice the walltime
300 results missing       every wrapper               run again unchanged, once (a killed job)
320/330 script error      every wrapper               none: stop with 310 and the message
========================  ==========================  =====================================

Exit codes of the wrappers: 310 the script failed (message kept), 311 the results were missing
twice, 312 out of memory with no remedy left, 313 out of walltime with no walltime to raise,
and aiida-core's 401 (``max_iterations`` runs) and 402 (a failure no handler knows).
"""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import (
    BaseRestartWorkChain,
    CalcJob,
    ExitCode,
    ProcessHandlerReport,
    process_handler,
    while_,
)

from aiida_clathrate.calculations.mlp import MlpEvaluateCalculation, MlpTrainCalculation
from aiida_clathrate.calculations.sscha import SschaMinimizeCalculation
from aiida_clathrate.workflows.common import failure

__all__ = (
    "ASR_BROKEN_MESSAGE",
    "MlpEvaluateBaseWorkChain",
    "MlpTrainBaseWorkChain",
    "SschaMinimizeBaseWorkChain",
    "minimizer_retry_settings",
)

#: python-sscha's error when a step breaks the acoustic sum rule (script error of exit 320).
ASR_BROKEN_MESSAGE = "does not satisfy the acoustic sum rule"

#: The scheduler's exit codes, the same on every CalcJob (aiida-core): 110 out of memory, 120
#: out of walltime, 140 node failure.
_SCHEDULER = CalcJob.spec().exit_codes

#: How often a job whose results are missing is run again unchanged.
MAX_RESULTS_MISSING_RESTARTS = 1

#: Factor on the learning rates after a diverged training.
LEARNING_RATE_FACTOR = 0.1

#: Share of the walltime a training may spend on its members (the rest: descriptors, kernel).
TRAINING_WALLTIME_SHARE = 0.8


def minimizer_retry_settings(
    exit_status: int | None, exit_message: str | None, settings: dict
) -> dict | None:
    """Settings for one more try of a failed minimisation, or ``None`` when there is no remedy.

    A step in the ``normal`` root representation can break the acoustic sum rule when the
    starting matrix had large imaginary modes made positive (seen for KRbB6C6 at Gamma with a
    Gamma-only k-mesh: lowest -1515 cm^-1; a four times smaller step failed the same way);
    ``sqrt`` steps the square root of the matrix, which stays positive definite, and ran.
    """
    if exit_status != SschaMinimizeCalculation.exit_codes.ERROR_SCRIPT_FAILED.status:
        return None
    if ASR_BROKEN_MESSAGE not in (exit_message or ""):
        return None
    if settings.get("root_representation", "normal") != "normal":
        return None
    return {**settings, "root_representation": "sqrt"}


#: Exit statuses whose remedy is to run the job again unchanged: results missing (300, every
#: CalcJob of the project) and a node failure reported by the scheduler (140).
RERUN_STATUSES = (300, _SCHEDULER.ERROR_SCHEDULER_NODE_FAILURE.status)


class _ScriptRestartWorkChain(BaseRestartWorkChain):
    """What the wrappers share: the CalcJob's inputs in ``namespace``, its outputs, and the
    generic handlers (results missing, out of walltime, a script error without remedy)."""

    _process_class: type[CalcJob]
    _namespace: str

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(cls._process_class, namespace=cls._namespace)
        spec.expose_outputs(cls._process_class)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(cls.run_process, cls.inspect_process),
            cls.results,
        )
        spec.exit_code(310, "ERROR_SCRIPT_FAILED", message="{process} failed: {error}")
        spec.exit_code(
            311,
            "ERROR_RESULTS_MISSING",
            message="{process} ended {count} times without its results (killed?)",
        )
        spec.exit_code(
            312,
            "ERROR_OUT_OF_MEMORY",
            message="{process} ran out of memory and no remedy is left",
        )
        spec.exit_code(
            313,
            "ERROR_OUT_OF_WALLTIME",
            message="{process} ran out of walltime and none was set to raise",
        )

    def setup(self):
        super().setup()
        self.ctx.inputs = AttributeDict(
            self.exposed_inputs(self._process_class, namespace=self._namespace)
        )
        self.ctx.reruns = 0

    def _stop(self, exit_code: ExitCode, node, **message) -> ProcessHandlerReport:
        """Say in the report what failed and stop with ``exit_code``."""
        exit_code = exit_code.format(process=f"{node.process_label}<{node.pk}>", **message)
        self.report(exit_code.message)
        return ProcessHandlerReport(True, exit_code)

    def _restart(self, node, remedy: str) -> ProcessHandlerReport:
        """Say what failed and what changes; the next iteration runs ``self.ctx.inputs``."""
        self.report(f"{failure(node)}; {remedy}")
        return ProcessHandlerReport(True)

    @process_handler(priority=600)
    def handle_rerun(self, node):
        """Results missing or a node failure: the same job again, at most
        :data:`MAX_RESULTS_MISSING_RESTARTS` times."""
        if node.exit_status not in RERUN_STATUSES:
            return None
        self.ctx.reruns += 1
        if self.ctx.reruns > MAX_RESULTS_MISSING_RESTARTS:
            return self._stop(self.exit_codes.ERROR_RESULTS_MISSING, node, count=self.ctx.reruns)
        return self._restart(node, "running it again unchanged")

    @process_handler(priority=100, exit_codes=_SCHEDULER.ERROR_SCHEDULER_OUT_OF_WALLTIME)
    def handle_out_of_walltime(self, node):
        """Twice the walltime (wrappers with a better remedy override :meth:`walltime_remedy`)."""
        options = self.ctx.inputs.setdefault("metadata", {}).setdefault("options", {})
        walltime = options.get("max_wallclock_seconds")
        remedy = self.walltime_remedy(walltime)
        if remedy is not None:
            return self._restart(node, remedy)
        if not walltime:
            return self._stop(self.exit_codes.ERROR_OUT_OF_WALLTIME, node)
        options["max_wallclock_seconds"] = 2 * int(walltime)
        return self._restart(node, f"walltime {walltime} s -> {2 * int(walltime)} s")

    def walltime_remedy(self, walltime_s: int | None) -> str | None:
        """Change ``self.ctx.inputs`` to fit the walltime and say how, or ``None``."""
        return None

    @process_handler(priority=0)
    def handle_script_failure(self, node):
        """A failure that no handler above remedied (the script's error, an unreadable output,
        out of memory with nothing left to drop): stop and keep the message."""
        if node.exit_status == _SCHEDULER.ERROR_SCHEDULER_OUT_OF_MEMORY.status:
            return self._stop(self.exit_codes.ERROR_OUT_OF_MEMORY, node)
        if node.exit_status < 300:
            return None  # aiida-core's own failures: its unhandled-failure policy
        error = " ".join((node.exit_message or f"exit status {node.exit_status}").split())
        return self._stop(self.exit_codes.ERROR_SCRIPT_FAILED, node, error=error)


class SschaMinimizeBaseWorkChain(_ScriptRestartWorkChain):
    """``clathrate.sscha.minimize`` with restarts. Outputs: the CalcJob's, and ``settings`` when
    a handler changed the minimiser settings (a caller keeps them for later populations)."""

    _process_class = SschaMinimizeCalculation
    _namespace = "sscha"

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.output(
            "settings",
            valid_type=orm.Dict,
            required=False,
            help="the minimiser settings of the last run, when a handler changed them",
        )

    def setup(self):
        super().setup()
        self.ctx.settings_changed = False

    @process_handler(
        priority=500, exit_codes=SschaMinimizeCalculation.exit_codes.ERROR_SCRIPT_FAILED
    )
    def handle_acoustic_sum_rule(self, node):
        """A step broke the acoustic sum rule: step the square root of the matrix instead."""
        settings = self.ctx.inputs.get("settings")
        retry = minimizer_retry_settings(
            node.exit_status, node.exit_message, settings.get_dict() if settings else {}
        )
        if retry is None:
            return None
        self.ctx.inputs.settings = orm.Dict(retry)
        self.ctx.settings_changed = True
        return self._restart(
            node, "root_representation 'sqrt' (a step broke the acoustic sum rule)"
        )

    @process_handler(priority=400, exit_codes=_SCHEDULER.ERROR_SCHEDULER_OUT_OF_MEMORY)
    def handle_out_of_memory(self, node):
        """Out of memory in the Hessian: the Hessian without its fourth-order term."""
        compute = self.ctx.inputs.get("compute_hessian")
        v4 = self.ctx.inputs.get("hessian_include_v4")
        if not (compute and compute.value and (v4 is None or v4.value)):
            return None
        self.ctx.inputs.hessian_include_v4 = orm.Bool(False)
        return self._restart(node, "the Hessian again without the v4 term")

    def results(self):
        exit_code = super().results()
        if exit_code is None and self.ctx.settings_changed:
            self.out("settings", self.ctx.children[-1].inputs.settings)
        return exit_code


class MlpTrainBaseWorkChain(_ScriptRestartWorkChain):
    """``clathrate.mlp.train`` with restarts."""

    _process_class = MlpTrainCalculation
    _namespace = "mlp"

    def _parameters(self) -> dict:
        parameters = self.ctx.inputs.get("parameters")
        return parameters.get_dict() if parameters is not None else {}

    @process_handler(
        priority=500, exit_codes=MlpTrainCalculation.exit_codes.ERROR_TRAINING_DIVERGED
    )
    def handle_diverged(self, node):
        """Non-finite loss: both learning rates divided by 10."""
        from aiida_clathrate.mlp.training import TrainingSettings

        parameters = self._parameters()
        defaults = TrainingSettings.from_dict(parameters)
        rates = {
            key: LEARNING_RATE_FACTOR * getattr(defaults, key)
            for key in ("learning_rate", "finetune_learning_rate")
        }
        self.ctx.inputs.parameters = orm.Dict({**parameters, **rates})
        return self._restart(
            node,
            f"learning_rate {defaults.learning_rate:.3g} -> {rates['learning_rate']:.3g}, "
            f"finetune_learning_rate {defaults.finetune_learning_rate:.3g} -> "
            f"{rates['finetune_learning_rate']:.3g}",
        )

    @process_handler(priority=400, exit_codes=_SCHEDULER.ERROR_SCHEDULER_OUT_OF_MEMORY)
    def handle_out_of_memory(self, node):
        """Out of memory: the autograd path, which stores no Jacobians."""
        parameters = self._parameters()
        if parameters.get("jacobian_memory_limit_gb") == 0:
            return None
        self.ctx.inputs.parameters = orm.Dict({**parameters, "jacobian_memory_limit_gb": 0})
        return self._restart(node, "training on the autograd path (no stored Jacobians)")

    def walltime_remedy(self, walltime_s: int | None) -> str | None:
        """A time limit per member so that the committee fits the walltime."""
        if not walltime_s:
            return None
        from aiida_clathrate.mlp.training import TrainingSettings

        parameters = self._parameters()
        settings = TrainingSettings.from_dict(parameters)
        limit = TRAINING_WALLTIME_SHARE * walltime_s / settings.committee_size
        current = settings.max_time_per_member_s
        if current is not None and current <= limit:
            return None
        self.ctx.inputs.parameters = orm.Dict({**parameters, "max_time_per_member_s": limit})
        return f"max_time_per_member_s {current} -> {limit:.0f} to fit {walltime_s} s"


class MlpEvaluateBaseWorkChain(_ScriptRestartWorkChain):
    """``clathrate.mlp.evaluate`` with restarts (the generic handlers only)."""

    _process_class = MlpEvaluateCalculation
    _namespace = "mlp"
