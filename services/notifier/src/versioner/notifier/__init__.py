"""notifier."""
