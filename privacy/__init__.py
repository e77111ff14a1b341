"""klantkluis privacy library: plain Python, no Dagster or dbt imports.

Public modules: ``masterkey`` (key-encryption keys), ``keystore`` (a random data key per data
subject, crypto-shredding), ``pseudonym`` (keyed subject ids), ``crypto`` (column encryption),
``audit`` (hash-chained audit log), ``classification`` and ``policy`` (what is processed, why,
on which legal basis and for how long), ``register`` (Art. 30 register) and ``ingest`` (the
protection applied to every landing row). ``_keys`` holds the hazardous primitives.
"""
