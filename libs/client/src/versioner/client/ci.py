"""CI auto-detection: which CI runs us, what it says about the run, and its `vi_*` metadata;
and the commit time of the git checkout we run in."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

# The build metadata key of the commit's time (RFC 3339), where lead time starts; the same
# key as `versioner.common.insights.COMMIT_TIMESTAMP_KEY` (the client does not depend on
# libs/common; tests/client/test_track_commit_time.py holds the two together).
COMMIT_TIMESTAMP_KEY = "vi_commit_timestamp"
# `git log -1` answers in milliseconds; a hung git (a network file system, a lock) must not
# hold up the build it reports on.
GIT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Detected:
    """What the CI environment tells about this run; empty strings where it says nothing."""

    system: str = ""
    product: str = ""
    version: str = ""
    scm_repository: str = ""
    scm_sha: str = ""
    scm_branch: str = ""
    build_number: str = ""
    build_url: str = ""
    invoke_id: str = ""
    user: str = ""
    user_email: str = ""
    user_name: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


_METADATA_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "github": (
        ("vi_gh_workflow", "GITHUB_WORKFLOW"),
        ("vi_gh_job", "GITHUB_JOB"),
        ("vi_gh_run_attempt", "GITHUB_RUN_ATTEMPT"),
        ("vi_gh_event_name", "GITHUB_EVENT_NAME"),
        ("vi_gh_ref", "GITHUB_REF"),
        ("vi_gh_head_ref", "GITHUB_HEAD_REF"),
        ("vi_gh_base_ref", "GITHUB_BASE_REF"),
    ),
    "gitlab": (
        ("vi_gl_pipeline_id", "CI_PIPELINE_ID"),
        ("vi_gl_pipeline_url", "CI_PIPELINE_URL"),
        ("vi_gl_job_id", "CI_JOB_ID"),
        ("vi_gl_job_name", "CI_JOB_NAME"),
        ("vi_gl_job_url", "CI_JOB_URL"),
        ("vi_gl_pipeline_source", "CI_PIPELINE_SOURCE"),
    ),
    "jenkins": (
        ("vi_jenkins_job_name", "JOB_NAME"),
        ("vi_jenkins_build_url", "BUILD_URL"),
        ("vi_jenkins_node_name", "NODE_NAME"),
        ("vi_jenkins_executor_number", "EXECUTOR_NUMBER"),
    ),
    "circleci": (
        ("vi_circle_workflow_id", "CIRCLE_WORKFLOW_ID"),
        ("vi_circle_workflow_job_id", "CIRCLE_WORKFLOW_JOB_ID"),
        ("vi_circle_job_name", "CIRCLE_JOB"),
        ("vi_circle_node_index", "CIRCLE_NODE_INDEX"),
    ),
    "bitbucket": (
        ("vi_bb_pipeline_uuid", "BITBUCKET_PIPELINE_UUID"),
        ("vi_bb_step_uuid", "BITBUCKET_STEP_UUID"),
        ("vi_bb_workspace", "BITBUCKET_WORKSPACE"),
        ("vi_bb_repo_slug", "BITBUCKET_REPO_SLUG"),
    ),
    "azure-devops": (
        ("vi_azure_build_id", "BUILD_BUILDID"),
        ("vi_azure_definition_name", "BUILD_DEFINITIONNAME"),
        ("vi_azure_agent_name", "AGENT_NAME"),
        ("vi_azure_team_project", "SYSTEM_TEAMPROJECT"),
    ),
    "travis": (
        ("vi_travis_build_id", "TRAVIS_BUILD_ID"),
        ("vi_travis_job_id", "TRAVIS_JOB_ID"),
        ("vi_travis_job_number", "TRAVIS_JOB_NUMBER"),
        ("vi_travis_event_type", "TRAVIS_EVENT_TYPE"),
    ),
    "rundeck": (
        ("vi_rd_job_id", "RD_JOB_ID"),
        ("vi_rd_job_execid", "RD_JOB_EXECID"),
        ("vi_rd_job_serverurl", "RD_JOB_SERVERURL"),
        ("vi_rd_job_project", "RD_JOB_PROJECT"),
        ("vi_rd_job_name", "RD_JOB_NAME"),
        ("vi_rd_job_group", "RD_JOB_GROUP"),
        ("vi_rd_job_url", "RD_JOB_URL"),
    ),
}


def detect_system(env: Mapping[str, str]) -> str:
    """Name the CI we run in (`source_system` spelling), or "" outside any known CI."""
    checks = (
        ("github", env.get("GITHUB_ACTIONS") == "true"),
        ("gitlab", env.get("GITLAB_CI") == "true"),
        ("jenkins", bool(env.get("JENKINS_URL"))),
        ("circleci", env.get("CIRCLECI") == "true"),
        ("bitbucket", bool(env.get("BITBUCKET_BUILD_NUMBER"))),
        ("azure-devops", env.get("TF_BUILD") == "True"),
        ("travis", env.get("TRAVIS") == "true"),
        ("rundeck", bool(env.get("RD_JOB_ID"))),
    )
    return next((name for name, hit in checks if hit), "")


def _last(path: str, sep: str = "/") -> str:
    return path.rstrip(sep).rsplit(sep, 1)[-1] if path else ""


def _short(sha: str) -> str:
    return sha[:8]


def _normalize_git_url(url: str) -> str:
    for prefix in ("https://", "http://", "git@"):
        url = url.removeprefix(prefix)
    return url.removesuffix(".git").replace(":", "/", 1)


def _github(env: Mapping[str, str]) -> Detected:
    repo, run_id, server = (
        env.get(k, "") for k in ("GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SERVER_URL")
    )
    sha = env.get("GITHUB_SHA", "")
    owner_and_name = repo.split("/")
    return Detected(
        product=owner_and_name[1] if len(owner_and_name) == 2 else "",
        version=_short(sha),
        scm_repository=repo,
        scm_sha=sha,
        scm_branch=env.get("GITHUB_REF_NAME", ""),
        build_number=env.get("GITHUB_RUN_NUMBER", ""),
        build_url=f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else "",
        invoke_id=run_id,
        user=env.get("GITHUB_ACTOR", ""),
    )


def _gitlab(env: Mapping[str, str]) -> Detected:
    sha = env.get("CI_COMMIT_SHA", "")
    return Detected(
        product=_last(env.get("CI_PROJECT_PATH", "")),
        version=_short(sha),
        scm_repository=env.get("CI_PROJECT_PATH", ""),
        scm_sha=sha,
        scm_branch=env.get("CI_COMMIT_REF_NAME", ""),
        build_number=env.get("CI_PIPELINE_IID", ""),
        build_url=env.get("CI_PIPELINE_URL", ""),
        invoke_id=env.get("CI_PIPELINE_ID", ""),
        user=env.get("GITLAB_USER_LOGIN", ""),
        user_email=env.get("GITLAB_USER_EMAIL", ""),
        user_name=env.get("GITLAB_USER_NAME", ""),
    )


def _jenkins(env: Mapping[str, str]) -> Detected:
    repo = _normalize_git_url(env.get("GIT_URL", ""))
    build_number = env.get("BUILD_NUMBER", "")
    return Detected(
        product=_last(repo),
        version=build_number,
        scm_repository=repo,
        scm_sha=env.get("GIT_COMMIT", ""),
        scm_branch=env.get("GIT_BRANCH", ""),
        build_number=build_number,
        build_url=env.get("BUILD_URL", ""),
        invoke_id=env.get("BUILD_ID", ""),
        # BUILD_USER* exist only with the Build User Vars plugin.
        user=env.get("BUILD_USER_ID", "") or env.get("BUILD_USER", ""),
        user_email=env.get("BUILD_USER_EMAIL", ""),
        user_name=env.get("BUILD_USER", ""),
    )


def _circleci(env: Mapping[str, str]) -> Detected:
    owner, name = env.get("CIRCLE_PROJECT_USERNAME", ""), env.get("CIRCLE_PROJECT_REPONAME", "")
    sha = env.get("CIRCLE_SHA1", "")
    return Detected(
        product=name,
        version=_short(sha),
        scm_repository=f"{owner}/{name}" if owner and name else "",
        scm_sha=sha,
        scm_branch=env.get("CIRCLE_BRANCH", "") or env.get("CIRCLE_TAG", ""),
        build_number=env.get("CIRCLE_BUILD_NUM", ""),
        build_url=env.get("CIRCLE_BUILD_URL", ""),
        invoke_id=env.get("CIRCLE_WORKFLOW_ID", ""),
        user=env.get("CIRCLE_USERNAME", ""),
    )


def _bitbucket(env: Mapping[str, str]) -> Detected:
    repo, number = env.get("BITBUCKET_REPO_FULL_NAME", ""), env.get("BITBUCKET_BUILD_NUMBER", "")
    sha = env.get("BITBUCKET_COMMIT", "")
    url = f"https://bitbucket.org/{repo}/pipelines/results/{number}" if repo and number else ""
    return Detected(
        product=env.get("BITBUCKET_REPO_SLUG", ""),
        version=_short(sha),
        scm_repository=repo,
        scm_sha=sha,
        scm_branch=env.get("BITBUCKET_BRANCH", "") or env.get("BITBUCKET_TAG", ""),
        build_number=number,
        build_url=url,
        invoke_id=env.get("BITBUCKET_PIPELINE_UUID", ""),
    )


def _azure(env: Mapping[str, str]) -> Detected:
    repo, build_id = env.get("BUILD_REPOSITORY_NAME", ""), env.get("BUILD_BUILDID", "")
    collection, project = env.get("SYSTEM_COLLECTIONURI", ""), env.get("SYSTEM_TEAMPROJECT", "")
    # BUILD_BUILDURI is a vstfs:// id, not a page; prefer the results page when we can build it.
    url = env.get("BUILD_BUILDURI", "")
    if collection and project and build_id:
        url = f"{collection.rstrip('/')}/{project}/_build/results?buildId={build_id}"
    build_number = env.get("BUILD_BUILDNUMBER", "")
    return Detected(
        product=_last(repo),
        version=build_number,
        scm_repository=repo,
        scm_sha=env.get("BUILD_SOURCEVERSION", ""),
        scm_branch=env.get("BUILD_SOURCEBRANCHNAME", ""),
        build_number=build_number,
        build_url=url,
        invoke_id=build_id,
        user=env.get("BUILD_REQUESTEDFOR", ""),
        user_email=env.get("BUILD_REQUESTEDFOREMAIL", ""),
        user_name=env.get("BUILD_REQUESTEDFOR", ""),
    )


def _travis(env: Mapping[str, str]) -> Detected:
    repo, sha = env.get("TRAVIS_REPO_SLUG", ""), env.get("TRAVIS_COMMIT", "")
    owner_and_name = repo.split("/")
    return Detected(
        product=owner_and_name[1] if len(owner_and_name) == 2 else "",
        version=_short(sha),
        scm_repository=repo,
        scm_sha=sha,
        scm_branch=env.get("TRAVIS_BRANCH", "") or env.get("TRAVIS_TAG", ""),
        build_number=env.get("TRAVIS_BUILD_NUMBER", ""),
        build_url=env.get("TRAVIS_BUILD_WEB_URL", ""),
        invoke_id=env.get("TRAVIS_BUILD_ID", ""),
    )


def _rundeck(env: Mapping[str, str]) -> Detected:
    server, project = env.get("RD_JOB_SERVERURL", ""), env.get("RD_JOB_PROJECT", "")
    exec_id = env.get("RD_JOB_EXECID", "")
    url = env.get("RD_JOB_URL", "")
    if server and project and exec_id:
        url = f"{server.rstrip('/')}/project/{project}/execution/show/{exec_id}"
    return Detected(
        product=env.get("RD_JOB_NAME", ""),
        version=exec_id,
        build_number=exec_id,
        build_url=url,
        invoke_id=exec_id,
        user=env.get("RD_JOB_USERNAME", "") or env.get("RD_JOB_USER_NAME", ""),
    )


_DETECTORS: dict[str, Callable[[Mapping[str, str]], Detected]] = {
    "github": _github,
    "gitlab": _gitlab,
    "jenkins": _jenkins,
    "circleci": _circleci,
    "bitbucket": _bitbucket,
    "azure-devops": _azure,
    "travis": _travis,
    "rundeck": _rundeck,
}


def detect(env: Mapping[str, str]) -> Detected:
    """Read the CI environment; an empty `Detected` outside any known CI."""
    system = detect_system(env)
    if not system:
        return Detected()
    found = _DETECTORS[system](env)
    metadata = {key: env[var] for key, var in _METADATA_KEYS[system] if env.get(var)}
    return replace(found, system=system, metadata=metadata)


def git_commit_time(cwd: Path, env: Mapping[str, str]) -> str:
    """When HEAD of the git checkout at `cwd` was committed (`%cI`, RFC 3339), or "" when
    git is missing, `cwd` is no checkout, it has no commit, or git fails in any other way."""
    git = shutil.which("git", path=env.get("PATH"))
    if git is None:
        return ""
    try:
        # Fixed arguments, no shell: the user's own git on their PATH, as a CI step runs it.
        done = subprocess.run(  # noqa: S603
            [git, "log", "-1", "--format=%cI"],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return ""
    stamp = done.stdout.strip() if done.returncode == 0 else ""
    try:
        if stamp and datetime.fromisoformat(stamp).tzinfo is not None:
            return stamp
    except ValueError:
        pass
    return ""
