"""Deployments: the target an event names, the start verdict, outcomes, closing, and the lanes that
carry them.
"""
