"""The console log of a run: Dagster's coloured console logger, where a step stopped by a user
mistake shows its message without Dagster's stack trace.

Assets raise `dagster.Failure` for what the user can fix (no landing files, a file that does not
parse), with the fix in the message; the trace through Dagster's executor adds dozens of lines per
failing step and hides it. Any other error, a bug, keeps its trace. The Dagster UI keeps every trace.
"""

import logging

from dagster import InitLoggerContext, colored_console_logger, logger

_TRACE = "\n\nStack Trace:"


class _UserErrorsWithoutTrace(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        event = (getattr(record, "dagster_meta", None) or {}).get("dagster_event")
        error = getattr(getattr(event, "event_specific_data", None), "error", None)
        if getattr(error, "cls_name", None) == "Failure" and isinstance(record.msg, str) and _TRACE in record.msg:
            record.msg = record.msg.split(_TRACE, 1)[0]
        return True


@logger(colored_console_logger.config_schema, description="Dagster's coloured console logger; user mistakes "
        "(dagster.Failure) are shown without a stack trace.")
def console_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = colored_console_logger.logger_fn(init_context)
    log.addFilter(_UserErrorsWithoutTrace())
    return log
