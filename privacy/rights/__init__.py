"""Data subject rights, automated (GDPR Chapter III): plain library, no Dagster or dbt.

``requests`` (the request as data, due dates, Art. 12), ``ledger`` and ``blind_index`` (request
ledger, e-mail and name indexes of keyed HMACs, outside the warehouse), ``warehouse`` (every
relation that holds a subject), ``access``, ``names`` and ``disclosure`` (the Art. 15/20 export,
third persons redacted, the Art. 15(1)-(2) information), ``package``, ``summary``, ``readable``, ``values`` and
``texts`` (the zip, its HTML summary in Dutch and English, checksums), ``letter`` (the letter to the
requester in the request's language, Art. 12(1)), ``erasure`` and ``purge`` (Art. 17
with crypto-shredding and physical compaction), ``rectify`` (Art. 16) and ``consent`` (objection,
Art. 21, and withdrawal of consent, Art. 7(3)). The orchestration wires them up.
"""
