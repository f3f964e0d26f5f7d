"""AiiDA overhead of a finished workflow: the share of its wall time with no CalcJob running.

Run:  .venv/bin/python benchmarks/aiida_overhead.py PK [-p PROFILE] [--depth 2] [--json FILE]

PK is a terminated top-level workflow, e.g. the ClathrateSuperconductorWorkChain of `make demo`
(`verdi process list -a -p 1`). The profile is `-p/--profile`, else the default profile of the
AiiDA configuration under AIIDA_PATH.

* wall time: ctime of the workflow node to the latest modification (mtime) of the node or of any
  process it called (the workflow is sealed when it terminates);
* running time of a CalcJob: from its remote working directory (local transports only; the
  folders stay while `clean_workdir` is off). Start = creation of `_scheduler-stdout.txt` /
  `_scheduler-stderr.txt` (the submit script redirects both before the executable starts): file
  birth time (statx, via `stat`), else the mtime of an empty one, else the earliest ctime.
  End = the latest mtime of any file or folder in the working directory (symlinks not followed,
  AiiDA's upload files and anything older than the start left out), capped at the creation of
  the `retrieved` node.
  Quantum ESPRESSO's own header/footer ("Program PWSCF v.6.7 starts on ...", "This run was
  terminated on: ...", local time, 1 s resolution) are read for the cross-check, and are the
  fallback when the folder is gone; the last fallback is the node times (creation of
  `remote_folder` to creation of `retrieved`, an upper bound that includes the polling delay);
* overhead = 1 - (union of the CalcJob running intervals) / wall, split into the time before the
  first job starts, the gaps between jobs (with the calcfunctions running in them) and the time
  after the last job ends. Cached CalcJobs did not run and are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aiida import load_profile, orm
from aiida.common.links import LinkType

SCHEDULER_FILES = ("_scheduler-stdout.txt", "_scheduler-stderr.txt")
UPLOAD_NAMES = {"_aiidasubmit.sh", ".aiida"}
GOAL_SHARE = 0.10
QE_START = re.compile(
    r"Program\s+(\S+).*?starts on\s+(\d{1,2})\s*([A-Za-z]{3})\s*(\d{4})\s+at\s+"
    r"(\d{1,2})\s*:\s*(\d{1,2})\s*:\s*(\d{1,2})"
)
QE_TIMES = re.compile(r"^\s*(\w+)\s*:\s*([\dhms. ]+)CPU\s+([\dhms. ]+)WALL\s*$", re.MULTILINE)
QE_END = re.compile(
    r"This run was terminated on:\s*(\d{1,2})\s*:\s*(\d{1,2})\s*:\s*(\d{1,2})\s+"
    r"(\d{1,2})\s*([A-Za-z]{3})\s*(\d{4})"
)


@dataclass
class Job:
    """One CalcJob of the workflow and its running interval (epoch seconds)."""

    pk: int
    process_label: str
    link_label: str
    executable: str
    caller_pk: int | None
    exit_status: int | None
    ctime_s: float
    mtime_s: float
    start_s: float | None = None
    end_s: float | None = None
    source: str = "none"
    file_start_s: float | None = None
    file_end_s: float | None = None
    qe_program: str | None = None
    qe_start_s: float | None = None
    qe_end_s: float | None = None
    qe_cpu_s: float | None = None
    qe_wall_s: float | None = None
    end_capped: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def running_s(self) -> float:
        """Running time of the job, 0 without an interval."""
        if self.start_s is None or self.end_s is None:
            return 0.0
        return max(0.0, self.end_s - self.start_s)


def epoch_s(moment: datetime) -> float:
    """Epoch seconds of an aware datetime."""
    return moment.timestamp()


def utc_text(moment_s: float) -> str:
    """Epoch seconds as 'YYYY-mm-dd HH:MM:SS UTC'."""
    return datetime.fromtimestamp(moment_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def hms(duration_s: float) -> str:
    """Seconds as h:mm:ss."""
    seconds = round(duration_s)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def birth_times_s(paths: list[Path]) -> dict[Path, float]:
    """File birth times (statx through GNU `stat`) of the paths that have one."""
    if not paths:
        return {}
    try:
        result = subprocess.run(
            ["stat", "--format=%.9W", *map(str, paths)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    births: dict[Path, float] = {}
    for path, line in zip(paths, result.stdout.splitlines(), strict=False):
        try:
            value = float(line.strip())
        except ValueError:
            continue
        if value > 0:
            births[path] = value
    return births


def folder_interval_s(workdir: Path, upload_names: set[str]) -> tuple[float, float] | None:
    """(start, end) of the job that ran in `workdir` from its files, None if not derivable."""
    present = [workdir / name for name in SCHEDULER_FILES if (workdir / name).is_file()]
    if not present:
        return None
    births = birth_times_s(present)
    candidates = list(births.values())
    for path in present:
        info = path.stat()
        if info.st_size == 0:
            candidates.append(info.st_mtime)
    if not candidates:
        candidates = [min(path.stat().st_ctime for path in present)]
    start_s = min(candidates)
    end_s = start_s
    for root, dirs, files in os.walk(workdir, followlinks=False):
        top = Path(root) == workdir
        if top:
            dirs[:] = [name for name in dirs if name not in upload_names]
        names = list(dirs) + [name for name in files if not (top and name in upload_names)]
        for name in names:
            info = os.lstat(os.path.join(root, name))
            if stat.S_ISLNK(info.st_mode):
                continue
            end_s = max(end_s, info.st_mtime)
    end_s = max(end_s, os.lstat(workdir).st_mtime)
    return start_s, end_s


def qe_interval_s(text: str) -> tuple[str, float | None, float | None] | None:
    """(program, start, end) from a Quantum ESPRESSO stdout (local time), None if not QE."""
    head = QE_START.search(text)
    if head is None:
        return None
    program = head.group(1)
    day, month, year, hour, minute, second = head.groups()[1:]
    start = datetime.strptime(f"{day} {month} {year} {hour}:{minute}:{second}", "%d %b %Y %H:%M:%S")
    tails = QE_END.findall(text)
    end_s = None
    if tails:
        hour, minute, second, day, month, year = tails[-1]
        end = datetime.strptime(
            f"{day} {month} {year} {hour}:{minute}:{second}", "%d %b %Y %H:%M:%S"
        )
        end_s = end.timestamp()  # naive = local time of this machine
    return program, start.timestamp(), end_s


def qe_duration_s(text: str) -> float:
    """QE's '1h 2m 3.4s' / '2m52.13s' / '4.52s' as seconds."""
    factors = {"h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(value) * factors[unit] for value, unit in re.findall(r"([\d.]+)([hms])", text))


def qe_cpu_wall_s(text: str, program: str) -> tuple[float, float] | None:
    """(CPU, WALL) of the program's last timing line ('PWSCF : 3.98s CPU 4.87s WALL')."""
    lines = [match for match in QE_TIMES.findall(text) if match[0].upper() == program.upper()]
    if not lines:
        return None
    return qe_duration_s(lines[-1][1]), qe_duration_s(lines[-1][2])


def read_stdout(node: orm.CalcJobNode, workdir: Path | None) -> str | None:
    """The job's main output file, from the working directory or else the `retrieved` folder."""
    name = node.get_option("output_filename")
    if not name:
        return None
    if workdir is not None and (workdir / name).is_file():
        return (workdir / name).read_text(errors="replace")
    retrieved = node.base.links.get_outgoing(link_label_filter="retrieved").all_nodes()
    if retrieved:
        try:
            return retrieved[0].base.repository.get_object_content(name)
        except (FileNotFoundError, OSError):
            return None
    return None


def output_ctime_s(node: orm.ProcessNode, label: str) -> float | None:
    """Creation time of the output node `label` of `node`, None if absent."""
    nodes = node.base.links.get_outgoing(
        link_type=LinkType.CREATE, link_label_filter=label
    ).all_nodes()
    return epoch_s(nodes[0].ctime) if nodes else None


def link_label(node: orm.ProcessNode) -> str:
    """The CALL link label under which the caller launched `node`."""
    links = node.base.links.get_incoming(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all()
    return links[0].link_label if links else ""


def executable_name(node: orm.CalcJobNode) -> str:
    """Basename of the code's executable, else the code label, else the process label."""
    try:
        code = node.inputs.code
    except (AttributeError, KeyError):
        code = None
    if code is not None:
        path = getattr(code, "filepath_executable", None)
        if path:
            return Path(str(path)).name
        return code.label
    return node.process_label or "?"


def measure_job(node: orm.CalcJobNode, use_workdirs: bool = True) -> Job:
    """Running interval of one CalcJob: files, else QE stdout, else node times."""
    caller = node.caller
    job = Job(
        pk=node.pk,
        process_label=node.process_label or "?",
        link_label=link_label(node),
        executable=executable_name(node),
        caller_pk=caller.pk if caller is not None else None,
        exit_status=node.exit_status,
        ctime_s=epoch_s(node.ctime),
        mtime_s=epoch_s(node.mtime),
    )
    retrieved_s = output_ctime_s(node, "retrieved")
    workdir_text = node.get_remote_workdir()
    workdir = Path(workdir_text) if workdir_text else None
    local = node.computer is not None and node.computer.transport_type == "core.local"
    if workdir is not None and not (use_workdirs and local and workdir.is_dir()):
        job.notes.append("working directory not read" if local else "remote computer")
        workdir = None
    if workdir is not None:
        upload = set(UPLOAD_NAMES)
        for option in ("input_filename", "submit_script_filename"):
            name = node.get_option(option)
            if name:
                upload.add(name)
        interval = folder_interval_s(workdir, upload)
        if interval is not None:
            job.file_start_s, job.file_end_s = interval
    text = read_stdout(node, workdir)
    parsed = qe_interval_s(text) if text else None
    if parsed is not None:
        job.qe_program, job.qe_start_s, job.qe_end_s = parsed
        timing = qe_cpu_wall_s(text, job.qe_program)
        if timing is not None and job.qe_end_s is not None:
            job.qe_cpu_s, job.qe_wall_s = timing
    if job.file_start_s is not None and job.file_end_s is not None:
        job.start_s, job.end_s, job.source = job.file_start_s, job.file_end_s, "files"
    elif job.qe_start_s is not None and job.qe_end_s is not None:
        job.start_s, job.end_s, job.source = job.qe_start_s, job.qe_end_s, "qe-stdout"
    else:
        remote_s = output_ctime_s(node, "remote_folder")
        job.start_s = remote_s if remote_s is not None else job.ctime_s
        job.end_s = retrieved_s if retrieved_s is not None else job.mtime_s
        job.source = "node-times"
    if retrieved_s is not None and job.end_s is not None and job.end_s > retrieved_s:
        job.end_s, job.end_capped = retrieved_s, True
    return job


def union(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merged, sorted union of closed intervals."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def total_s(intervals: list[tuple[float, float]]) -> float:
    """Summed length of disjoint intervals."""
    return sum(end - start for start, end in intervals)


def clip(
    intervals: list[tuple[float, float]], low: float, high: float
) -> list[tuple[float, float]]:
    """Intervals cut to [low, high], empty ones dropped."""
    cut = [(max(start, low), min(end, high)) for start, end in intervals]
    return [(start, end) for start, end in cut if end > start]


def overlap_s(intervals: list[tuple[float, float]], low: float, high: float) -> float:
    """Length of the union of `intervals` inside [low, high]."""
    return total_s(union(clip(intervals, low, high)))


def describe(node: orm.ProcessNode) -> str:
    """'Label<PK>' with the call link label."""
    label = link_label(node)
    return f"{node.process_label}<{node.pk}>" + (f" ({label})" if label else "")


def spread(values: list[float]) -> dict[str, float | None]:
    """Median, min, max of a list (None when empty)."""
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def subtree(node: orm.ProcessNode) -> list[orm.ProcessNode]:
    """`node` and all processes it called, recursively."""
    return [node, *node.called_descendants]


def step_rows(
    node: orm.ProcessNode, jobs: dict[int, Job], depth: int, max_depth: int, rows: list[dict]
) -> None:
    """Rows of the per-step table: called processes down to `max_depth`, alike siblings grouped."""
    if depth > max_depth:
        return
    groups: dict[tuple[str, str], list[orm.ProcessNode]] = defaultdict(list)
    for child in sorted(node.called, key=lambda child: child.ctime):
        label = link_label(child)
        name = "" if label == "CALL" else re.sub(r"_?\d+$", "", label)  # CALL: a process function
        groups[(child.process_label or "?", name)].append(child)
    for (process_label, name), children in groups.items():
        nodes = [item for child in children for item in subtree(child)]
        start_s = min(epoch_s(child.ctime) for child in children)
        end_s = max(epoch_s(item.mtime) for item in nodes)
        intervals = [
            (jobs[item.pk].start_s, jobs[item.pk].end_s)
            for item in nodes
            if item.pk in jobs and jobs[item.pk].source != "none"
        ]
        running_s = overlap_s(intervals, start_s, end_s)
        wall_s = max(end_s - start_s, 0.0)
        label = f"{process_label}<{children[0].pk}>" if len(children) == 1 else process_label
        rows.append(
            {
                "depth": depth,
                "step": (f"{name}: " if name else "")
                + label
                + (f" x{len(children)}" if len(children) > 1 else ""),
                "pks": [child.pk for child in children],
                "wall_s": wall_s,
                "calcjob_union_s": running_s,
                "n_calcjobs": sum(1 for item in nodes if item.pk in jobs),
                "overhead_share": 1 - running_s / wall_s if wall_s > 0 else None,
            }
        )
        if len(children) == 1 and isinstance(children[0], orm.WorkflowNode):
            step_rows(children[0], jobs, depth + 1, max_depth, rows)


def analyse(top: orm.ProcessNode, max_depth: int, use_workdirs: bool = True) -> dict[str, Any]:
    """All figures for the workflow `top`."""
    descendants = top.called_descendants
    nodes = [top, *descendants]
    calcjobs = [node for node in descendants if isinstance(node, orm.CalcJobNode)]
    cached = [node for node in calcjobs if node.base.caching.is_created_from_cache]
    calcfunctions = [node for node in descendants if isinstance(node, orm.CalcFunctionNode)]
    workflows = [node for node in nodes if isinstance(node, orm.WorkflowNode)]
    jobs = {node.pk: measure_job(node, use_workdirs) for node in calcjobs if node not in cached}

    start_s = epoch_s(top.ctime)
    last = max(nodes, key=lambda node: node.mtime)
    end_s = max([epoch_s(last.mtime), *(job.end_s or start_s for job in jobs.values())])
    wall_s = end_s - start_s
    intervals = [(job.start_s, job.end_s) for job in jobs.values() if job.source != "none"]
    merged = union(clip(intervals, start_s, end_s))
    running_s = total_s(merged)

    function_intervals = [(epoch_s(node.ctime), epoch_s(node.mtime)) for node in calcfunctions]
    by_start = sorted(jobs.values(), key=lambda job: job.start_s or 0.0)
    by_end = sorted(jobs.values(), key=lambda job: job.end_s or 0.0)

    def job_text(job: Job | None) -> str:
        if job is None:
            return "-"
        label = f" ({job.link_label})" if job.link_label else ""
        caller = (
            f" in {orm.load_node(job.caller_pk).process_label}<{job.caller_pk}>"
            if job.caller_pk
            else ""
        )
        return f"{job.executable} {job.process_label}<{job.pk}>{label}{caller}"

    def functions_in(low: float, high: float) -> list[str]:
        return [
            f"{node.process_label}<{node.pk}> {min(epoch_s(node.mtime), high) - max(epoch_s(node.ctime), low):.1f} s"
            for node in calcfunctions
            if epoch_s(node.ctime) < high and epoch_s(node.mtime) > low
        ]

    step_of: dict[int, str] = {}
    for child in top.called:
        label = link_label(child)
        name = child.process_label if label in ("", "CALL") else label
        step_of.update({item.pk: name or "?" for item in subtree(child)})

    def phase(first: Job | None, second: Job | None) -> str:
        one = step_of.get(first.pk, "?") if first else "start"
        two = step_of.get(second.pk, "?") if second else "end"
        return one if one == two else f"{one} -> {two}"

    gaps = []
    by_phase_s: dict[str, float] = defaultdict(float)
    if merged:
        first_job = next(job for job in by_start if job.start_s is not None)
        by_phase_s[phase(None, first_job)] += merged[0][0] - start_s
    for (_, previous_end), (next_start, _) in zip(merged, merged[1:], strict=False):
        before = [
            job for job in by_end if job.end_s is not None and abs(job.end_s - previous_end) < 1e-6
        ]
        after = [
            job
            for job in by_start
            if job.start_s is not None and abs(job.start_s - next_start) < 1e-6
        ]
        by_phase_s[phase(before[0] if before else None, after[0] if after else None)] += (
            next_start - previous_end
        )
        gaps.append(
            {
                "gap_s": next_start - previous_end,
                "from_utc": utc_text(previous_end),
                "after_job": job_text(before[0] if before else None),
                "before_job": job_text(after[0] if after else None),
                "calcfunctions_s": overlap_s(function_intervals, previous_end, next_start),
                "calcfunctions": functions_in(previous_end, next_start),
            }
        )
    if merged:
        last_job = [job for job in by_end if job.end_s is not None][-1]
        by_phase_s[phase(last_job, None)] += end_s - merged[-1][1]
    gaps.sort(key=lambda gap: gap["gap_s"], reverse=True)
    before_first_s = merged[0][0] - start_s if merged else wall_s
    after_last_s = end_s - merged[-1][1] if merged else 0.0
    gaps_s = sum(gap["gap_s"] for gap in gaps)
    idle = (
        [(start_s, merged[0][0])]
        + [(a[1], b[0]) for a, b in zip(merged, merged[1:], strict=False)]
        + [(merged[-1][1], end_s)]
        if merged
        else [(start_s, end_s)]
    )
    functions_outside_s = sum(overlap_s(function_intervals, low, high) for low, high in idle)

    per_type: dict[str, dict[str, Any]] = {}
    for key in sorted({f"{job.executable} ({job.process_label})" for job in jobs.values()}):
        members = [job for job in jobs.values() if f"{job.executable} ({job.process_label})" == key]
        member_intervals = [(job.start_s, job.end_s) for job in members if job.source != "none"]
        timed = [job for job in members if job.qe_wall_s]
        per_type[key] = {
            "n": len(members),
            "running_sum_s": sum(job.running_s for job in members),
            "running_union_s": total_s(union(member_intervals)),
            "qe_cpu_over_wall": (
                sum(job.qe_cpu_s for job in timed) / sum(job.qe_wall_s for job in timed)
                if timed
                else None
            ),
        }

    both = [
        job
        for job in jobs.values()
        if job.file_start_s is not None and job.qe_start_s is not None and job.qe_end_s is not None
    ]
    both_pks = {job.pk for job in both}
    start_deltas = [job.qe_start_s - job.file_start_s for job in both]
    end_deltas = [job.file_end_s - job.qe_end_s for job in both]
    wall_deltas = [
        job.file_end_s - job.file_start_s - job.qe_wall_s for job in both if job.qe_wall_s
    ]
    qe_intervals = [
        (job.qe_start_s, job.qe_end_s) if job.pk in both_pks else (job.start_s, job.end_s)
        for job in jobs.values()
        if job.source != "none"
    ]
    qe_union_s = total_s(union(clip(qe_intervals, start_s, end_s)))
    pre_s = [job.start_s - job.ctime_s for job in jobs.values() if job.start_s is not None]
    post_s = [job.mtime_s - job.end_s for job in jobs.values() if job.end_s is not None]

    computers = {node.computer.label: node.computer for node in calcjobs if node.computer}
    polling = {}
    for label, computer in computers.items():
        try:
            safe_s = computer.get_authinfo(orm.User.collection.get_default()).get_auth_params()
            safe_s = safe_s.get("safe_interval")
        except Exception:  # noqa: BLE001 - informative only
            safe_s = None
        polling[label] = {
            "minimum_job_poll_interval_s": computer.get_minimum_job_poll_interval(),
            "transport_safe_interval_s": safe_s,
        }

    rows: list[dict] = []
    step_rows(top, jobs, 1, max_depth, rows)
    return {
        "workflow": {
            "pk": top.pk,
            "process_label": top.process_label,
            "process_state": top.process_state.value if top.process_state else None,
            "exit_status": top.exit_status,
            "ctime_utc": utc_text(start_s),
            "end_utc": utc_text(end_s),
            "end_from": f"{last.process_label}<{last.pk}> mtime",
        },
        "wall_s": wall_s,
        "calcjob_union_s": running_s,
        "overhead_s": wall_s - running_s,
        "overhead_share": 1 - running_s / wall_s if wall_s > 0 else None,
        "goal_share": GOAL_SHARE,
        "before_first_job_s": before_first_s,
        "gaps_between_jobs_s": gaps_s,
        "n_gaps": len(gaps),
        "after_last_job_s": after_last_s,
        "calcfunctions_outside_jobs_s": functions_outside_s,
        "overhead_by_phase_s": dict(by_phase_s),
        "counts": {
            "calcjobs": len(calcjobs),
            "calcjobs_cached": len(cached),
            "calcfunctions": len(calcfunctions),
            "workflows": len(workflows),
        },
        "sources": {
            name: sum(1 for job in jobs.values() if job.source == name)
            for name in ("files", "qe-stdout", "node-times", "none")
        },
        "ends_capped_at_retrieval": sum(1 for job in jobs.values() if job.end_capped),
        "calcjob_latency_s": {
            "ctime_to_start": {**spread(pre_s), "sum": sum(pre_s)},
            "end_to_terminated": {**spread(post_s), "sum": sum(post_s)},
        },
        "polling": polling,
        "qe_cross_check": {
            "n_jobs": len(both),
            "qe_start_minus_file_start_s": spread(start_deltas),
            "file_end_minus_qe_end_s": spread(end_deltas),
            "calcjob_union_with_qe_times_s": qe_union_s,
            "file_duration_minus_qe_wall_s": spread(wall_deltas),
            "n_with_qe_wall": len(wall_deltas),
            "n_start_within_1s": sum(1 for delta in start_deltas if abs(delta) <= 1.0),
            "n_end_within_1s": sum(1 for delta in end_deltas if abs(delta) <= 1.0),
        },
        "top_gaps": gaps[:10],
        "per_type": per_type,
        "steps": rows,
        "jobs": [asdict(job) | {"running_s": job.running_s} for job in jobs.values()],
    }


def fmt(value: float | None, unit: str = "s") -> str:
    """A number with one decimal, '-' for None."""
    return "-" if value is None else f"{value:.1f} {unit}".rstrip()


def report(figures: dict[str, Any]) -> None:
    """Print the figures."""
    flow = figures["workflow"]
    wall_s = figures["wall_s"]
    share = figures["overhead_share"]
    print(
        f"{flow['process_label']}<{flow['pk']}> ({flow['process_state']} [{flow['exit_status']}])"
    )
    print(f"  from {flow['ctime_utc']} (ctime) to {flow['end_utc']} ({flow['end_from']})")
    print(f"  wall time                      {wall_s:9.1f} s  ({hms(wall_s)})")
    print(
        f"  CalcJobs running (union)       {figures['calcjob_union_s']:9.1f} s  "
        f"({hms(figures['calcjob_union_s'])})"
    )
    verdict = "within" if share is not None and share <= GOAL_SHARE else "above"
    share_text = "-" if share is None else f"{100 * share:.1f} %"
    print(
        f"  AiiDA overhead                 {figures['overhead_s']:9.1f} s  = {share_text} "
        f"of the wall time ({verdict} the goal of {100 * GOAL_SHARE:.0f} %)"
    )
    print(f"    before the first job starts  {figures['before_first_job_s']:9.1f} s")
    print(
        f"    gaps between jobs ({figures['n_gaps']:3d})     {figures['gaps_between_jobs_s']:9.1f} s"
    )
    print(f"    after the last job ends      {figures['after_last_job_s']:9.1f} s")
    print(
        f"    of all that, calcfunctions running (Python in the daemon) "
        f"{figures['calcfunctions_outside_jobs_s']:.1f} s"
    )
    counts = figures["counts"]
    print(
        f"  processes: {counts['calcjobs']} CalcJobs ({counts['calcjobs_cached']} from the cache, "
        f"left out), {counts['calcfunctions']} calcfunctions, {counts['workflows']} workflows "
        f"(this one included)"
    )
    sources = figures["sources"]
    print(
        f"  job start/end from: working-directory files {sources['files']}, QE stdout "
        f"{sources['qe-stdout']}, node times (upper bound) {sources['node-times']}; ends capped "
        f"at the retrieval: {figures['ends_capped_at_retrieval']}"
    )
    if sources["qe-stdout"] or sources["node-times"]:
        print(
            f"  NOTE: {sources['qe-stdout'] + sources['node-times']} jobs without a readable working "
            "directory (gone, on a remote computer or --no-workdirs) use the fallbacks above"
        )
    for label, values in figures["polling"].items():
        print(
            f"  computer {label}: minimum job poll interval "
            f"{values['minimum_job_poll_interval_s']} s, transport safe interval "
            f"{values['transport_safe_interval_s']} s"
        )
    latency = figures["calcjob_latency_s"]
    for key, text in (
        ("ctime_to_start", "CalcJob node created -> job starts"),
        ("end_to_terminated", "job ends -> CalcJob terminated"),
    ):
        values = latency[key]
        print(
            f"  {text}: median {fmt(values['median'])}, max {fmt(values['max'])}, "
            f"summed over jobs {fmt(values['sum'])}"
        )

    check = figures["qe_cross_check"]
    if check["n_jobs"]:
        start, end = check["qe_start_minus_file_start_s"], check["file_end_minus_qe_end_s"]
        print(
            f"\nQE cross-check ({check['n_jobs']} jobs with both sources; QE prints whole seconds, "
            "so -1 s < QE start - file start and file end - QE end < +1 s are expected)"
        )
        print(
            f"  QE 'starts on' - file start:      median {start['median']:+.2f} s, "
            f"range [{start['min']:+.2f}, {start['max']:+.2f}] s, within 1 s: "
            f"{check['n_start_within_1s']}/{check['n_jobs']}"
        )
        print(
            f"  file end - QE 'terminated on':    median {end['median']:+.2f} s, "
            f"range [{end['min']:+.2f}, {end['max']:+.2f}] s, within 1 s: "
            f"{check['n_end_within_1s']}/{check['n_jobs']}"
        )
        if check["n_with_qe_wall"]:
            wall = check["file_duration_minus_qe_wall_s"]
            print(
                f"  file duration - QE's own WALL:    median {wall['median']:+.2f} s, "
                f"range [{wall['min']:+.2f}, {wall['max']:+.2f}] s ({check['n_with_qe_wall']} jobs; "
                "MPI start-up and shut-down)"
            )
        union_qe = check["calcjob_union_with_qe_times_s"]
        print(
            f"  union with QE's own times: {union_qe:.1f} s (files: {figures['calcjob_union_s']:.1f}"
            f" s), overhead {100 * (1 - union_qe / wall_s):.1f} %"
        )

    print("\nOverhead by phase (chronological; 'a -> b': between the top-level steps a and b)")
    for name, value in figures["overhead_by_phase_s"].items():
        print(f"  {name:<52} {value:7.1f} s")

    print("\nLargest gaps with no CalcJob running")
    print(f"  {'gap_s':>7}  {'from':<23}  after -> before  [calcfunctions in the gap]")
    for gap in figures["top_gaps"]:
        functions = f"  [{'; '.join(gap['calcfunctions'])}]" if gap["calcfunctions"] else ""
        print(f"  {gap['gap_s']:7.1f}  {gap['from_utc']:<23}  {gap['after_job']}")
        print(f"  {'':7}  {'':<23}  -> {gap['before_job']}{functions}")

    print("\nRunning time per executable (process)")
    print(
        f"  {'executable (process)':<52} {'n':>4} {'sum_s':>9} {'union_s':>9} {'QE CPU/WALL':>11}"
    )
    for key, values in sorted(
        figures["per_type"].items(), key=lambda item: -item[1]["running_sum_s"]
    ):
        ratio = values["qe_cpu_over_wall"]
        print(
            f"  {key:<52} {values['n']:4d} {values['running_sum_s']:9.1f} "
            f"{values['running_union_s']:9.1f} {'-' if ratio is None else f'{ratio:.2f}':>11}"
        )
    print("  (QE CPU/WALL: CPU over wall time in QE's own timing line, per MPI process;")
    print("   well below 1 means the cores were shared with other work)")

    print("\nSteps (wall = first ctime to last mtime in the step; jobs = CalcJob running union)")
    print(f"  {'step':<62} {'wall_s':>8} {'jobs_s':>8} {'n_jobs':>6} {'overhead':>8}")
    for row in figures["steps"]:
        name = "  " * (row["depth"] - 1) + row["step"]
        share_text = (
            "-" if row["overhead_share"] is None else f"{100 * row['overhead_share']:.1f} %"
        )
        print(
            f"  {name:<62} {row['wall_s']:8.1f} {row['calcjob_union_s']:8.1f} "
            f"{row['n_calcjobs']:6d} {share_text:>8}"
        )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="See the module docstring (and docs/performance.md) for how start/end are derived.",
    )
    parser.add_argument("pk", type=int, help="PK of a terminated top-level workflow")
    parser.add_argument("-p", "--profile", help="AiiDA profile (default: the default profile)")
    parser.add_argument("--depth", type=int, default=2, help="levels of the step table (2)")
    parser.add_argument("--json", type=Path, help="write all figures (and per job) to this file")
    parser.add_argument(
        "--no-workdirs",
        action="store_true",
        help="do not read the working directories (check of the fallbacks: QE stdout, node times)",
    )
    args = parser.parse_args(argv)

    load_profile(args.profile, allow_switch=True)
    top = orm.load_node(args.pk)
    if not isinstance(top, orm.WorkflowNode):
        parser.error(f"node {args.pk} is a {type(top).__name__}, not a workflow")
    if not top.is_terminated:
        print(f"WARNING: {describe(top)} has not terminated: the figures cover it so far")
    clock_s = time.perf_counter()
    figures = analyse(top, args.depth, use_workdirs=not args.no_workdirs)
    figures["analysis_s"] = time.perf_counter() - clock_s
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=str) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
