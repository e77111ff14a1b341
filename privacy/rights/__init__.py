"""Data subject rights, automated (GDPR Chapter III): plain library, no Dagster or dbt.

``requests`` (the request as data, due dates, Art. 12), ``ledger`` (request ledger and the
e-mail blind index, outside the warehouse), ``warehouse`` (every relation that holds a subject),
``access`` and ``disclosure`` (the Art. 15/20 export and its Art. 15(1)-(2) information),
``package`` and ``summary`` (the zip, its HTML summary and checksums), ``erasure`` and ``purge``
(Art. 17 with crypto-shredding and physical compaction), ``rectify`` (Art. 16) and ``consent``
(objection, Art. 21, and withdrawal of consent, Art. 7(3)). The orchestration wires them up.
"""
