"""`klantkluis` subcommands for the privacy officer: register, audit verification, key rotations."""

import json
import os
from datetime import datetime, timezone

from orchestration.cli_args import positive
from orchestration.settings import DBT_PROJECT_DIR, Paths


def _register(args, paths: Paths) -> int:
    from privacy.classification import load_classification
    from privacy.policy import load_policy
    from privacy.register import write_register

    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"  # written by `dbt parse` at set-up and by every build
    written = write_register(paths.register, load_classification(DBT_PROJECT_DIR), load_policy(),
                             now=datetime.now(timezone.utc),
                             manifest=json.loads(manifest.read_text()) if manifest.is_file() else None)
    print("Register of processing activities (Art. 30), in English and Dutch:\n"
          + "\n".join(f"  {path}" for pair in written.values() for path in pair))
    if not manifest.is_file():
        print(f"Note: {manifest} is missing, so further processing (Art. 6(4)) counts only the classified columns, "
              "not the marts' lineage: `make run` (or `dbt parse` in dbt_project/) writes it.")
    return 0


def _audit_verify(args, paths: Paths) -> int:
    log = paths.audit()
    result = log.verify()
    if result.ok:
        how = (f"hash chain and MACs under {log.key_path} verified" if result.keyed else
               f"hash chain verified (not keyed yet: its next entry switches it to {log.key_path})")
        print(f"Audit log {paths.audit_log}: intact, {result.entries} entries, {how}.")
        return 0
    print(f"Audit log {paths.audit_log}: TAMPERED after {result.entries} valid entries: {result.problem}")
    return 1


def _audit(args, paths: Paths) -> int:
    """Who did what, when (Art. 5(2)): the audit log's entries, filtered, one line each."""
    import json

    mentioning = [args.id] if args.id else []
    if number := args.customer or args.lead:
        if not (about := _subject_and_requests(paths, "customer" if args.customer else "lead", number)):
            print(f"No pseudonym key in {paths.key_dir} yet, so this installation has recorded nothing about anyone.")
            return 0
        mentioning += about
        # The requests that acted on them by the log itself: the ledger's rows go after 5 years (rule
        # request_records), the log's entries after 7, and a request's receipt, export or erasure
        # entry names only the request (Art. 5(2)).
        acted = {e["actor"].removeprefix("request:") for e in paths.audit().matching(mentioning=about[0])
                 if e["actor"].startswith("request:")}
        mentioning += sorted(acted - set(mentioning))
    try:
        entries = list(paths.audit().matching(events=args.event or (), since=args.since,
                                                          until=args.until, mentioning=mentioning or None))
    except ValueError:
        print("--since and --until take ISO 8601, a date (2026-12-05) or a time (2026-12-05T10:00+01:00), "
              "or a number of days back (30d).")
        return 2
    for e in entries[-args.last:] if args.last else entries:
        if args.json:
            print(json.dumps(e, ensure_ascii=False))
            continue
        written = f"  written {e['recorded_at']} by {e['by']}" if "by" in e else ""
        details = json.dumps(e["details"], ensure_ascii=False, separators=(", ", ": "))
        print(f"#{e['seq']} {e['ts']} {e['event']} ({e['actor']}){written}\n    {details}")
    print(f"{len(entries)} of the entries in {paths.audit_log} match" + (f"; the last {args.last} shown"
                                                                        if args.last and len(entries) > args.last else ""))
    if args.event and not entries:  # a misspelt event finds nothing: name the ones there are
        events = sorted({e["event"] for e in paths.audit().entries()})
        if unknown := sorted(set(args.event) - set(events)):
            print(f"No event {', '.join(unknown)} in this log; its events: {', '.join(events) or 'none yet'}.")
    if args.id and not entries:
        print("--id finds pseudonymous subject ids, request ids, tables and files; never a customer number or "
              "e-mail address, which the log does not hold: --customer and --lead find a number's entries.")
    return 0


def _subject_and_requests(paths: Paths, kind: str, number: str) -> list[str]:
    """The pseudonymous id of the customer or lead `number` (the log never holds the number itself)
    and the ids of the requests about them, whose entries name only the request (Art. 5(2)); none
    without a pseudonym key (a read makes no key) in a new installation. One with data refuses a key
    folder without its key, as every command does (Art. 32(1)(b)): there, nothing found would be
    the wrong folder's answer, not the log's."""
    from privacy import keybinding
    from privacy.pseudonym import PSEUDONYM_KEY_FILE, PSEUDONYM_KEY_VAR, pseudonymiser_from_env
    from privacy.rights.ledger import requests_about

    env = {**os.environ, **paths.environment()}
    if not env.get(PSEUDONYM_KEY_VAR) and not (key := paths.key_dir / PSEUDONYM_KEY_FILE).exists():
        keybinding.refuse_new(env, "pseudonym", key)
        return []
    subject = pseudonymiser_from_env(env).subject_id(kind, number)
    return [subject, *requests_about(paths.state / "requests.sqlite", subject)]


def _rotate(args, paths: Paths) -> int:
    """New master key: every data key is rewrapped; the warehouse is not touched (Art. 32)."""
    from privacy import keybinding
    from privacy.keystore import KeyStore
    from privacy.masterkey import ROTATING_FILE, FileMasterKey, master_key_from_env
    from privacy.paths import fsync_dir
    from privacy.rights.purge import overwritten_when_replaced

    env = {**os.environ, **paths.environment()}
    old = master_key_from_env(env)
    if not isinstance(old, FileMasterKey):
        print("The master key comes from KLANTKLUIS_MASTER_KEY (or a KMS): rotate it there, then run "
              "with the old and new key per your KMS procedure.")
        return 2
    staged = old.path.with_name(ROTATING_FILE)
    # The store opens only with the key that wraps it: if an interrupted rotation already rewrapped
    # under master.key.new, it refuses and says to move that file into place.
    with KeyStore(paths.keystore, old, audit=paths.audit()) as store:
        with overwritten_when_replaced([staged]):  # a key staged by a rotation that committed nothing
            staged.unlink(missing_ok=True)
        new = FileMasterKey(staged)
        # Announced before the rewrap and recorded once it commits: after a stop at any point the
        # installation takes the key the store opens with, and the store names the file to move.
        keybinding.rotating(env, "master", new.key_id)
        count = store.rotate_master(new, now=datetime.now(timezone.utc),
                                    committed=lambda: keybinding.confirm(env, "master", new.key_id, replace=True))
    # The old key's bytes are zeroed, not only unlinked: a key-store backup from before the rotation
    # (holding keys erased since) must stay unreadable (Art. 17, 32), as the README promises. Zeroed
    # once the move is durable, so a power cut never leaves master.key zeroed.
    with overwritten_when_replaced([old.path]):
        os.replace(staged, old.path)
        fsync_dir(old.path.parent)
    print(f"Master key rotated: {count:,} data keys rewrapped; new key id {new.key_id}; warehouse untouched.")
    return 0


def _rotate_audit(args, paths: Paths) -> int:
    """New audit key: the log is verified under the old one, then every MAC computed anew (Art. 32(1)(b))."""
    key_id = paths.audit().rotate_key(now=datetime.now(timezone.utc))
    print(f"Audit key rotated: every entry's MAC computed anew under new key {key_id} "
          f"({paths.key_dir / 'audit.key'}); the hash chain is unchanged. Back up the key folder.")
    return 0


def _redaction_eval(args, paths: Paths) -> int:
    from orchestration.redaction_eval import main

    main(["--texts", str(args.texts), "--seed", str(args.seed)])
    return 0


def add_privacy_commands(sub) -> None:
    register = sub.add_parser("register", help="generate the register of processing activities (Art. 30)")
    register.set_defaults(func=_register)
    audit = sub.add_parser("audit-verify", help="verify the audit log's hash chain and MACs (needs audit.key)")
    audit.set_defaults(func=_audit_verify)
    read = sub.add_parser("audit", help="read the audit log: who did what, when (filters combine)")
    read.add_argument("--event", action="append", help="only this event, e.g. decrypt, erasure, landing_file_removed "
                                                        "(repeat for more)")
    read.add_argument("--since", help="from this time on (ISO 8601, a prefix such as 2026-12-05 will do; "
                                      "30d: the last 30 days)")
    read.add_argument("--until", help="up to this time (ISO 8601 prefix, inclusive; 30d: up to 30 days ago)")
    read.add_argument("--id", help="naming this pseudonymous subject id, request id, table or file")
    who = read.add_mutually_exclusive_group()
    who.add_argument("--customer", metavar="NUMBER", help="about this customer: entries naming their pseudonymous id "
                                                          "or a request about them")
    who.add_argument("--lead", metavar="NUMBER", help="about this lead, as --customer")
    read.add_argument("--last", type=positive, default=0, help="only the last N matching entries")
    read.add_argument("--json", action="store_true", help="the entries as JSON Lines")
    read.set_defaults(func=_audit)
    rotate = sub.add_parser("rotate-master-key", help="new master key; rewraps every data key")
    rotate.set_defaults(func=_rotate)
    rotate_audit = sub.add_parser("rotate-audit-key", help="new audit key; the log's MACs computed anew")
    rotate_audit.set_defaults(func=_rotate_audit)
    evaluate = sub.add_parser("redaction-eval", help="precision and recall of free-text redaction")
    evaluate.add_argument("--texts", type=positive, default=5000, help="generated texts to redact (default 5000)")
    evaluate.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same texts")
    evaluate.set_defaults(func=_redaction_eval)
