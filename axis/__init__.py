"""The central exchange: router, ledger, status tracking, embedded services and the `axis` CLI."""
