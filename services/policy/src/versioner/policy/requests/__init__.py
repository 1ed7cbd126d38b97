"""Deployment Requests: submitting, checklists, approving and rejecting."""
