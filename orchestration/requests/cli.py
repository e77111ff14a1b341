"""CLI commands for data subject requests; wired into `klantkluis` by `add_request_commands`.

    klantkluis request access   --email jan@example.nl --verified-by portal_login
    klantkluis request erasure  --customer C0000123 --verified-by id_document
    klantkluis request rectify  --customer C0000123 --field email --value jan.new@example.nl --verified-by idin
    klantkluis request object   --email jan@example.nl --verified-by email_confirmation
    klantkluis request withdraw --customer C0000123 --purpose marketing_email --verified-by portal_login
    klantkluis request extend   req-... --reason complexity   # two more months (Art. 12(3)), once
    klantkluis request answered req-...          # a rejected document answered by hand (Art. 12(4))
    klantkluis requests [--status received | --open]   # the ledger: status and due date (Art. 12(3))
    klantkluis process-requests                  # answer the inbox without the Dagster UI

Output names request ids, never the identifier (the terminal scrollback is a log too).
"""

import getpass
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from privacy.audit import os_account
from privacy.rights.ledger import STALE, STATUSES
from privacy.rights.letter import letter_of
from privacy.rights.requests import LANGUAGES, LOCAL_TIME, VERIFICATION_METHODS, InvalidRequest, local_date
from privacy.rights.texts import EXTENSION_REASONS

STDIN_HELP = ("; '-' reads it from standard input (asked for, unshown, at a terminal; the e-mail address first), "
              "keeping it out of the process list and your shell's history")

COMMANDS = {"access": "access", "erasure": "erasure", "rectify": "rectification", "object": "objection",
            "withdraw": "withdraw_consent"}
HELP = {"access": "a copy of all data about the subject (Art. 15, 20)", "erasure": "erase the subject (Art. 17)",
        "rectify": "correct one field (Art. 16)", "object": "object to direct marketing (Art. 21)",
        "withdraw": "withdraw consent for a purpose (Art. 7(3))"}


def add_request_commands(subparsers) -> None:
    """Add `request`, `requests` and `process-requests` to the `klantkluis` parser."""
    request = subparsers.add_parser("request", help="file a data subject request (writes it to the inbox), or "
                                    "record a step taken by hand (extend, answered, delivered)")
    kinds = request.add_subparsers(dest="request_type", required=True)
    extend = kinds.add_parser("extend", help="extend a request's deadline by two months (Art. 12(3)); writes the "
                              "notice the requester must have within the first month")
    extend.add_argument("request_id", help="the request id (req-...), as `klantkluis requests` lists it")
    extend.add_argument("--reason", required=True, choices=list(EXTENSION_REASONS),
                        help="why: the request is complex, or many requests came in at once")
    extend.set_defaults(func=_extend)
    answered = kinds.add_parser("answered", help="record that a rejected document was answered by hand (Art. 12(4))")
    answered.add_argument("request_id", help="the request id (req-...) of the rejected document")
    answered.set_defaults(func=_answered)
    delivered = kinds.add_parser("delivered", help="record that an access export reached its requester; removes it "
                                                   "from the outbox now rather than after its 30 days")
    delivered.add_argument("request_id", help="the access request's id (req-...)")
    delivered.set_defaults(func=_delivered)
    for name, kind in COMMANDS.items():
        p = kinds.add_parser(name, help=HELP[name])
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--email", help=f"the subject's e-mail address{STDIN_HELP}")
        who.add_argument("--customer", help="customer number (C...)")
        who.add_argument("--lead", help="lead number (L...)")
        p.add_argument("--verified-by", required=True, choices=VERIFICATION_METHODS,
                       help="how the requester's identity was verified (Art. 12(6))")
        p.add_argument("--received", help="time of receipt, ISO 8601 (default: now)")
        p.add_argument("--filed-by", help="who filed the request and verified the identity, for the audit log: "
                                          "an account name (default: yours)")
        p.add_argument("--language", choices=LANGUAGES, default="nl",
                       help="language of the letter to the requester (the receipt and the export's pages hold both)")
        if kind == "rectification":
            p.add_argument("--field", required=True, help="the field to correct: an identifying field of the CRM or "
                           "lead record as stored (name, e-mail, phone, address, IBAN, birth date, gender, customer "
                           "since, relationship end); a name we do not know lists them all")
            p.add_argument("--value", required=True, help="the corrected value, in the form the landing files use"
                           f"{STDIN_HELP}")
        if kind == "withdraw_consent":
            p.add_argument("--purpose", required=True, help="consent purpose, or 'all'")
        p.set_defaults(func=_request, kind=kind)
    listing = subparsers.add_parser("requests", help="list the request ledger (status, due date)")
    only = listing.add_mutually_exclusive_group()
    only.add_argument("--status", choices=STATUSES, help="only this status")
    only.add_argument("--open", action="store_true", help="only requests not answered yet, rejected documents "
                      "awaiting an answer by hand among them")
    listing.set_defaults(func=_list)
    process = subparsers.add_parser("process-requests", help="answer every request in the inbox now")
    process.set_defaults(func=_process)


def _from_stdin(value: str | None, what: str, option: str) -> str | None:
    """``-`` stands for the next line of standard input (the e-mail address before the value when
    both are ``-``): personal data given there stays out of the process list and the shell's
    history (Art. 32(1)(b)); typed at a terminal, it is not shown either. InvalidRequest when that
    line is empty or absent."""
    if value != "-":
        return value
    read = getpass.getpass(f"{what}: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\r\n")
    if not read:
        raise InvalidRequest(f"nothing was read from standard input for {option} -: give it there on a line of its "
                             "own (the e-mail address first when --email and --value are both -)")
    return read


def _request(args, paths) -> int:
    from orchestration.requests.changes import value_problem
    from orchestration.requests.common import parse_rules
    from orchestration.requests.inbox import write_request
    from orchestration.settings import DBT_PROJECT_DIR
    from privacy.classification import load_classification
    from privacy.rights.requests import parse_request

    classification = load_classification(DBT_PROJECT_DIR)
    try:
        document = {"type": args.kind, "email": _from_stdin(args.email, "E-mail address", "--email"),
                    "customer_id": args.customer, "lead_id": args.lead, "verification": args.verified_by,
                    "received_at": args.received, "language": args.language, "field": getattr(args, "field", None),
                    "value": _from_stdin(getattr(args, "value", None), "Corrected value", "--value"),
                    "purpose": getattr(args, "purpose", None), "filed_by": args.filed_by or os_account()}
        request = parse_request({k: v for k, v in document.items() if v is not None} |
                                {"received_at": args.received or datetime.now(timezone.utc).isoformat()},
                                **parse_rules(classification))
    except InvalidRequest as exc:
        print(f"Not a valid request: {exc}")
        return 2
    if request.type == "rectification" and (problem := value_problem(request, datetime.now(timezone.utc),
                                                                     classification)):
        print(f"Not filed: {problem}.")
        return 2
    request_id, path = write_request(paths.inbox, document)
    print(f"Request {request_id} ({args.kind}) written to {path}.")
    print("The Dagster sensor picks it up, or run `klantkluis process-requests`.")
    return 0


def _by_hand(paths, step, refused: str = "Not recorded"):
    """``step(service)`` for a step taken by hand; its result, or None once a NotOpen was said."""
    from orchestration.requests.service import RequestService
    from privacy.rights.ledger import NotOpen

    with RequestService(paths) as service:
        try:
            return step(service)
        except NotOpen as exc:
            print(f"{refused}: {exc}.")
            return None


def _extend(args, paths) -> int:
    def extend(service):
        return service.extend(args.request_id, args.reason), service.ledger.get(args.request_id)

    if (done := _by_hand(paths, extend, "Not extended")) is None:
        return 2
    notice, row = done
    first = json.loads(row["detail"])["extension"]["first_due_at"]
    print(f"Request {args.request_id} is now due {local_date(row['due_at'])} (was {local_date(first)}).")
    print(f"Send the requester the letter {letter_of(notice)} (in the request's language; the notice {notice.name} is "
          "the record) now: Art. 12(3) asks that they are told within the first month, with the reason.")
    return 0


def _answered(args, paths) -> int:
    def answered(service):
        service.answered(args.request_id)
        return service.policy.retention["rejected_requests"].duration_days

    if (days := _by_hand(paths, answered)) is None:
        return 2
    print(f"Request {args.request_id} is recorded as answered by hand; its document in "
          f"{paths.inbox / 'rejected'} is removed {days} days from now (rule rejected_requests).")
    return 0


def _delivered(args, paths) -> int:
    if _by_hand(paths, lambda service: service.delivered(args.request_id) or True) is None:
        return 2
    print(f"The access export of {args.request_id} is recorded as delivered and removed from {paths.outbox} "
          "(its bytes overwritten); its receipt stays as proof.")
    return 0


def _list(args, paths) -> int:
    from orchestration.requests.common import unregistered
    from orchestration.requests.file_retention import export_path
    from privacy.audit import timestamp
    from privacy.rights.ledger import ANSWERED, Ledger

    waiting = unregistered(paths)
    if not (paths.state / "requests.sqlite").exists():
        print(waiting or "No requests yet.")
        return 0
    now = timestamp()
    with Ledger(paths.state / "requests.sqlite") as ledger:
        rows = [r for r in ledger.rows(args.status) if not (args.open and r["status"] in ANSWERED)]
    print("Times in UTC. Requests still in the inbox are registered when they are processed (the sensor, or "
          "`klantkluis process-requests`).")
    print(f"{'request':<25} {'type':<17} {'status':<11} {'received':<20} {'due':<20} {'completed':<20} result")
    for r in rows:
        late = " OVERDUE" if r["status"] not in ANSWERED and r["due_at"] < now else ""
        detail = json.loads(r["detail"] or "{}")
        if "extension" in detail:
            late += f" (extended {local_date(detail['extension']['at'])}: {detail['extension']['reason']})"
        where = export_path(paths, r) if r["result_path"] else None  # this home's, also after a move
        if where and not where.exists():
            removed = detail.get("removed") or {}
            why = f"with the data, by request {removed['by']}" if "by" in removed else f"rule {removed.get('rule')}"
            late += f" (deleted {removed['at'][:10]}, {why})" if removed else " (deleted)"
        late += " (no data found)" if detail.get("found") is False else ""
        if detail.get("reason") and (r["type"] == "invalid" or r["status"] == "refused"):
            late += f" (reason: {detail['reason']})"
        late += " (answer by hand, then `klantkluis request answered <id>`)" if r["status"] == "rejected" else ""
        print(f"{r['request_id']:<25} {r['type']:<17} {r['status']:<11} {r['received_at'][:19]:<20} "
              f"{r['due_at'][:19]:<20} {(r['completed_at'] or '')[:19]:<20} {where or ''}{late}")
    print(f"{len(rows)} request(s)." + (f" And {waiting}" if waiting else ""))
    return 0


def _process(args, paths) -> int:
    from orchestration.requests.inbox import REJECTED, inbox_files
    from orchestration.requests.service import RequestFailed, RequestService, WarehouseBusy

    code = 0
    with RequestService(paths) as service:
        arrived = set(inbox_files(paths.inbox))
        pending = service.intake()
        for r in service.ledger.rows("rejected"):
            if r["request_id"] in arrived:  # not a valid request: the operator answers by hand (Art. 12(4))
                print(f"{r['request_id']}: rejected, {json.loads(r['detail'])['reason']}; the document is in "
                      f"{paths.inbox / REJECTED}: answer the requester yourself by {local_date(r['due_at'])} "
                      f"(Art. 12(4)), then `klantkluis request answered {r['request_id']}`")
        if not pending:
            print("No valid requests pending in the inbox.")
        for request in pending:
            try:
                outcome = service.process(request.request_id)
            except WarehouseBusy as exc:  # as every command: one line naming the fix, exit 2 (README)
                print(f"{request.request_id}: not answered yet, {exc} (the request stays in the inbox)")
                return 2
            except RequestFailed as exc:
                print(f"{exc} (the request stays in the inbox; see `klantkluis requests`)")
                code = 1
                continue
            if outcome.status == "processing" and (started := service.ledger.get(request.request_id)["started_at"]):
                # claimed by another process, or by one that was stopped
                since = datetime.fromisoformat(started)
                at = (since + STALE).astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")
                print(f"{request.request_id} ({outcome.type}): being answered by another process since "
                      f"{since.astimezone(LOCAL_TIME):%Y-%m-%d %H:%M}; if that process was stopped, run this command "
                      f"again from {at}: the request is then taken up where it stopped")
                continue
            nobody = " (no data found for this identifier)" if outcome.detail.get("found") is False else ""
            print(f"{outcome.request_id} ({outcome.type}): {outcome.status}{nobody} -> {outcome.result_path or '-'}")
            if outcome.result_path and (letter := letter_of(Path(outcome.result_path))).exists():
                print(f"  The letter to send the requester, in the language of the request: {letter}")
            if outcome.type == "rectification" and outcome.status == "completed" and outcome.detail.get("found"):
                print("  Correct it in the source system too (Art. 16 applies there as well): its next export would bring the old value "
                      "back.")
            if deleted := outcome.detail.get("earlier_exports_deleted"):
                print(f"  The access export(s) of {', '.join(deleted)}, not recorded as delivered, went with the data: "
                      "the policy has no rule access_exports to keep them for delivery; the erasure receipt tells the "
                      "requester so.")
            for kept in outcome.detail.get("exports_kept_for_delivery", []):
                print(f"  The access export of {kept['request_id']}, not recorded as delivered, stays for delivery until "
                      f"{kept['until']} (Art. 12(3), 17(3)(b)), as the erasure receipt tells the requester: deliver it "
                      f"before then, and then `klantkluis request delivered {kept['request_id']}` removes it at once.")
    return code
