"""`python -m orchestration.bench --customers N`: the whole pipeline at scale, beside its floor.

In one process, into a fresh installation folder (`data/bench-<N>/` or `--home`):

1. generate the demo landing zone (two landing days) for N customers;
2. run the `full_refresh` job in-process on a persistent Dagster instance in that folder, as
   `klantkluis run` does: day 1 (everything is new) and day 2 (the delta: unchanged day-1 files
   are skipped), with the wall time of every step and the rows per second of every ingest;
3. (a) the floor: the same transformations as plain SQL in one DuckDB process (`floor.py`);
   (b) ingest of day 1 without encryption: the same writer with the benchmark-only switch
   `IngestContext.encryption = False` (direct identifiers stay in memory and are dropped, no
   keys are made, nothing in plain text is written) into a scratch warehouse;
   (c) the CLV fit on the pipeline's own summary, ours against lifetimes' `BetaGeoFitter` and
   `GammaGammaFitter` (parameters and time);
   (d) one access export, one erasure (immediate part, then the purge) through the request
   service, if the data subject rights code is installed;

and prints a table (wall seconds, rows per second, peak memory of the process tree sampled
every 0.2 s) and writes everything to a JSON file (`--out`, default `<home>/bench.json`).
"""
