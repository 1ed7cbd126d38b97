"""The addresses people follow into Versioner: one scheme for every service that links.

Deployments and versions are linked by the paths Versioner's own client prints
(`/manage/deployments?view=`, `/manage/versions?view=`), which ingest redirects to the
dashboard's page, so a link in Slack, in a webhook and in the CLI's output is the same link.
Deployment Requests have only the dashboard's page. `libs/client` builds its two paths itself:
it is installed without libs/common.
"""

from uuid import UUID


def request_path(request_id: UUID | str) -> str:
    """A Deployment Request's page, from the dashboard's root."""
    return f"/ui/requests/{request_id}"


def deployment_url(public_url: str, deployment_id: UUID) -> str:
    """Where a person sees a deployment."""
    return f"{public_url.rstrip('/')}/manage/deployments?view={deployment_id}"


def version_url(public_url: str, version_id: UUID) -> str:
    """Where a person sees a version."""
    return f"{public_url.rstrip('/')}/manage/versions?view={version_id}"


def request_url(public_url: str, request_id: UUID) -> str:
    """Where a person sees a Deployment Request."""
    return public_url.rstrip("/") + request_path(request_id)
