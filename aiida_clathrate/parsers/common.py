"""What the parsers share: the console scripts' error line and the scheduler's verdict."""

from __future__ import annotations

from aiida.engine import ExitCode
from aiida.orm import FolderData

__all__ = (
    "MAX_ERROR_CHARS",
    "failed_script_exit_code",
    "read_script_error",
    "scheduler_exit_code",
    "script_error",
)

#: Length of a script error kept in an exit message.
MAX_ERROR_CHARS = 600

#: Start of a console script's error after a MemoryError (``sscha/cli.py``, ``mlp/cli.py``).
OUT_OF_MEMORY_MESSAGE = "out of memory"

#: The file in which AiiDA keeps the job's stderr (retrieved by default).
STDERR_FILE = "_scheduler-stderr.txt"


def script_error(stderr: str, program: str = "aiida-clathrate-sscha") -> str:
    """The console script's error from its stderr, on one line ("" when there is none).

    Multi-line messages (python-sscha's have a blank first line) are kept whole.
    """
    marker = f"{program}: error:"
    if marker not in stderr:
        return ""
    return " ".join(stderr.rsplit(marker, 1)[1].split())[:MAX_ERROR_CHARS]


def read_script_error(retrieved: FolderData, program: str) -> str:
    """:func:`script_error` of the job's retrieved stderr ("" without one)."""
    try:
        stderr = retrieved.base.repository.get_object_content(STDERR_FILE)
    except (FileNotFoundError, OSError):
        return ""
    return script_error(stderr, program)


def failed_script_exit_code(parser, error: str) -> ExitCode | None:
    """The exit code of a script error: aiida-core's 110 (out of memory, also what a scheduler
    reports) for a MemoryError, else ``ERROR_SCRIPT_FAILED`` with the message; ``None`` for no
    error."""
    if not error:
        return None
    if error.startswith(OUT_OF_MEMORY_MESSAGE):
        return parser.exit_codes.ERROR_SCHEDULER_OUT_OF_MEMORY
    return parser.exit_codes.ERROR_SCRIPT_FAILED.format(error=error)


def scheduler_exit_code(node) -> ExitCode | None:
    """The exit code the scheduler's output parser set on ``node`` (out of memory 110, out of
    walltime 120, ...), so that a parser that finds no results hands that verdict on instead of
    hiding it behind "missing files"; ``None`` when the scheduler reported nothing."""
    status = node.exit_status
    if status is None or status == 0:
        return None
    return ExitCode(status, node.exit_message or "")
