"""Port validators shared by the CalcJobs (no heavy import at plugin load)."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def settings_validator(settings_class_path: str, what: str) -> Callable:
    """A validator accepting a ``Dict`` that ``<settings class>.from_dict`` accepts.

    ``settings_class_path`` is ``"package.module.Class"``, imported on first use (the MLP
    settings pull in torch), and ``what`` names the settings in the error message.
    """
    module_name, _, class_name = settings_class_path.rpartition(".")

    def validate(value, _ctx=None) -> str | None:
        if value is None:
            return None
        settings_class = getattr(importlib.import_module(module_name), class_name)
        try:
            settings_class.from_dict(value.get_dict())
        except (TypeError, ValueError) as exc:
            return f"invalid {what}: {exc}"
        return None

    return validate
