"""The privacy officer's commands: reading and verifying the audit log."""

from datetime import datetime, timezone

from orchestration.cli import main
from orchestration.settings import Paths
from privacy.audit import AuditLog

NOW = datetime(2026, 12, 5, 9, 30, tzinfo=timezone.utc)


def test_the_audit_command_shows_who_did_what_when_filtered(tmp_path, monkeypatch, capsys):
    for name, value in Paths.from_home(tmp_path).environment().items():
        monkeypatch.setenv(name, value)
    log = AuditLog(Paths.from_home(tmp_path).audit_log)
    log.append("decrypt", now=NOW, table="crm_customers", count=3)
    log.append("erasure", actor="request:r-42", now=NOW, subjects=1)
    assert main(["--home", str(tmp_path), "audit", "--id", "r-42"]) == 0
    said = capsys.readouterr().out
    assert "#2 2026-12-05T09:30:00.000000Z erasure (request:r-42)  written 20" in said and "decrypt" not in said
    assert "1 of the entries in" in said
    assert main(["--home", str(tmp_path), "audit-verify"]) == 0
    assert "intact, 2 entries" in capsys.readouterr().out


def test_a_rotated_master_key_stays_this_installations_key(tmp_path, monkeypatch, capsys):
    from privacy.masterkey import master_key_from_env

    paths = Paths.from_home(tmp_path)
    for name, value in paths.environment().items():
        monkeypatch.setenv(name, value)
    before = master_key_from_env(paths.environment()).key_id
    assert main(["--home", str(tmp_path), "rotate-master-key"]) == 0
    after = master_key_from_env(paths.environment()).key_id  # refused if the binding had kept the old id
    assert after != before and after in (tmp_path / "state" / "keys.json").read_text()
