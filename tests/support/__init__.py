"""Test support: engines, brokers and the whole stack in memory or on the real broker."""
