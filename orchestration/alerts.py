"""An alert when a run fails: a JSON message POSTed to the webhook in ``KLANTKLUIS_ALERT_WEBHOOK``
(a Slack, Mattermost or Teams incoming webhook, or your own monitor), so a failed 02:00 run or
data subject request is seen before its deadline passes (Art. 12(3)) rather than at the next look
at the UI. `klantkluis run` from cron tells the same by its exit code.

The message names the installation, the job, the run and each failed step with its error's class,
never an error's text: a message may quote a value or a file name (Art. 5(1)(f), 32)."""

from __future__ import annotations

import json
import os
import urllib.request

from dagster import DagsterEventType, DefaultSensorStatus, RunFailureSensorContext, SkipReason, run_failure_sensor

from orchestration.summary import root_cause

WEBHOOK_VAR = "KLANTKLUIS_ALERT_WEBHOOK"
TIMEOUT_SECONDS = 10


def failure_message(home: str, job: str, run_id: str, steps: list[tuple[str, str]]) -> dict:
    """The alert's JSON body: ``text`` for chat webhooks, and the same as fields for a monitor."""
    failed = "; ".join(f"{step} ({error})" for step, error in steps) or "before any step ran"
    return {"text": f"klantkluis at {home}: run {run_id} of job {job} failed: {failed}. The Dagster UI (Runs) shows "
                    "why; `klantkluis status` shows the installation as the last run left it.",
            "home": home, "job": job, "run_id": run_id,
            "failed_steps": [{"step": step, "error": error} for step, error in steps]}


def send(url: str, body: dict) -> None:
    """POST ``body`` as JSON to ``url``; raises on a network error or an HTTP error status, and
    ValueError for a URL that is not http(s) (urllib would also open a file:// or ftp:// one)."""
    if not url.lower().startswith(("https://", "http://")):
        raise ValueError("not an http(s) URL")
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):
        pass


def failed_steps(instance, run_id: str) -> list[tuple[str, str]]:
    """(step key, class of the innermost error) of each step that failed in the run."""
    steps = []
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = root_cause(entry.dagster_event.event_specific_data.error)
        steps.append((entry.dagster_event.step_key, error.cls_name if error is not None else "?"))
    return steps


@run_failure_sensor(name="alert_on_run_failure", monitor_all_code_locations=False,
                    default_status=DefaultSensorStatus.RUNNING,
                    description=f"When any run fails, POSTs an alert (job, run, failed steps and their error classes, no "
                                f"error text) to the webhook in {WEBHOOK_VAR}; does nothing while that is not set.")
def alert_on_run_failure(context: RunFailureSensorContext):
    """The tick of a failed run says whether its alert went out: one that sent nothing (no webhook, or
    an unreachable one) is skipped with the reason, not shown as a success."""
    url = os.environ.get(WEBHOOK_VAR, "").strip()
    run = context.dagster_run
    if not url:
        return SkipReason(f"No alert sent for the failed run {run.run_id} of {run.job_name}: {WEBHOOK_VAR} is not "
                          "set in the daemon's environment. Set it to an incoming-webhook URL (README, Running in "
                          "production) to be told of a failed run without looking at the UI.")
    try:
        send(url, failure_message(os.environ.get("KLANTKLUIS_HOME", "?"), run.job_name, run.run_id,
                                  failed_steps(context.instance, run.run_id)))
    except Exception as exc:  # the tick says so, with the class only (a URL may hold a token)
        said = (f"The alert for run {run.run_id} could not be sent to {WEBHOOK_VAR} ({type(exc).__name__}): check "
                "the URL and that this machine reaches it.")
        context.log.warning(said)
        return SkipReason(said)
    return None
