"""Deployment Rules: what each rule type says about a deployment."""
