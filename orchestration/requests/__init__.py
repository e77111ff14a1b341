"""Data subject requests (Art. 15-21) wired to the installation: inbox -> ledger -> handler -> outbox.

`service.RequestService` is used by the Dagster sensor and jobs (orchestration/assets/requests.py)
and by the CLI (`orchestration.requests.cli.add_request_commands`); the logic lives in
`privacy.rights`.
"""
