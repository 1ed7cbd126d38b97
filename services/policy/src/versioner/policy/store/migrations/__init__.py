"""Alembic migrations of policy's database, applied at start (`versioner.policy.store.migrate`)."""
