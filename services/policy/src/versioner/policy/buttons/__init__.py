"""Slack buttons: what a click may do, and firing the next deployment."""
