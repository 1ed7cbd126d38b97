"""The audit log and the violations log."""
