"""CI auto-detection for the eight systems Versioner's CLI knows."""

from __future__ import annotations

import pytest

from versioner.client.ci import Detected, detect

SHA = "89abcdef0123456789abcdef0123456789abcdef"

CASES: list[tuple[dict[str, str], Detected]] = [
    (
        {"GITLAB_CI": "true", "CI_PROJECT_PATH": "grp/sub/app", "CI_COMMIT_SHA": SHA,
         "CI_COMMIT_REF_NAME": "main", "CI_PIPELINE_ID": "77", "CI_PIPELINE_IID": "7",
         "CI_PIPELINE_URL": "https://gl/p/77", "GITLAB_USER_LOGIN": "ada",
         "GITLAB_USER_EMAIL": "ada@x", "GITLAB_USER_NAME": "Ada", "CI_JOB_NAME": "deploy"},
        Detected("gitlab", "app", SHA[:8], "grp/sub/app", SHA, "main", "7", "https://gl/p/77",
                 "77", "ada", "ada@x", "Ada",
                 {"vi_gl_pipeline_id": "77", "vi_gl_pipeline_url": "https://gl/p/77",
                  "vi_gl_job_name": "deploy"}),
    ),
    (
        {"JENKINS_URL": "https://j", "GIT_URL": "git@github.com:acme/svc.git", "GIT_COMMIT": SHA,
         "GIT_BRANCH": "origin/main", "BUILD_NUMBER": "31", "BUILD_ID": "31",
         "BUILD_URL": "https://j/job/svc/31/", "JOB_NAME": "svc", "BUILD_USER_ID": "ada",
         "BUILD_USER": "Ada L", "BUILD_USER_EMAIL": "ada@x"},
        Detected("jenkins", "svc", "31", "github.com/acme/svc", SHA, "origin/main", "31",
                 "https://j/job/svc/31/", "31", "ada", "ada@x", "Ada L",
                 {"vi_jenkins_job_name": "svc", "vi_jenkins_build_url": "https://j/job/svc/31/"}),
    ),
    (
        {"CIRCLECI": "true", "CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "app",
         "CIRCLE_SHA1": SHA, "CIRCLE_TAG": "v1", "CIRCLE_BUILD_NUM": "5",
         "CIRCLE_WORKFLOW_ID": "wf", "CIRCLE_BUILD_URL": "https://c/5", "CIRCLE_USERNAME": "ada"},
        Detected("circleci", "app", SHA[:8], "acme/app", SHA, "v1", "5", "https://c/5", "wf",
                 "ada", metadata={"vi_circle_workflow_id": "wf"}),
    ),
    (
        {"BITBUCKET_BUILD_NUMBER": "9", "BITBUCKET_REPO_FULL_NAME": "acme/app",
         "BITBUCKET_REPO_SLUG": "app", "BITBUCKET_COMMIT": SHA, "BITBUCKET_BRANCH": "dev",
         "BITBUCKET_PIPELINE_UUID": "{u}"},
        Detected("bitbucket", "app", SHA[:8], "acme/app", SHA, "dev", "9",
                 "https://bitbucket.org/acme/app/pipelines/results/9", "{u}",
                 metadata={"vi_bb_pipeline_uuid": "{u}", "vi_bb_repo_slug": "app"}),
    ),
    (
        {"TF_BUILD": "True", "BUILD_REPOSITORY_NAME": "acme/app", "BUILD_SOURCEVERSION": SHA,
         "BUILD_SOURCEBRANCHNAME": "main", "BUILD_BUILDNUMBER": "20260501.3",
         "BUILD_BUILDID": "123", "SYSTEM_COLLECTIONURI": "https://dev.azure.com/acme/",
         "SYSTEM_TEAMPROJECT": "shop", "BUILD_REQUESTEDFOR": "Ada L",
         "BUILD_REQUESTEDFOREMAIL": "ada@x"},
        Detected("azure-devops", "app", "20260501.3", "acme/app", SHA, "main", "20260501.3",
                 "https://dev.azure.com/acme/shop/_build/results?buildId=123", "123",
                 "Ada L", "ada@x", "Ada L",
                 {"vi_azure_build_id": "123", "vi_azure_team_project": "shop"}),
    ),
    (
        {"TRAVIS": "true", "TRAVIS_REPO_SLUG": "acme/app", "TRAVIS_COMMIT": SHA,
         "TRAVIS_BRANCH": "main", "TRAVIS_BUILD_NUMBER": "4", "TRAVIS_BUILD_ID": "400",
         "TRAVIS_BUILD_WEB_URL": "https://t/400", "TRAVIS_EVENT_TYPE": "push"},
        Detected("travis", "app", SHA[:8], "acme/app", SHA, "main", "4", "https://t/400", "400",
                 metadata={"vi_travis_build_id": "400", "vi_travis_event_type": "push"}),
    ),
    (
        {"RD_JOB_ID": "job-1", "RD_JOB_EXECID": "55", "RD_JOB_NAME": "deploy-app",
         "RD_JOB_SERVERURL": "https://rd", "RD_JOB_PROJECT": "ops", "RD_JOB_USERNAME": "ada"},
        Detected("rundeck", "deploy-app", "55", build_number="55",
                 build_url="https://rd/project/ops/execution/show/55", invoke_id="55", user="ada",
                 metadata={"vi_rd_job_id": "job-1", "vi_rd_job_execid": "55",
                           "vi_rd_job_serverurl": "https://rd", "vi_rd_job_project": "ops",
                           "vi_rd_job_name": "deploy-app"}),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("env", "expected"), CASES, ids=[c[1].system for c in CASES])
def test_detects(env: dict[str, str], expected: Detected) -> None:
    assert detect(env) == expected


def test_nothing_outside_ci() -> None:
    assert detect({"CI": "true", "TF_BUILD": "true"}) == Detected()


def test_github_wins_when_several_match() -> None:
    assert detect({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}).system == "github"
