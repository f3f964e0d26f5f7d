"""``PwSeriesWorkChain`` (``clathrate.pw.series``): pw.x on several structures, one after another.

The SSCHA's DFT engine runs ``max_concurrent_dft`` series side by side, each on its share of a
population's configurations. A series starts its next pw.x as soon as its previous one has ended,
so the daemon's turn-around after a job (retrieval, parsing, the next submission) overlaps the
other series' running jobs. Batches of ``max_concurrent_dft`` jobs that all had to end before the
next batch started left every core idle for about 5 s per batch in ``make demo``
(docs/performance.md).

A failed pw.x is reported and the series goes on; it then ends with exit 401. The caller reads each
``PwBaseWorkChain`` through its call link label (the key of its structure).
"""

from __future__ import annotations

import re

from aiida import orm
from aiida.common.links import LinkType
from aiida.engine import ToContext, WorkChain, while_
from aiida.plugins import WorkflowFactory

from .common import failure

PwBaseWorkChain = WorkflowFactory("quantumespresso.pw.base")


def natural_order(labels) -> list[str]:
    """Labels sorted with their digit runs as numbers (``dft_1_10`` after ``dft_1_9``)."""
    return sorted(
        labels, key=lambda label: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", label)]
    )


class PwSeriesWorkChain(WorkChain):
    """One ``PwBaseWorkChain`` per structure, one at a time, in the natural order of the keys."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(
            PwBaseWorkChain,
            namespace="pw_base",
            exclude=("pw.structure",),
            namespace_options={"help": "Inputs of every PwBaseWorkChain, without the structure."},
        )
        spec.input_namespace(
            "structures",
            valid_type=orm.StructureData,
            dynamic=True,
            required=True,
            help="The structures; each key is the call link label of its PwBaseWorkChain.",
        )
        spec.inputs["structures"].validator = cls._validate_structures
        spec.outline(
            cls.setup,
            while_(cls.has_next)(cls.run_next, cls.inspect_last),
            cls.results,
        )
        spec.exit_code(
            401,
            "ERROR_SUB_PROCESS_FAILED",
            message="{count} of {total} pw.x runs failed: {labels}",
        )

    @staticmethod
    def _validate_structures(value, _ctx=None):
        if not value:
            return "no structures given"
        return None

    def setup(self):
        self.ctx.labels = natural_order(self.inputs.structures.keys())
        self.ctx.next = 0
        self.ctx.failed = []

    def has_next(self) -> bool:
        return self.ctx.next < len(self.ctx.labels)

    def run_next(self):
        label = self.ctx.labels[self.ctx.next]
        self.ctx.next += 1
        self.ctx.last_label = label
        inputs = self.exposed_inputs(PwBaseWorkChain, namespace="pw_base")
        inputs["pw"]["structure"] = self.inputs.structures[label]
        inputs["metadata"] = {"call_link_label": label}
        return ToContext(last=self.submit(PwBaseWorkChain, **inputs))

    def inspect_last(self):
        node = self.ctx.last
        if not node.is_finished_ok:
            self.ctx.failed.append(self.ctx.last_label)
            self.report(failure(node))

    def results(self):
        total = len(self.ctx.labels)
        if self.ctx.failed:
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED.format(
                count=len(self.ctx.failed), total=total, labels=", ".join(self.ctx.failed)
            )
        self.report(f"{total} pw.x finished")
        return None


def series_runs(series_nodes) -> dict[str, orm.WorkflowNode]:
    """The ``PwBaseWorkChain`` nodes that ``PwSeriesWorkChain`` nodes called, by call link label."""
    return {
        link.link_label: link.node
        for series in series_nodes
        for link in series.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()
    }
