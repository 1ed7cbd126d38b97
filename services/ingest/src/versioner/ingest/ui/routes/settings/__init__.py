"""Settings: the index, users and roles, API keys, notification channels, deployment buttons
and the audit log, one module each."""
