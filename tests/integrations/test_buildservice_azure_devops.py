"""AzureDevOpsBuildService against the Azure DevOps HTTP double (fixture ``tests.fixtures.ado``)."""

from __future__ import annotations

import socket
import time

import pytest

from integrations.buildservice import BuildRequest, BuildState
from integrations.buildservice.azure_devops import AzureDevOpsBuildService
from integrations.errors import NotFound, PermanentError, TemporaryError, Unauthorized
from tests.fixtures.ado import NARROW_PIPELINE, RUN_DURATION, AdoDouble

QUEUE_PATH = r"/myproject/_apis/build/builds$"


def a_request(build_id: int = 42, commit: str = "3f2a9c1d") -> BuildRequest:
    return BuildRequest(
        build_id=build_id,
        application="churn-api",
        repository_url="https://dev.azure.com/myorg/myproject/_git/churn-api",
        commit=commit,
        model_name="churn",
        model_version=3,
        model_uri="https://models.blob.core.windows.net/models/churn/3/model.pkl",
        model_sha256="ab" * 32,
        image_repository="registry.example.com/churn-api",
        image_tag="3f2a9c1d-m3",
        test_command="pytest -q",
    )


def service_for(double: AdoDouble, **overrides: object) -> AzureDevOpsBuildService:
    settings: dict = {
        "organization_url": double.org_url,
        "project": double.project,
        "definition_id": double.definition_id,
        "pat": double.pat,
    }
    settings.update(overrides)
    return AzureDevOpsBuildService(**settings)


def read_all_logs(service: AzureDevOpsBuildService, run_id: str) -> list[str]:
    lines: list[str] = []
    while batch := service.logs(run_id, len(lines)):
        lines += batch
    return lines


def test_it_queues_a_run_that_goes_from_queued_to_running_to_succeeded(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    service.check()

    queued = service.queue(a_request())
    assert queued.state == BuildState.QUEUED
    assert queued.url.endswith(f"/_build/results?buildId={queued.external_id}")
    assert queued.url.startswith(ado_double.org_url)

    ado_double.start_build(queued.external_id)
    running = service.get(queued.external_id)
    assert running.state == BuildState.RUNNING
    assert running.started_at is not None and running.finished_at is None

    ado_double.advance(RUN_DURATION + 1)
    done = service.get(queued.external_id)
    assert done.state == BuildState.SUCCEEDED
    assert done.is_terminal and done.result_reason == ""
    assert done.finished_at is not None and done.finished_at > done.started_at


def test_it_sends_the_commit_and_the_model_as_template_parameters(ado_double: AdoDouble) -> None:
    service_for(ado_double).queue(a_request(build_id=42))

    [posted] = ado_double.requests("POST", QUEUE_PATH)
    assert posted["body"]["definition"]["id"] == ado_double.definition_id
    assert posted["body"]["sourceVersion"] == "3f2a9c1d"
    assert posted["body"]["templateParameters"] == {
        "commit": "3f2a9c1d",
        "modelName": "churn",
        "modelVersion": "3",
        "modelBlobUri": "https://models.blob.core.windows.net/models/churn/3/model.pkl",
        "modelSha256": "ab" * 32,
        "imageRepository": "registry.example.com/churn-api",
        "imageTag": "3f2a9c1d-m3",
        "dashboardBuildId": "42",
    }
    assert posted["user"] == ""  # a PAT goes with an empty Basic user name


def test_it_streams_new_log_lines_while_the_run_goes_on(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    run_id = service.queue(a_request()).external_id
    assert service.logs(run_id) == []  # nothing before the run starts

    ado_double.start_build(run_id)
    streamed: list[str] = []
    batches: list[list[str]] = []
    for _ in range(20):
        batch = service.logs(run_id, len(streamed))
        streamed += batch
        batches.append(batch)
        if service.get(run_id).is_terminal and not batch:
            break
        ado_double.advance(0.7)  # steps take one simulated second each
    else:
        pytest.fail("the run never finished")

    assert sum(1 for b in batches if b) >= 4, "lines should arrive over several calls"
    assert streamed == read_all_logs(service, run_id)
    assert streamed[0].endswith("##[section]Starting: Initialize job")
    assert any("templateParameters=" in line and '"dashboardBuildId": "42"' in line for line in streamed)
    assert streamed[-1].endswith("##[section]Finishing: Finalize Job")


def test_it_returns_log_lines_in_bounded_batches(ado_double: AdoDouble) -> None:
    service = service_for(ado_double, log_batch=3)
    run_id = service.queue(a_request()).external_id
    ado_double.start_build(run_id)
    ado_double.advance(RUN_DURATION + 1)

    assert len(service.logs(run_id)) == 3
    everything = read_all_logs(service, run_id)
    assert everything == read_all_logs(service_for(ado_double), run_id)
    assert len(everything) > 6


def test_it_reports_a_failed_run_with_the_failing_step(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    ado_double.force_outcome("failed")
    run_id = service.queue(a_request()).external_id
    ado_double.start_build(run_id)
    ado_double.advance(RUN_DURATION + 1)

    failed = service.get(run_id)
    assert failed.state == BuildState.FAILED
    assert "Run script: Bash exited with code '1'." in failed.result_reason
    assert any("##[error]" in line for line in read_all_logs(service, run_id))


def test_it_treats_partial_success_as_failure(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    run_id = service.queue(a_request()).external_id
    ado_double.complete_build(run_id, "partiallySucceeded")

    partial = service.get(run_id)
    assert partial.state == BuildState.FAILED
    assert "partially succeeded" in partial.result_reason


def test_it_cancels_a_running_build(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    run_id = service.queue(a_request()).external_id
    ado_double.start_build(run_id)

    service.cancel(run_id)
    [patch] = ado_double.requests("PATCH", rf"/_apis/build/builds/{run_id}$")
    assert patch["body"]["status"] == "cancelling"
    assert service.get(run_id).state == BuildState.RUNNING  # still cancelling

    ado_double.advance(1)
    cancelled = service.get(run_id)
    assert cancelled.state == BuildState.CANCELLED
    assert cancelled.is_terminal and "cancelled" in cancelled.result_reason


def test_it_leaves_a_finished_build_alone_when_asked_to_cancel_it(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    run_id = service.queue(a_request()).external_id
    ado_double.complete_build(run_id)

    service.cancel(run_id)
    assert ado_double.requests("PATCH") == []
    assert service.get(run_id).state == BuildState.SUCCEEDED


def test_it_finds_the_run_already_queued_for_a_build(ado_double: AdoDouble) -> None:
    first = service_for(ado_double)
    queued_41 = first.queue(a_request(build_id=41))
    queued_42 = first.queue(a_request(build_id=42))
    ado_double.start_build(queued_42.external_id)

    restarted_worker = service_for(ado_double)
    found = restarted_worker.find(42)
    assert found is not None
    assert found.external_id == queued_42.external_id
    assert found.state == BuildState.RUNNING
    assert restarted_worker.find(41).external_id == queued_41.external_id
    assert restarted_worker.find(4) is None  # "4" must not match "41" or "42"


def test_it_refuses_a_wrong_personal_access_token(ado_double: AdoDouble) -> None:
    service = service_for(ado_double, pat="not-the-pat")
    with pytest.raises(Unauthorized, match=r"personal access token was refused.*TF400813"):
        service.check()
    with pytest.raises(Unauthorized):
        service.queue(a_request())
    assert ado_double.control("GET", "builds")["count"] == 0


def test_it_treats_a_sign_in_page_as_unauthorized(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    service.check()
    ado_double.add_fault(
        method="GET",
        path_regex=r"/_apis/build/definitions/",
        status=203,
        headers={"Content-Type": "text/html; charset=utf-8"},
        body={"html": "<html><title>Azure DevOps Services | Sign In</title></html>"},
    )
    with pytest.raises(Unauthorized, match="sign-in page"):
        service.check()


def test_it_turns_a_503_into_a_temporary_error_without_retrying(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    run_id = service.queue(a_request()).external_id
    ado_double.add_fault(method="GET", path_regex=r"/_apis/build/builds/\d+$", status=503, retry_after=7)

    with pytest.raises(TemporaryError, match="HTTP 503") as caught:
        service.get(run_id)
    assert caught.value.retry_after == 7
    assert len(ado_double.requests("GET", r"/_apis/build/builds/\d+$")) == 1
    assert service.get(run_id).state == BuildState.QUEUED  # the fault was a one-off


def test_it_never_resends_a_queue_request_that_failed(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    service.check()
    ado_double.add_fault(method="POST", path_regex=QUEUE_PATH, status=500)

    with pytest.raises(TemporaryError):
        service.queue(a_request())
    assert len(ado_double.requests("POST", QUEUE_PATH)) == 1


def test_it_reports_an_unknown_pipeline_as_not_found(ado_double: AdoDouble) -> None:
    service = service_for(ado_double, definition_id=99)
    with pytest.raises(NotFound, match=r"pipeline 99 in project myproject.*Build pipeline 99 was not found"):
        service.check()
    with pytest.raises(NotFound, match="Build pipeline 99 was not found"):
        service.queue(a_request())


def test_it_reports_an_unknown_project_as_not_found(ado_double: AdoDouble) -> None:
    with pytest.raises(NotFound, match=r"TF200016.*nope"):
        service_for(ado_double, project="nope").check()


def test_it_reports_an_unknown_build_as_not_found(ado_double: AdoDouble) -> None:
    service = service_for(ado_double)
    with pytest.raises(NotFound, match="build 424242"):
        service.get("424242")
    with pytest.raises(NotFound, match="not an Azure DevOps build id"):
        service.get("run-7")


def test_it_explains_which_template_parameters_a_pipeline_refused(ado_double: AdoDouble) -> None:
    service = service_for(ado_double, definition_id=NARROW_PIPELINE)
    with pytest.raises(PermanentError, match="Unexpected parameter 'modelName'") as caught:
        service.queue(a_request())
    assert not isinstance(caught.value, NotFound | TemporaryError)


def test_it_turns_an_unreachable_server_into_a_temporary_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    service = AzureDevOpsBuildService(f"http://127.0.0.1:{port}/myorg", "myproject", 1, "pat")
    with pytest.raises(TemporaryError, match="no answer"):
        service.check()


def test_it_gives_up_on_a_slow_server_quickly(ado_double: AdoDouble) -> None:
    service = service_for(ado_double, timeout=(1.0, 0.3))
    service.check()
    ado_double.add_fault(method="GET", path_regex=r"/_apis/build/definitions/", delay=60)

    started = time.monotonic()
    with pytest.raises(TemporaryError, match="no answer"):
        service.check()
    assert time.monotonic() - started < 30  # far from the server's 60 s: our deadline ended it
