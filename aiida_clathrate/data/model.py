"""``MlpModelData``: a trained MLP committee file with its hyperparameters as attributes."""

from __future__ import annotations

import pathlib
import tempfile

from aiida.orm import SinglefileData

__all__ = ("MlpModelData",)


class MlpModelData(SinglefileData):
    """The model file written by ``aiida-clathrate-mlp train`` (validated when the node is made).

    Attributes: ``elements``, ``committee_size``, ``descriptor``, ``member_descriptors`` (one
    per member), ``network``, ``kernel`` (descriptor and weight of the kernel member, or
    ``None``), ``dtype``, ``format_version``, ``package_version`` and, when the
    file has them, training ``metrics`` (with the ``committee_spread_reference`` of committees).
    """

    DEFAULT_FILENAME = "model.pt"

    def __init__(self, file=None, filename: str | None = None, **kwargs) -> None:
        super().__init__(file, filename=filename or self.DEFAULT_FILENAME, **kwargs)
        if file is not None:
            self._set_attributes_from_file()

    def _set_attributes_from_file(self) -> None:
        potential = self.load_potential()
        payload = potential.to_payload()
        attributes = self.base.attributes
        attributes.set("elements", list(potential.elements))
        attributes.set("committee_size", len(potential.members))
        attributes.set("descriptor", payload["descriptor"])
        attributes.set("member_descriptors", payload["member_descriptors"])
        attributes.set("network", payload["network"])
        kernel = payload["kernel"]
        attributes.set(
            "kernel",
            kernel and {"descriptor": kernel["descriptor"], "weight": kernel["weight"]},
        )
        attributes.set("dtype", payload["dtype"])
        attributes.set("format_version", payload["format_version"])
        attributes.set("package_version", payload["package_version"])
        metrics = potential.metadata.get("metrics")
        if metrics:
            attributes.set("metrics", metrics)

    @property
    def spread_reference(self) -> dict | None:
        """The committee's force spread on its training configurations (``None`` if absent)."""
        return self.base.attributes.get("metrics", {}).get("committee_spread_reference")

    def load_potential(self):
        """The :class:`~aiida_clathrate.mlp.CommitteePotential` in this node."""
        from aiida_clathrate.mlp import load_potential

        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / self.DEFAULT_FILENAME
            with self.open(mode="rb") as handle:
                path.write_bytes(handle.read())
            return load_potential(path)

    def calculator(self, **kwargs):
        """An ASE :class:`~aiida_clathrate.mlp.MlpCalculator` for this model."""
        from aiida_clathrate.mlp import MlpCalculator

        return MlpCalculator(self.load_potential(), **kwargs)
