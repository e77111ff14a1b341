"""Master and pseudonymisation keys: file modes, refusal of readable files, env variables."""

import base64
import os
import stat

import pytest

from privacy.exceptions import KeyFileError, WrongMasterKey
from privacy.keystore import KeyStore
from privacy.masterkey import EnvMasterKey, FileMasterKey, MasterKey, master_key_from_env
from privacy.pseudonym import pseudonymiser_from_env


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_master_key_file_created_0600_on_first_use(key_dir):
    master = FileMasterKey(key_dir / "master.key")
    assert not (key_dir / "master.key").exists()
    blob = master.wrap(b"k" * 32, b"aad")
    assert _mode(key_dir / "master.key") == 0o600
    assert _mode(key_dir) == 0o700
    assert (key_dir / "master.key").stat().st_size == 32
    assert (key_dir / ".gitignore").read_text().strip().endswith("*")
    assert FileMasterKey(key_dir / "master.key").unwrap(blob, b"aad") == b"k" * 32
    assert isinstance(master, MasterKey)


def test_world_readable_key_file_is_refused(key_dir):
    FileMasterKey(key_dir / "master.key").key_id
    os.chmod(key_dir / "master.key", 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        FileMasterKey(key_dir / "master.key").key_id


def test_unwrap_with_other_master_or_aad_fails(key_dir):
    a, b = FileMasterKey(key_dir / "a.key"), FileMasterKey(key_dir / "b.key")
    blob = a.wrap(b"k" * 32, b"subject-1")
    with pytest.raises(WrongMasterKey):
        b.unwrap(blob, b"subject-1")
    with pytest.raises(WrongMasterKey):
        a.unwrap(blob, b"subject-2")


def test_env_master_key_matches_same_key_in_file(key_dir):
    file_key = FileMasterKey(key_dir / "master.key")
    file_key.key_id  # first use creates the file
    env = {"KLANTKLUIS_MASTER_KEY": base64.b64encode((key_dir / "master.key").read_bytes()).decode()}
    env_key = EnvMasterKey(environ=env)
    assert env_key.key_id == file_key.key_id
    assert env_key.unwrap(file_key.wrap(b"x" * 32, b"s"), b"s") == b"x" * 32
    assert env["KLANTKLUIS_MASTER_KEY"] not in repr(env_key)


def test_env_master_key_rejects_bad_values():
    with pytest.raises(KeyFileError, match="not set"):
        EnvMasterKey(environ={})
    with pytest.raises(KeyFileError, match="32-byte"):
        EnvMasterKey(environ={"KLANTKLUIS_MASTER_KEY": base64.b64encode(b"short").decode()})


def test_master_key_from_env_prefers_variable(tmp_path):
    key = base64.b64encode(os.urandom(32)).decode()
    assert isinstance(master_key_from_env({"KLANTKLUIS_MASTER_KEY": key}), EnvMasterKey)
    chosen = master_key_from_env({"KLANTKLUIS_KEY_DIR": str(tmp_path / "k")})
    assert isinstance(chosen, FileMasterKey) and chosen.path == tmp_path / "k" / "master.key"


def test_pseudonym_key_is_a_separate_0600_file(tmp_path):
    env = {"KLANTKLUIS_KEY_DIR": str(tmp_path / "k")}
    p = pseudonymiser_from_env(env)
    master = master_key_from_env(env)
    assert _mode(tmp_path / "k" / "pseudonym.key") == 0o600
    assert master.key_id != p.key_id
    assert pseudonymiser_from_env(env).subject_id("customer", "C1") == p.subject_id("customer", "C1")


def test_pseudonym_key_must_differ_from_master_key():
    key = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyFileError, match="differ"):
        pseudonymiser_from_env({"KLANTKLUIS_PSEUDONYM_KEY": key, "KLANTKLUIS_MASTER_KEY": key})


def test_lost_pseudonym_key_is_not_silently_replaced(tmp_path):
    env = {"KLANTKLUIS_KEY_DIR": str(tmp_path / "k")}
    pseudonymiser_from_env(env)
    (tmp_path / "k" / "keystore.sqlite").touch()
    (tmp_path / "k" / "pseudonym.key").unlink()
    with pytest.raises(KeyFileError, match="restore"):
        pseudonymiser_from_env(env)


def test_lost_master_key_is_not_silently_replaced(tmp_path):
    env = {"KLANTKLUIS_KEY_DIR": str(tmp_path / "k")}
    with KeyStore(tmp_path / "k" / "keystore.sqlite", master_key_from_env(env)) as store:
        store.ensure(["a" * 64])
    (tmp_path / "k" / "master.key").unlink()
    with pytest.raises(KeyFileError, match="restore it from the key backup"):
        master_key_from_env(env)
    assert not (tmp_path / "k" / "master.key").exists()


def test_wrap_many_matches_wrap(key_dir):
    master = FileMasterKey(key_dir / "master.key")
    blobs = master.wrap_many([b"a" * 32, b"b" * 32], [b"s1", b"s2"])
    assert [master.unwrap(b, a) for b, a in zip(blobs, [b"s1", b"s2"])] == [b"a" * 32, b"b" * 32]
    assert blobs[0][:12] != blobs[1][:12]


def _installation(tmp_path, keys="keys"):
    return {"KLANTKLUIS_HOME": str(tmp_path / "home"), "KLANTKLUIS_KEY_DIR": str(tmp_path / keys)}


def test_an_installation_is_bound_to_the_keys_it_first_used(tmp_path):
    env = _installation(tmp_path)
    pseudonym, master = pseudonymiser_from_env(env).key_id, master_key_from_env(env).key_id
    recorded = (tmp_path / "home" / "state" / "keys.json").read_text()
    assert pseudonym in recorded and master in recorded
    assert pseudonymiser_from_env(env).key_id == pseudonym  # the same keys keep working
    wrong = _installation(tmp_path, keys="other")  # a wrong or lost key folder: no new keys in silence
    with pytest.raises(KeyFileError, match="was written with pseudonym key"):
        pseudonymiser_from_env(wrong)
    with pytest.raises(KeyFileError, match="was written with master key"):
        master_key_from_env(wrong)
    assert not (tmp_path / "other" / "pseudonym.key").exists() and not (tmp_path / "other" / "master.key").exists()


def test_another_pseudonym_key_from_the_environment_is_refused(tmp_path):
    env = _installation(tmp_path)
    pseudonymiser_from_env(env)
    other = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(KeyFileError, match="is not the one the data"):
        pseudonymiser_from_env({**env, "KLANTKLUIS_PSEUDONYM_KEY": other})


def test_nothing_is_bound_without_an_installation(tmp_path):
    env = {"KLANTKLUIS_KEY_DIR": str(tmp_path / "k")}
    pseudonymiser_from_env(env)
    master_key_from_env(env)
    assert not list(tmp_path.rglob("keys.json"))


def test_an_installation_with_data_from_before_the_binding_gets_no_new_keys(tmp_path):
    from privacy.audit import AuditLog

    env = _installation(tmp_path)
    AuditLog(tmp_path / "home" / "state" / "audit.jsonl", key_dir=tmp_path / "keys").append("ingest_batch", loaded=3)  # no keys.json
    with pytest.raises(KeyFileError, match="already holds data written with keys"):
        pseudonymiser_from_env(env)
    assert not (tmp_path / "keys" / "pseudonym.key").exists()


def test_a_damaged_binding_file_names_itself_and_the_fix(tmp_path):
    env = _installation(tmp_path)
    pseudonymiser_from_env(env)
    (tmp_path / "home" / "state" / "keys.json").write_text("{not json")
    with pytest.raises(KeyFileError, match="keys.json is damaged"):
        pseudonymiser_from_env(env)


def test_an_interrupted_master_key_rotation_says_how_to_finish_it(tmp_path):
    from privacy import keybinding

    env = _installation(tmp_path)
    master_key_from_env(env)
    new = FileMasterKey(tmp_path / "keys" / "master.key.new")
    keybinding.confirm(env, "master", new.key_id, replace=True)  # rewrapped and bound, then the crash
    with pytest.raises(KeyFileError, match="move .*master.key.new to .*master.key to finish it"):
        master_key_from_env(env)


def test_private_files_are_written_0600_whole_or_not_at_all(tmp_path):
    """Simplicity review: six hand-written variants of 'write a file atomically'; the key binding
    (which key ids the installation took) and the compaction state were written with the process's
    umask, the inbox's requests without a sync. One function writes them all now (Art. 32(1)(b))."""
    from privacy import keybinding
    from privacy.paths import write_private

    old = os.umask(0o022)
    try:
        path = write_private(tmp_path / "a.json", "één")
        assert path.read_text(encoding="utf-8") == "één" and _mode(path) == 0o600
        assert write_private(path, [b"x", b"y"]).read_bytes() == b"xy" and _mode(path) == 0o600

        def broken():
            yield b"half"
            raise OSError("disk full")

        with pytest.raises(OSError):
            write_private(path, broken())
        assert path.read_bytes() == b"xy" and sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
        env = {"KLANTKLUIS_HOME": str(tmp_path / "home")}
        keybinding.rotating(env, "master", "k-1")
        [binding] = [p for p in (tmp_path / "home").rglob("*") if p.is_file() and p.name != ".gitignore"]
        assert _mode(binding) == 0o600
    finally:
        os.umask(old)
