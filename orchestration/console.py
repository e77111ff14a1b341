"""The console log of a run: Dagster's coloured console logger, where a step stopped by a user
mistake shows its message without Dagster's stack trace (and a skipped step its missing inputs
once each), and dbt's lines condensed to progress.

Assets raise `dagster.Failure` for what the user can fix (no landing files, a file that does not
parse), with the fix in the message, and a blocking asset check stops a step when the data breaks
its rules (the check's description says which); the trace through Dagster's executor adds dozens
of lines per failing step and hides the message. Any other error, a bug, keeps its trace. The
Dagster UI keeps every trace.
"""

import io
import logging
import re
import time

from dagster import InitLoggerContext, colored_console_logger, logger

_TRACE = "\n\nStack Trace:"
_CLASS_PATH = re.compile(r"\bdagster\.[\w.]+\.(?:Failure|DagsterAssetCheckFailedError): ")  # before the message
# What the user fixes or did, not a bug: no stack trace (an interruption is Ctrl-C or a stop signal).
INTERRUPTED = "DagsterExecutionInterruptedError"
USER_ERRORS = frozenset({"Failure", "DagsterAssetCheckFailedError", INTERRUPTED})


# "Dependencies for step x were not executed: ['dbt_models', 'dbt_models', ...]": one name per output
_DEPENDENCIES = re.compile(r"(failed|were not executed): \[([^\]]*)\]")


def _once(match: re.Match) -> str:
    names = dict.fromkeys(n.strip(" '\"") for n in match.group(2).split(","))
    return f"{match.group(1)}: {', '.join(names)}"


class _UserErrorsWithoutTrace(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        if getattr(error, "cls_name", None) in USER_ERRORS and isinstance(record.msg, str):
            record.msg = _CLASS_PATH.sub("", record.msg.split(_TRACE, 1)[0])
        if isinstance(record.msg, str) and "Dependencies for step" in record.msg:
            record.msg = _DEPENDENCIES.sub(_once, record.msg)
        return True


@logger(colored_console_logger.config_schema, description="Dagster's coloured console logger; user mistakes "
        "(dagster.Failure, a failed blocking check) are shown without a stack trace.")
def console_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = colored_console_logger.logger_fn(init_context)
    log.addFilter(_UserErrorsWithoutTrace())
    return log


COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # dbt's colour codes: noise in a file, a pipe or the Dagster UI


class DbtProgress(io.TextIOBase):
    """Standard output for ``klantkluis run``: dbt's two lines per model and test that went well
    (about 180 at the demo's size) become one progress line every ``every`` seconds; failures,
    warnings and dbt's own summary pass as they are, to the terminal and to the step's output in
    the Dagster UI. ``<home>/dbt/dbt.log`` keeps every line."""

    _NODE = re.compile(r"^(\d+) of (\d+) (START|OK|PASS|SKIP|NO-OP)\b")

    def __init__(self, out, every: float = 5.0):
        self.out, self.every, self.done, self.said, self.partial = out, every, 0, None, ""
        self.plain = not (hasattr(out, "isatty") and out.isatty())

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:  # Dagster captures a step's output for the UI through the descriptor
        return self.out.fileno()

    def write(self, text: str) -> int:
        *lines, self.partial = (self.partial + text).split("\n")
        for line in lines:
            line = COLOUR.sub("", line) if self.plain else line
            node = self._NODE.match(line)
            if node is None:
                self.out.write(line + "\n")
                continue
            now = time.monotonic()
            self.said = now if self.said is None else self.said  # the clock starts at dbt's first node
            if node[3] == "START":
                continue
            self.done += 1
            if now - self.said >= self.every:
                self.out.write(f"dbt: {self.done} of {node[2]} models, snapshots and tests done\n")
                self.said = now
        self.out.flush()
        return len(text)

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        if self.partial and not self.closed:
            self.out.write(self.partial)
            self.out.flush()
        super().close()
