"""The pipeline that ships (examples/churn-predictor/azure-pipelines.yml) against what the product sends.

Azure DevOps refuses a run whose templateParameters name an undeclared parameter, and one that
leaves out a parameter without a default; the double checks the first (tests.fixtures.ado
loads this file's parameters into it), these tests the second. The pipeline's own shell steps
run here too, on what the product sends, with a stand-in ``az`` that records its arguments.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from integrations.buildservice import BuildRequest
from integrations.buildservice.azure_devops import template_parameters
from tests.fixtures.ado import EXAMPLE_PIPELINE, pipeline_parameters

APP_DIR = EXAMPLE_PIPELINE.parent
BLOB = "https://acct.blob.core.windows.net/models/churn/3f2a/model.json"
VERSION_ID = "2026-11-30T10:20:30.1234567Z"


def a_request(model_uri: str = BLOB) -> BuildRequest:
    return BuildRequest(
        build_id=4242,
        application="churn-predictor",
        repository_url="https://dev.azure.com/contoso/ai/_git/churn-predictor",
        commit="3f2a9c1d" * 5,
        model_name="churn-model",
        model_version=3,
        model_uri=model_uri,
        model_sha256="ab" * 32,
        image_repository="churn-predictor",
        image_tag="3f2a9c1d3f2a-m3",
        test_command="python -m unittest",
    )


def test_the_pipeline_declares_exactly_the_parameters_the_product_sends_or_defaults():
    declared = {p["name"]: p for p in pipeline_parameters()}
    sent = template_parameters(a_request())
    assert set(sent) <= set(declared), "the product sends a parameter the pipeline does not declare"
    required = {name for name, p in declared.items() if "default" not in p}
    assert required <= set(sent), "the pipeline needs a parameter the product does not send"
    assert all(declared[name]["type"] == "string" for name in sent)  # ADO passes them as strings
    assert all(isinstance(value, str) for value in sent.values())


def pipeline() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_PIPELINE.read_text())


def step_script(name: str) -> str:
    for step in pipeline()["jobs"][0]["steps"]:
        if step.get("displayName") == name:
            return step.get("bash") or step["inputs"]["inlineScript"]
    raise AssertionError(f"no step {name!r} in {EXAMPLE_PIPELINE}")


def pipeline_variables(sent: dict[str, str]) -> dict[str, str]:
    """The pipeline's variables with ``${{ parameters.X }}`` expanded as Azure DevOps would."""
    values = {p["name"]: p.get("default", "") for p in pipeline_parameters()} | sent
    expand = re.compile(r"\$\{\{\s*parameters\.(\w+)\s*\}\}")
    return {
        name: expand.sub(lambda m: values[m.group(1)], str(value))
        for name, value in pipeline()["variables"].items()
    }


def run_step(
    name: str, sent: dict[str, str], workdir: Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "HOME": str(workdir), **pipeline_variables(sent), **extra_env}
    return subprocess.run(
        ["bash", "-c", step_script(name)], cwd=workdir, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def app_checkout(tmp_path: Path) -> Path:
    """The agent's working directory: the repository with the app under appDirectory."""
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "churn-predictor").symlink_to(APP_DIR)
    return tmp_path


def test_the_check_step_accepts_what_the_product_sends(app_checkout):
    result = run_step("Check parameters", template_parameters(a_request()), app_checkout)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_check_step_refuses_a_build_id_that_is_not_a_number(app_checkout):
    sent = template_parameters(a_request()) | {"dashboardBuildId": "42; rm -rf /"}
    result = run_step("Check parameters", sent, app_checkout)
    assert result.returncode == 1
    assert "##vso[task.logissue type=error]dashboardBuildId must be a number" in result.stdout


@pytest.fixture
def fake_az(tmp_path: Path) -> Path:
    """An ``az`` that writes its arguments to az.args and creates the --file it is given."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(
        "#!/bin/bash\n"
        'printf "%s\\n" "$@" > "$AZ_ARGS"\n'
        'while [[ $# -gt 0 ]]; do [[ "$1" == --file ]] && touch "$2"; shift; done\n'
    )
    az.chmod(0o755)
    return bin_dir


def download(tmp_path: Path, fake_az: Path, model_uri: str) -> list[str]:
    workdir = tmp_path / "app"
    workdir.mkdir()
    sent = template_parameters(a_request(model_uri))
    path = f"{fake_az}:{os.environ['PATH']}"
    result = run_step("Download the model", sent, workdir, PATH=path, AZ_ARGS=str(tmp_path / "az.args"))
    assert result.returncode == 0, result.stdout + result.stderr
    return (tmp_path / "az.args").read_text().splitlines()


def test_the_download_step_fetches_the_blob_version_the_product_pinned(tmp_path, fake_az):
    uri = f"{BLOB}?versionid={VERSION_ID.replace(':', '%3A')}"  # as AzureBlobStore.uri() names it
    args = download(tmp_path, fake_az, uri)
    assert args[:5] == ["storage", "blob", "download", "--blob-url", BLOB]
    assert args[args.index("--version-id") + 1] == VERSION_ID
    assert "--auth-mode" in args  # no SAS in the URL: the service connection's identity


def test_the_download_step_keeps_a_sas_and_adds_no_version_without_one(tmp_path, fake_az):
    uri = f"{BLOB}?sv=2024-11-04&sr=b&sig=abc%2Bdef%3D"
    args = download(tmp_path, fake_az, uri)
    assert args[args.index("--blob-url") + 1] == uri
    assert "--version-id" not in args and "--auth-mode" not in args
