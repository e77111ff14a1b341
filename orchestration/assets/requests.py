"""Data subject requests in Dagster: a sensor on the inbox and one job per request type.

The sensor registers new inbox files in the request ledger and starts the matching job with the
request id as run key, so one request gives one run. Runs carry the request id and type only:
identifiers stay in the inbox file and never reach Dagster's storage (Art. 5(1)(f)). A request
that finds the warehouse locked by a build is retried; one that failed is re-run from the UI or
with `klantkluis process-requests`.
"""

import time
import warnings
from pathlib import Path

from dagster import (AssetKey, BetaWarning, Config, DefaultSensorStatus, MaterializeResult, OpExecutionContext, Output,
                     RunRequest, SensorEvaluationContext, SkipReason, asset, job, op, sensor)

from orchestration.ingest.schema import landing_columns
from orchestration.requests.common import open_requests
from orchestration.requests.indexes import EMAIL, refresh
from orchestration.requests.inbox import documents
from orchestration.requests.service import JOBS, RequestService
from orchestration.resources import KIND_TAG, REQUEST_TAG, TYPE_TAG, KlantkluisResource, run_time
from orchestration.settings import DBT_PROJECT_DIR
from privacy.classification import load_classification
from privacy.rights.letter import letter_of

# DuckDB has one writer: the run queue runs one run at a time (dagster.yaml, Paths.prepare_dagster_home),
# which keeps request runs and builds apart; a request that still finds the warehouse locked (a CLI
# run beside the UI) waits and retries.
DESCRIPTIONS = {
    "access_request": "Access export (Art. 15, 20): one zip with the subject's data, the Art. 15 information "
                      "and checksums, in <home>/outbox/, with a cover letter in the request's language.",
    "erasure_request": "Erasure (Art. 17): key shredded, rows removed (orders kept anonymised for the fiscal duty), "
                       "warehouse compacted, BI copies republished; receipt and letter in <home>/outbox/.",
    "rectification_request": "Rectification (Art. 16): the corrected value in every stored version that held the "
                             "wrong one (an earlier value, right then, stays); receipt and letter.",
    "consent_request": "Objection to direct marketing (Art. 21) or withdrawal of consent (Art. 7(3)), recorded as "
                       "consent events; the subject leaves the marketing audience; receipt and letter.",
}


_INDEXED = [AssetKey(["raw", t.name]) for t in load_classification(DBT_PROJECT_DIR)
            if t.layer == "source" and t.subject and EMAIL in landing_columns(t)]


@asset(key=AssetKey(["privacy", "request_indexes"]), group_name="privacy", owners=["team:privacy-office"],
       kinds={"python", "sqlite"}, deps=_INDEXED,
       description="Blind indexes for data subject requests (Art. 12(6), 15(4), 25(1)): keyed HMACs of every "
                   "e-mail address (with the pseudonymous subject id) and every name in the CRM and lead landing "
                   "files, in <home>/state/requests.sqlite. Lets a request find its subject by e-mail, and an "
                   "access export find the third persons in the subject's texts, without decrypting anyone's data. "
                   "Only new or changed files are read.")
def request_indexes(klantkluis: KlantkluisResource) -> MaterializeResult:
    started = time.perf_counter()
    with RequestService(klantkluis.paths) as service:  # landing files and the key store only, not the warehouse
        files = refresh(service)
    return MaterializeResult(metadata={"files_indexed": files, "seconds": round(time.perf_counter() - started, 3)})


class RequestConfig(Config):
    request_id: str


@op(description="Answer one data subject request from the inbox (see orchestration/requests/).")
def answer_request(context: OpExecutionContext, config: RequestConfig, klantkluis: KlantkluisResource):
    with klantkluis.waiting_while_busy(), RequestService(klantkluis.paths) as service:
        outcome = service.process(config.request_id, now=run_time(context))
    context.log.info(f"Request {outcome.request_id} ({outcome.type}): {outcome.status}")
    numbers = {k: v for k, v in outcome.detail.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    letter = letter_of(Path(outcome.result_path)) if outcome.result_path else None
    return Output(None, metadata={"request_id": outcome.request_id, "type": outcome.type, "status": outcome.status,
                                  "result": outcome.result_path or "",
                                  "letter_to_send": str(letter) if letter and letter.exists() else "", **numbers})


def _request_job(name: str):
    @job(name=name, description=DESCRIPTIONS[name], tags={KIND_TAG: "data_subject_request"})
    def _job():
        answer_request()

    return _job


request_jobs = [_request_job(name) for name in DESCRIPTIONS]


# Dagster 1.13 warns on import about the `owners` argument its own @sensor passes (we pass none).
warnings.filterwarnings("ignore", message="Parameter `owners` of initializer `SensorDefinition", category=BetaWarning)


@sensor(name="request_sensor", jobs=request_jobs, minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
        description="Watches <home>/inbox/ for data subject requests (JSON files, see `klantkluis request`; any "
                    "other document there is registered to be answered by hand), "
                    "registers them in the request ledger (due date: one month, Art. 12(3)) and runs the "
                    "matching job once per request.")
def request_sensor(context: SensorEvaluationContext, klantkluis: KlantkluisResource):
    from orchestration.pipeline import end_stopped_runs

    # A killed `klantkluis run` that Dagster still records as going holds the run queue: this run's
    # requests, and every other run, would wait behind it for ever.
    if ended := end_stopped_runs(context.instance, klantkluis.paths):
        context.log.warning(f"Recorded as failed: run(s) {', '.join(ended)} of `klantkluis run`, whose process ended "
                            "before the run did; the run queue no longer waits for them")
    pending = []
    if documents(klantkluis.paths.inbox):
        with RequestService(klantkluis.paths) as service:
            pending = service.intake()
    if not pending:
        reminder = open_requests(klantkluis.paths)
        return SkipReason("No new requests in the inbox." + (f" {reminder}." if reminder else ""))
    return [RunRequest(run_key=r.request_id, job_name=JOBS[r.type],
                       run_config={"ops": {"answer_request": {"config": {"request_id": r.request_id}}}},
                       tags={REQUEST_TAG: r.request_id, TYPE_TAG: r.type}) for r in pending]
