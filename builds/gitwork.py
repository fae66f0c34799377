"""What the build job asks git: the commit a build was asked for.

Worker only: web requests never call these (they talk to the repository, with git's deadlines
from ``integrations.git``). Pages read what they recorded.
"""

from __future__ import annotations

from builds.integration import get_git_cache
from builds.models import BRANCH_REF_PREFIX, Build
from integrations import git
from integrations.errors import PermanentError


def resolve_requested(build: Build) -> str:
    """The full sha of what the build was asked for: a branch's head, or a sha (prefix)."""
    url, ref = build.application.repository_url, build.requested_ref
    if ref.startswith(BRANCH_REF_PREFIX):
        # ls-remote asks the remote directly: no mirror needed for a branch head.
        return git.ls_remote_head(url, ref.removeprefix(BRANCH_REF_PREFIX))
    if not ref:
        raise PermanentError(f"build #{build.pk} names no commit to build", system=git.SYSTEM)
    return git.resolve_commit(url, ref, cache=get_git_cache())
