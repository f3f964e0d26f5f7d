"""q2r.x on gathered ph.x outputs: a ``FolderData`` parent may carry ``elph_dir/`` too.

aiida-quantumespresso's ``Q2rCalculation`` copies ``DYN_MAT/`` from a ``FolderData`` parent, but its
``la2F`` branch reads ``elph_dir/`` only from a ``RemoteData``. When the q-points of one phonon
calculation ran as separate ph.x jobs, their dynamical matrices and electron-phonon gamma matrices
are gathered into one ``FolderData`` (``gather_qpoint_outputs``); this calculation copies both.
"""

from __future__ import annotations

from aiida import orm
from aiida_quantumespresso.calculations.namelists import NamelistsCalculation
from aiida_quantumespresso.calculations.ph import PhCalculation
from aiida_quantumespresso.calculations.q2r import Q2rCalculation
from aiida_quantumespresso.workflows.q2r.base import Q2rBaseWorkChain

ELPH_FOLDER = PhCalculation._FOLDER_ELECTRON_PHONON  # noqa: SLF001


class GatheredQ2rCalculation(Q2rCalculation):
    """``Q2rCalculation`` that also copies ``elph_dir/`` of a ``FolderData`` parent for ``la2F``."""

    def prepare_for_submission(self, folder):
        parent = self.inputs.parent_folder
        if not isinstance(parent, orm.FolderData):
            return super().prepare_for_submission(folder)
        calcinfo = NamelistsCalculation.prepare_for_submission(self, folder)
        parameters = self.inputs.parameters.get_dict() if "parameters" in self.inputs else {}
        if parameters.get("INPUT", {}).get("la2f", False):
            if ELPH_FOLDER not in parent.base.repository.list_object_names():
                raise ValueError(
                    f"q2r.x with la2F: parent FolderData<{parent.pk}> has no {ELPH_FOLDER}/ "
                    "(the electron-phonon gamma matrices of ph.x)"
                )
            calcinfo.local_copy_list.append((parent.uuid, ELPH_FOLDER, ELPH_FOLDER))
        return calcinfo


class GatheredQ2rBaseWorkChain(Q2rBaseWorkChain):
    """``Q2rBaseWorkChain`` running :class:`GatheredQ2rCalculation` (same inputs and outputs)."""

    _process_class = GatheredQ2rCalculation

    @classmethod
    def define(cls, spec):
        super().define(spec)
        # ``_attach_outputs`` looks the exposed outputs up by ``_process_class``.
        spec.expose_outputs(GatheredQ2rCalculation)
