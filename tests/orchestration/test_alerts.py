"""Operator review: a failed 02:00 run or request run was seen only by whoever looked at the UI."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from dagster import (DagsterEventType, DagsterInstance, SkipReason, build_run_status_sensor_context, job, op)

from orchestration.alerts import WEBHOOK_VAR, alert_on_run_failure

SECRET = "jan.jansen@example.nl"  # a value an error message could quote


class LoadingError(Exception):
    pass


@op
def load_file():
    raise LoadingError(f"bad value {SECRET} on line 7")


@job
def nightly():
    load_file()


@pytest.fixture
def webhook():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def _failure_context(instance):
    result = nightly.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type == DagsterEventType.RUN_FAILURE]
    return build_run_status_sensor_context(sensor_name=alert_on_run_failure.name, dagster_event=failure,
                                           dagster_instance=instance, dagster_run=result.dagster_run).for_run_failure()


def test_a_failed_run_posts_an_alert_naming_the_step_and_error_class_but_no_error_text(webhook, monkeypatch, tmp_path):
    url, received = webhook
    monkeypatch.setenv(WEBHOOK_VAR, url)
    monkeypatch.setenv("KLANTKLUIS_HOME", str(tmp_path))
    with DagsterInstance.ephemeral() as instance:
        context = _failure_context(instance)
        alert_on_run_failure(context)
    [body] = received
    assert body["job"] == "nightly" and body["run_id"] == context.dagster_run.run_id and body["home"] == str(tmp_path)
    assert body["failed_steps"] == [{"step": "load_file", "error": "LoadingError"}]
    assert "load_file (LoadingError)" in body["text"] and SECRET not in json.dumps(body)


def test_without_a_webhook_nothing_is_sent_and_an_unreachable_one_is_a_warning(webhook, monkeypatch, capsys):
    url, received = webhook
    monkeypatch.delenv(WEBHOOK_VAR, raising=False)
    with DagsterInstance.ephemeral() as instance:
        context = _failure_context(instance)
        # UI review: the tick of every failed run showed as a success, though no alert went out
        skipped = alert_on_run_failure(context)
        assert received == []
        assert isinstance(skipped, SkipReason) and skipped.skip_message.startswith(
            f"No alert sent for the failed run {context.dagster_run.run_id} of nightly: {WEBHOOK_VAR} is not set")
        monkeypatch.setenv(WEBHOOK_VAR, "http://127.0.0.1:9/nothing-listens-here")
        skipped = alert_on_run_failure(context)  # a tick that warns, not one that fails
        assert "could not be sent" in skipped.skip_message and "nothing-listens-here" not in skipped.skip_message
        said = capsys.readouterr().err
        assert f"could not be sent to {WEBHOOK_VAR} (URLError)" in said and "nothing-listens-here" not in said
        monkeypatch.setenv(WEBHOOK_VAR, "file:///etc/passwd")  # only http(s): urllib would open a file
        alert_on_run_failure(context)
    assert f"could not be sent to {WEBHOOK_VAR} (ValueError)" in capsys.readouterr().err
