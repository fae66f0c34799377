"""What the build job asks git: the commit a build was asked for, and the build's commit list.

Worker only: web requests never call these (they talk to the repository, with git's deadlines
from ``integrations.git``). Pages read what they recorded.
"""

from __future__ import annotations

from django.conf import settings

from builds.history import RecordedHistory
from builds.models import BRANCH_REF_PREFIX, Build
from core import adapters
from integrations import git
from integrations.errors import IntegrationError, PermanentError


def resolve_requested(build: Build) -> str:
    """The full sha of what the build was asked for: a branch's head, or a sha (prefix)."""
    url, ref = build.application.repository_url, build.requested_ref
    if ref.startswith(BRANCH_REF_PREFIX):
        # ls-remote asks the remote directly: no mirror needed for a branch head.
        return git.ls_remote_head(url, ref.removeprefix(BRANCH_REF_PREFIX))
    if not ref:
        raise PermanentError(f"build #{build.pk} names no commit to build", system=git.SYSTEM)
    return git.resolve_commit(url, ref, cache=adapters.git_cache())


def read_history(build: Build) -> RecordedHistory:
    """At most ``BUILD_HISTORY_COMMITS`` commits of the build's history, from the git mirror.

    One more is asked for to know whether the list reaches the first commit. A failure is
    returned, not raised: the image is built either way, and the release page says why the
    commit list is missing.
    """
    limit = settings.BUILD_HISTORY_COMMITS
    try:
        commits = git.commits_between(
            build.application.repository_url, "", build.commit, limit=limit + 1, cache=adapters.git_cache()
        )
    except (IntegrationError, OSError) as exc:  # OSError: the mirror's folder cannot be made
        return RecordedHistory(error=str(exc))
    return RecordedHistory(commits=commits[:limit], complete=len(commits) <= limit)
