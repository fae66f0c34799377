"""The git helpers against real repositories made with ``git`` in a temporary directory."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations import git
from integrations.errors import NotFound, PermanentError, TemporaryError, Unauthorized
from tests.fixtures.registry import free_port
from tests.support import refusing_http

GIT_IDENTITY = [
    "-c",
    "user.name=Ada Lovelace",
    "-c",
    "user.email=ada@example.com",
    "-c",
    "commit.gpgsign=false",
]


def commit(repo: Path, message: str, files: dict[str, str]) -> str:
    """Write ``files`` (path -> text) into ``repo``, commit them and return the new sha."""
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repo), *GIT_IDENTITY, "commit", "-q", "-m", message], check=True)
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "origin"
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    commit(path, "Add the service", {"app/serve.py": "print('v1')\n", "README.md": "hello\n"})
    return path


@pytest.fixture
def cache(tmp_path: Path) -> git.GitCache:
    return git.GitCache(tmp_path / "git-cache", timeout=20)


def test_it_reads_the_branch_head_from_the_remote_after_a_new_commit(repo: Path) -> None:
    first = git.ls_remote_head(str(repo), "main")
    second = commit(repo, "Change the service", {"app/serve.py": "print('v2')\n"})
    assert git.ls_remote_head(str(repo), "main") == second != first
    assert git.ls_remote_head(repo.as_uri(), "main") == second


def test_it_reports_a_missing_branch_as_not_found(repo: Path) -> None:
    with pytest.raises(NotFound, match="branch 'release' does not exist"):
        git.ls_remote_head(str(repo), "release")


def test_it_resolves_branches_and_sha_prefixes_and_sees_new_commits(repo: Path, cache: git.GitCache) -> None:
    first = git.resolve_commit(str(repo), "main", cache=cache)
    assert git.resolve_commit(str(repo), first[:8], cache=cache) == first
    second = commit(repo, "Change the service", {"app/serve.py": "print('v2')\n"})
    assert git.resolve_commit(str(repo), "main", cache=cache) == second  # the mirror is fetched again
    assert git.resolve_commit(str(repo), second, cache=cache) == second


def test_it_exports_one_directory_of_a_commit(repo: Path, cache: git.GitCache, tmp_path: Path) -> None:
    sha = git.resolve_commit(str(repo), "main", cache=cache)
    commit(repo, "Later change", {"app/serve.py": "print('v2')\n", "app/extra.py": ""})
    out = git.archive(str(repo), sha, tmp_path / "out", "app", cache=cache)
    assert sorted(p.name for p in out.iterdir()) == ["serve.py"]  # the tree of sha, not of main
    assert (out / "serve.py").read_text() == "print('v1')\n"
    whole = git.archive(str(repo), sha[:10], tmp_path / "whole", cache=cache)
    assert sorted(p.name for p in whole.iterdir()) == ["README.md", "app"]


def test_it_reports_unknown_commits_and_directories_as_not_found(
    repo: Path, cache: git.GitCache, tmp_path: Path
) -> None:
    with pytest.raises(NotFound, match=f"commit abc1234 is not in {repo}"):
        git.archive(str(repo), "abc1234", tmp_path / "out", cache=cache)
    sha = git.resolve_commit(str(repo), "main", cache=cache)
    with pytest.raises(NotFound, match="directory 'service' does not exist in commit"):
        git.archive(str(repo), sha, tmp_path / "out", "service", cache=cache)


def test_it_lists_the_commits_between_two_shas_newest_first(repo: Path, cache: git.GitCache) -> None:
    base = git.resolve_commit(str(repo), "main", cache=cache)
    middle = commit(repo, "Tune the threshold", {"app/serve.py": "print('v2')\n"})
    tip = commit(repo, "Log requests", {"app/serve.py": "print('v3')\n"})
    commits = git.commits_between(str(repo), base, tip, cache=cache)
    assert [(c.sha, c.subject) for c in commits] == [(tip, "Log requests"), (middle, "Tune the threshold")]
    assert commits[0].author == "Ada Lovelace" and commits[0].date.tzinfo is not None
    assert len(git.commits_between(str(repo), "", tip, limit=2, cache=cache)) == 2
    assert git.commits_between(str(repo), tip, tip, cache=cache) == []


@pytest.mark.parametrize("bad", ["--upload-pack=touch /tmp/x", "HEAD~1", "ABCDEF12", "abc", "a" * 41])
def test_it_refuses_anything_but_a_hex_sha_as_a_commit(
    repo: Path, cache: git.GitCache, tmp_path: Path, bad: str
) -> None:
    with pytest.raises(PermanentError, match="invalid commit") as raised:
        git.archive(str(repo), bad, tmp_path / "out", cache=cache)
    assert not isinstance(raised.value, NotFound)


@pytest.mark.parametrize(
    "url", ["--upload-pack=touch /tmp/x", "ext::sh -c touch% /tmp/x", "origin", "ftp://example.com/r.git"]
)
def test_it_refuses_repository_urls_git_could_misread(url: str) -> None:
    with pytest.raises(PermanentError, match=r"repository|scheme"):
        git.ls_remote_head(url, "main")


@pytest.mark.parametrize("branch", ["-x", "main..other", "a b", "main.lock", ""])
def test_it_refuses_invalid_branch_names(repo: Path, branch: str) -> None:
    with pytest.raises(PermanentError, match="invalid branch name"):
        git.ls_remote_head(str(repo), branch)


def test_it_reports_an_unreachable_repository_as_temporary(cache: git.GitCache) -> None:
    url = f"http://127.0.0.1:{free_port()}/team/app.git"
    with pytest.raises(TemporaryError, match=f"cannot reach {url}"):
        git.ls_remote_head(url, "main")
    with pytest.raises(TemporaryError):
        git.resolve_commit(url, "main", cache=cache)


def test_it_reports_a_missing_local_repository_as_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not appear to be a git repository"):
        git.ls_remote_head(str(tmp_path / "nothing-here"), "main")


@pytest.fixture
def refusing_server() -> Iterator[ThreadingHTTPServer]:
    with refusing_http.refusing_server() as server:
        yield server


@pytest.mark.parametrize(
    ("status", "error"), [(401, Unauthorized), (403, Unauthorized), (503, TemporaryError)]
)
def test_it_maps_http_refusals_to_our_errors(
    refusing_server: ThreadingHTTPServer, status: int, error: type[Exception]
) -> None:
    refusing_server.RequestHandlerClass.status = status  # type: ignore[attr-defined]
    url = f"http://user:secret-token@127.0.0.1:{refusing_server.server_address[1]}/team/app.git"
    with pytest.raises(error) as raised:
        git.ls_remote_head(url, "main")
    assert "secret-token" not in str(raised.value)  # credentials never reach a message


def test_it_gives_up_on_a_remote_that_never_answers() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts connections, never replies
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/team/app.git"
        begun = time.monotonic()
        with pytest.raises(TemporaryError, match="did not finish within 1 s"):
            git.ls_remote_head(url, "main", timeout=1)
    assert time.monotonic() - begun < 5
