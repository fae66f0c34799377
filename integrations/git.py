"""Reading application code from git repositories with the ``git`` command line.

Remote repositories are fetched into bare mirrors under a cache directory (``GitCache``), so
a build exports a commit without a working tree and a second build of the same repository
fetches only what is new. Follows the git manuals: ``git ls-remote``
(https://git-scm.com/docs/git-ls-remote), ``git clone --mirror``
(https://git-scm.com/docs/git-clone), ``git fetch`` (https://git-scm.com/docs/git-fetch),
``git archive`` (https://git-scm.com/docs/git-archive), ``git log``
(https://git-scm.com/docs/git-log).

User input never reaches git where it could be read as an option: repository URLs and
paths come after ``--`` or ``--end-of-options`` and commits and branch names are validated
first.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from integrations.errors import NotFound, PermanentError, TemporaryError, Unauthorized

SYSTEM = "git"
SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
FULL_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
BRANCH_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]{0,199}$")
SCP_LIKE_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^:\s]+$")  # git@host:org/repo.git
URL_SCHEMES = ("file", "http", "https", "ssh", "git")
REMOTE_TIMEOUT = 120.0  # clone / fetch / ls-remote
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
LOCAL_TIMEOUT = 60.0  # rev-parse / log / archive in the mirror

# Which stderr phrases mean what; git has no machine-readable error codes.
AUTH_HINTS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied",
    "returned error: 401",
    "returned error: 403",
    "access denied",
)
MISSING_HINTS = (
    "does not appear to be a git repository",
    "repository not found",
    "returned error: 404",
    "not found",
)


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    date: datetime
    subject: str


def redact_url(url: str) -> str:
    """The URL without any user:password part, safe to show in a message."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url


def validate_repo_url(repo_url: str) -> str:
    """An absolute local path, an ssh ``user@host:path`` or a URL with one of ``URL_SCHEMES``."""
    if not repo_url or repo_url.startswith("-") or any(ord(c) < 32 or ord(c) == 127 for c in repo_url):
        raise PermanentError(f"invalid repository {repo_url!r}", system=SYSTEM)
    if "://" in repo_url:
        scheme = repo_url.split("://", 1)[0].lower()
        if scheme not in URL_SCHEMES:
            raise PermanentError(
                f"repository URL scheme {scheme!r} is not supported: use {', '.join(URL_SCHEMES)}",
                system=SYSTEM,
            )
    elif "::" in repo_url or not (os.path.isabs(repo_url) or SCP_LIKE_RE.match(repo_url)):
        # "::" selects a remote helper (ext:: runs commands); relative paths depend on the cwd.
        raise PermanentError(f"repository {repo_url!r} must be a URL or an absolute path", system=SYSTEM)
    return repo_url


def validate_sha(sha: str) -> str:
    if not SHA_RE.match(sha or ""):
        raise PermanentError(f"invalid commit {sha!r}: expected 7 to 40 lowercase hex digits", system=SYSTEM)
    return sha


def validate_branch(branch: str) -> str:
    if (
        not BRANCH_RE.match(branch or "")
        or ".." in branch
        or "//" in branch
        or branch.endswith((".lock", "/", "."))
    ):
        raise PermanentError(f"invalid branch name {branch!r}", system=SYSTEM)
    return branch


def credentials_in(repo_url: str) -> bool:
    """Whether a repository URL carries a secret: any user part of an http(s) URL (a token is
    often sent as the user name), or a password in any URL."""
    if "://" not in repo_url:
        return False  # a path, or ssh's user@host:path, which names a user but holds no secret
    parts = urlsplit(repo_url)
    return bool(parts.password) or (parts.scheme in ("http", "https") and "@" in parts.netloc)


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",  # fail instead of waiting for a password nobody will type
        GIT_ALLOW_PROTOCOL="file:git:http:https:ssh",
        GIT_SSH_COMMAND=env.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        LC_ALL="C",  # stderr is matched against English phrases
    )
    credentials = env.get("GIT_CREDENTIALS_FILE", "")
    if credentials:
        # Tokens for private repositories live in a file on the workers (a mounted secret in
        # git's credential-store format), never in the URLs the dashboard stores and shows.
        # https://git-scm.com/docs/git-credential-store, https://git-scm.com/docs/git-config#ENVIRONMENT
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="credential.helper",
            GIT_CONFIG_VALUE_0=f"store --file={credentials}",
        )
    return env


def _summary(stderr: str) -> str:
    """git's own error lines (``fatal:``/``error:``), else its last lines, on one line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    text = "; ".join(re.sub(r"^(fatal|error|remote): ", "", line) for line in (errors or lines[-3:])[:3])
    text = re.sub(r"://[^/@\s']+@", "://", text)  # never repeat credentials from a URL
    return text[:400] or "no error output"


def _failure(stderr: str, repo_url: str, *, remote: bool) -> Exception:
    """Map a failed git command to our error classes from what git printed."""
    lower, where = stderr.lower(), redact_url(repo_url)
    if any(hint in lower for hint in AUTH_HINTS):
        return Unauthorized(f"access to {where} was refused: {_summary(stderr)}", system=SYSTEM)
    if any(hint in lower for hint in MISSING_HINTS):
        return NotFound(
            f"repository {where} does not exist or is not readable: {_summary(stderr)}", system=SYSTEM
        )
    if remote:  # connection refused, DNS, 5xx, dropped transfers: worth another try
        return TemporaryError(f"cannot reach {where}: {_summary(stderr)}", system=SYSTEM)
    return PermanentError(f"git failed on {where}: {_summary(stderr)}", system=SYSTEM)


def _git(
    args: list[str], *, repo_url: str, cwd: Path | None = None, timeout: float, remote: bool = False
) -> str:
    """Run git and return its stdout; failures become our errors."""
    try:
        # A session of its own: on timeout the helpers git started (git-remote-https, ssh) are
        # killed too, instead of keeping the pipes open and the caller waiting.
        proc = subprocess.Popen(
            ["git", *args], cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True,
        )  # fmt: skip
    except FileNotFoundError:
        raise PermanentError("the git command is not installed", system=SYSTEM) from None
    with proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise TemporaryError(
                f"git {args[0]} on {redact_url(repo_url)} did not finish within {timeout:.0f} s",
                system=SYSTEM,
            ) from None
    if proc.returncode != 0:
        raise _failure(stderr, repo_url, remote=remote)
    return stdout


def ls_remote_head(repo_url: str, branch: str, *, timeout: float = REMOTE_TIMEOUT) -> str:
    """The commit sha ``refs/heads/<branch>`` points at, asked of the remote directly."""
    validate_repo_url(repo_url)
    ref = f"refs/heads/{validate_branch(branch)}"
    out = _git(["ls-remote", "--", repo_url, ref], repo_url=repo_url, timeout=timeout, remote=True)
    for line in out.splitlines():
        sha, _, name = line.partition("\t")
        if name == ref and FULL_SHA_RE.match(sha):
            return sha
    raise NotFound(f"branch {branch!r} does not exist in {redact_url(repo_url)}", system=SYSTEM)


class GitCache:
    """Bare mirrors of repositories under ``root``, one directory per repository URL."""

    def __init__(self, root: Path | str, *, timeout: float = REMOTE_TIMEOUT) -> None:
        self.root = Path(root)
        self.timeout = timeout

    def mirror_dir(self, repo_url: str) -> Path:
        name = hashlib.sha256(validate_repo_url(repo_url).encode()).hexdigest()[:24]
        return self.root / f"{name}.git"

    @contextmanager
    def _lock(self, mirror: Path) -> Iterator[None]:
        # Two builds of the same repository must not fetch into one mirror at the same time.
        self.root.mkdir(parents=True, exist_ok=True)
        with open(mirror.with_suffix(".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def fetch(self, repo_url: str) -> Path:
        """Create or update the mirror of ``repo_url``; returns its directory."""
        mirror = self.mirror_dir(repo_url)
        with self._lock(mirror):
            if (mirror / "HEAD").exists():
                _git(
                    ["fetch", "--prune", "--quiet", "origin"],
                    repo_url=repo_url,
                    cwd=mirror,
                    timeout=self.timeout,
                    remote=True,
                )
                return mirror
            # Clone next to the final name and rename, so a cut-off clone never looks complete.
            tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".clone-"))
            try:
                _git(
                    ["clone", "--mirror", "--quiet", "--", repo_url, str(tmp / "m.git")],
                    repo_url=repo_url,
                    timeout=self.timeout,
                    remote=True,
                )
                os.replace(tmp / "m.git", mirror)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return mirror

    def mirror(self, repo_url: str, *, refresh: bool) -> Path:
        mirror = self.mirror_dir(repo_url)
        return self.fetch(repo_url) if refresh or not (mirror / "HEAD").exists() else mirror


def _rev_parse(mirror: Path, repo_url: str, revision: str, kind: str = "commit") -> str | None:
    try:
        out = _git(
            ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{{kind}}}"],
            repo_url=repo_url,
            cwd=mirror,
            timeout=LOCAL_TIMEOUT,
        )
    except PermanentError:
        return None  # unknown or ambiguous
    sha = out.strip()
    return sha if FULL_SHA_RE.match(sha) else None


def _lookup(mirror: Path, repo_url: str, ref: str) -> str | None:
    if SHA_RE.match(ref) and (sha := _rev_parse(mirror, repo_url, ref)):
        return sha
    if BRANCH_RE.match(ref):
        return _rev_parse(mirror, repo_url, f"refs/heads/{ref}") or _rev_parse(
            mirror, repo_url, f"refs/tags/{ref}"
        )
    return None


def resolve_commit(repo_url: str, ref: str, *, cache: GitCache) -> str:
    """The full sha of a commit (sha or prefix) or the tip of a branch (or tag) ``ref``."""
    if not SHA_RE.match(ref or ""):
        validate_branch(ref)
    # A full sha present in the mirror cannot change; anything else may be newer upstream.
    mirror = cache.mirror(repo_url, refresh=not FULL_SHA_RE.match(ref))
    sha = _lookup(mirror, repo_url, ref)
    if sha is None and FULL_SHA_RE.match(ref):
        sha = _lookup(cache.fetch(repo_url), repo_url, ref)
    if sha is None:
        raise NotFound(f"commit {ref} is not in {redact_url(repo_url)}", system=SYSTEM)
    return sha


def _validate_subdir(subdir: str) -> str:
    parts = subdir.strip("/").split("/") if subdir.strip("/") else []
    if subdir.startswith("/") or any(p in ("", ".", "..") for p in parts) or any(ord(c) < 32 for c in subdir):
        raise PermanentError(
            f"invalid application path {subdir!r} (a relative path inside the repository)", system=SYSTEM
        )
    return "/".join(parts)


def _object_type(mirror: Path, repo_url: str, name: str) -> str:
    try:
        out = _git(
            ["cat-file", "-t", "--end-of-options", name], repo_url=repo_url, cwd=mirror, timeout=LOCAL_TIMEOUT
        )
    except PermanentError:
        return ""  # no such object
    return out.strip()


def _extract(tar_path: Path, dest_dir: Path, *, what: str) -> None:
    try:
        with tarfile.open(tar_path, mode="r|") as tar:
            tar.extractall(dest_dir, filter="data")  # refuses links or paths leaving dest_dir
    except tarfile.FilterError as exc:
        raise PermanentError(f"{what} contains an unsafe path: {exc}", system=SYSTEM) from exc
    except tarfile.TarError as exc:
        raise PermanentError(f"cannot unpack {what}: {exc}", system=SYSTEM) from exc


def archive(repo_url: str, commit: str, dest_dir: Path, subdir: str = "", *, cache: GitCache) -> Path:
    """Write the files of ``commit`` (only ``subdir`` of it, if given) into ``dest_dir``."""
    sha, subdir = resolve_commit(repo_url, validate_sha(commit), cache=cache), _validate_subdir(subdir)
    mirror = cache.mirror_dir(repo_url)
    tree = f"{sha}:{subdir}" if subdir else sha
    if subdir and _object_type(mirror, repo_url, tree) != "tree":
        raise NotFound(
            f"directory {subdir!r} does not exist in commit {sha[:12]} of {redact_url(repo_url)}",
            system=SYSTEM,
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tar_name = tempfile.mkstemp(dir=dest_dir.parent, prefix=".archive-", suffix=".tar")
    os.close(fd)
    try:
        _git(
            ["archive", "--format=tar", f"--output={tar_name}", "--end-of-options", tree],
            repo_url=repo_url,
            cwd=mirror,
            timeout=cache.timeout,
        )
        # tarfile refuses the archive of an empty tree (a pax header and nothing else).
        if _rev_parse(mirror, repo_url, tree, "tree") != EMPTY_TREE:
            _extract(Path(tar_name), dest_dir, what=f"commit {sha[:12]}")
    finally:
        Path(tar_name).unlink(missing_ok=True)
    return dest_dir


def commits_between(
    repo_url: str, old: str, new: str, limit: int = 50, *, cache: GitCache
) -> list[CommitInfo]:
    """Commits reachable from ``new`` but not from ``old`` (all of ``new``'s if ``old`` is ""), newest first."""
    new_sha = resolve_commit(repo_url, validate_sha(new), cache=cache)
    revisions = [new_sha]
    if old:
        revisions.insert(0, "^" + resolve_commit(repo_url, validate_sha(old), cache=cache))
    fmt = "--format=%H%x00%an%x00%aI%x00%s"
    out = _git(
        ["log", fmt, f"--max-count={max(1, int(limit))}", "--end-of-options", *revisions, "--"],
        repo_url=repo_url,
        cwd=cache.mirror_dir(repo_url),
        timeout=LOCAL_TIMEOUT,
    )
    commits = []
    for line in out.splitlines():
        sha, author, date, subject = line.split("\x00", 3)
        commits.append(CommitInfo(sha, author, datetime.fromisoformat(date), subject))
    return commits
