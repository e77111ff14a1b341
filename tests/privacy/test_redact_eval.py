"""The redaction evaluation runs offline, prints its table and meets its targets on a small corpus."""

from orchestration.redaction_eval import main

TARGETS = {"EMAIL_ADDRESS": (0.98, 0.95), "IBAN_CODE": (0.98, 0.95), "NL_BSN": (0.98, 0.95),
           "PHONE_NUMBER": (0.98, 0.95), "NL_POSTCODE": (0.98, 0.95), "PERSON": (0.95, 0.0)}


def test_evaluation_meets_targets_without_network(capsys):
    result = main(["--texts", "250", "--seed", "1"])
    out = capsys.readouterr().out
    assert "PERSON" in out and "throughput" in out and "network attempts: 0" in out
    assert result["texts"] == 250 and result["network_attempts"] == 0
    ours = result["ours"]["entities"]
    for entity, (recall, precision) in TARGETS.items():
        assert ours[entity]["recall"] >= recall and ours[entity]["precision"] >= precision, (entity, ours[entity])
    assert result["ours"]["texts_per_second"] > result["presidio_default"]["texts_per_second"]
    assert result["presidio_default"]["entities"].get("NL_BSN", {}).get("predicted", 0) == 0  # no Dutch recognizers
