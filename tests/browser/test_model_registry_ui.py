"""The model registry as people use it: through the browser, against a live server."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:
    pytest.fail("playwright is not installed; run scripts/install-test-deps.sh", pytrace=False)

pytestmark = pytest.mark.browser

MODEL = "churn"
NONE = "\u2013"  # the en dash templates show for a missing value
CONTENT = b"\x80\x04pretend-pickled-model\n" * 64


def create_model(page: Page, name: str = MODEL, description: str = "Predicts churn.") -> None:
    page.goto("/models/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill(description)
    page.get_by_role("button", name="Create model").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Model {name}")


def open_register_form(page: Page, model: str = MODEL) -> None:
    page.goto(f"/models/{model}/")
    page.get_by_role("link", name="Register a version").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Register a version of {model}")


def submit_version(
    page: Page,
    *,
    content: bytes | None = CONTENT,
    metrics: str = "",
    key: str = "",
    framework: str = "",
    filename: str = "model.pkl",
) -> int:
    """Fill the register form, submit it and wait for the page it leads to.

    Returns the HTTP status of the submission itself (302 when it redirected).
    """
    if content is not None:
        file = {"name": filename, "mimeType": "application/octet-stream", "buffer": content}
        page.get_by_label("File").set_input_files(file)
    page.get_by_label("Object key").fill(key)
    page.get_by_label("Metrics").fill(metrics)
    page.get_by_label("Framework").fill(framework)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Register").click()
    final = navigation.value
    submitted = final.request.redirected_from
    response = submitted.response() if submitted else final
    assert submitted is None or submitted.method == "POST"
    return response.status


def fact(page: Page, term: str) -> Any:
    """The <dd> of a term in the version page's fact list."""
    return page.locator(f"dl.facts dt:text-is('{term}') + dd")


def metric_cell(page: Page, name: str) -> Any:
    return page.locator("tr", has=page.locator(f"td:text-is('{name}')")).locator("td.num")


def test_scientist_registers_a_version_and_sees_it_audited(page: Page, login: Any, screenshot: Any) -> None:
    login(page, "scientist", "data-scientist")
    create_model(page)
    open_register_form(page)

    status = submit_version(page, metrics='{"auc": 0.91, "f1": 0.84}', framework="sklearn 1.5")

    assert status == 302
    assert page.url.endswith(f"/models/{MODEL}/versions/1/")
    sha256 = hashlib.sha256(CONTENT).hexdigest()
    success = page.locator(".messages li.success")
    expect(success).to_contain_text(f"Registered {MODEL} v1 (sha256 {sha256[:12]}")
    expect(fact(page, "sha256")).to_have_text(sha256)
    expect(fact(page, "Size")).to_contain_text(f"({len(CONTENT)} bytes)")
    expect(fact(page, "File")).to_have_text("model.pkl")
    expect(fact(page, "Framework")).to_have_text("sklearn 1.5")
    expect(fact(page, "Registered")).to_contain_text("by scientist")
    expect(page.locator("h1 .badge")).to_have_text("active")
    expect(metric_cell(page, "auc")).to_have_text("0.91")
    expect(metric_cell(page, "f1")).to_have_text("0.84")
    screenshot(page, "version-page")

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit log")
    row = page.locator("tbody tr", has=page.locator("code:text-is('model_version.register')"))
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("scientist")
    expect(row).to_contain_text(f"{MODEL} v1")
    expect(row).to_contain_text(sha256)


def test_uploading_the_same_file_again_returns_the_existing_version(page: Page, login: Any) -> None:
    login(page, "scientist", "data-scientist")
    create_model(page)
    open_register_form(page)
    submit_version(page, metrics='{"auc": 0.91}')
    assert page.url.endswith(f"/models/{MODEL}/versions/1/")

    open_register_form(page)
    status = submit_version(page, metrics='{"auc": 0.5}', filename="renamed.bin")

    assert status == 302
    assert page.url.endswith(f"/models/{MODEL}/versions/1/")
    expect(page.locator(".messages li")).to_have_text(f"This content is already registered as {MODEL} v1.")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{MODEL} v1")
    # The first registration's facts stand; the second submission changed nothing.
    expect(fact(page, "File")).to_have_text("model.pkl")
    expect(metric_cell(page, "auc")).to_have_text("0.91")

    from models_registry.models import ModelVersion

    assert ModelVersion.objects.filter(model__name=MODEL).count() == 1


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"metrics": "[1,2]"}, "metrics must be a JSON object of numbers", id="metrics-list"),
        pytest.param({"metrics": '{"auc": '}, "metrics is not valid JSON", id="metrics-not-json"),
        pytest.param({"content": b""}, "The file is empty; a model version needs content.", id="empty-file"),
        pytest.param(
            {"key": f"{MODEL}/elsewhere/model.pkl"},
            "Upload a file or give an object key (exactly one).",
            id="file-and-key",
        ),
        pytest.param({"content": None}, "Upload a file or give an object key (exactly one).", id="neither"),
    ],
)
def test_bad_input_shows_a_form_error_not_a_server_error(
    page: Page, login: Any, fields: dict[str, Any], error: str
) -> None:
    login(page, "scientist", "data-scientist")
    create_model(page)
    open_register_form(page)

    status = submit_version(page, **fields)

    assert status == 200, f"expected the form again, got HTTP {status}"
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Register a version of {MODEL}")
    expect(page.locator("ul.errorlist")).to_contain_text(error)
    # What was typed is still there to correct.
    expect(page.get_by_label("Metrics")).to_have_value(fields.get("metrics", ""))

    from models_registry.models import ModelVersion

    assert not ModelVersion.objects.exists()


def test_model_page_lines_up_metrics_and_compares_two_versions(
    page: Page, login: Any, screenshot: Any
) -> None:
    login(page, "scientist", "data-scientist")
    create_model(page)
    open_register_form(page)
    submit_version(page, content=b"model one", metrics='{"auc": 0.91, "f1": 0.84}', framework="xgboost")
    open_register_form(page)
    submit_version(page, content=b"model two", metrics='{"auc": 0.93, "f1": 0.80, "latency_ms": 12}')

    page.get_by_role("link", name=MODEL, exact=True).click()
    headers = page.locator("thead th").all_inner_texts()
    assert [h.lower() for h in headers[3:6]] == ["auc", "f1", "latency_ms"]
    newest, oldest = page.locator("tbody tr").all()
    assert newest.locator("td.num").all_inner_texts()[:3] == ["0.93", "0.8", "12"]
    assert oldest.locator("td.num").all_inner_texts()[:3] == ["0.91", "0.84", NONE]
    screenshot(page, "model-page")

    page.get_by_label("compare v1").check()
    page.get_by_label("compare v2").check()
    page.get_by_role("button", name="Compare the two checked versions").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"{MODEL}: v1 vs v2")
    rows = {
        tr.locator("td").first.inner_text(): tr.locator("td").all_inner_texts()
        for tr in page.locator("table").first.locator("tbody tr").all()
    }
    assert rows["auc"] == ["auc", "0.91", "0.93", "0.0200"]
    assert rows["f1"] == ["f1", "0.84", "0.8", "-0.0400"]
    assert rows["latency_ms"] == ["latency_ms", NONE, "12", NONE]


def test_compare_needs_two_checked_versions(page: Page, login: Any) -> None:
    login(page, "scientist", "data-scientist")
    create_model(page)
    for content in (b"model one", b"model two"):
        open_register_form(page)
        submit_version(page, content=content)
    page.goto(f"/models/{MODEL}/")

    page.get_by_label("compare v2").check()
    page.get_by_role("button", name="Compare the two checked versions").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Model {MODEL}")
    expect(page.locator(".messages li.error")).to_have_text("Pick two versions to compare.")


def scientist_registers_v1(new_page: Any, login: Any) -> None:
    scientist = new_page()
    login(scientist, "scientist", "data-scientist")
    create_model(scientist)
    open_register_form(scientist)
    submit_version(scientist, metrics='{"auc": 0.91}')


def test_on_call_can_look_but_not_register(new_page: Any, login: Any) -> None:
    scientist_registers_v1(new_page, login)

    page = new_page()
    login(page, "oncall", "on-call")
    page.locator("header nav").get_by_role("link", name="Models").click()
    expect(page.get_by_role("link", name=MODEL, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Create model")).to_have_count(0)
    page.get_by_role("link", name=MODEL, exact=True).click()
    expect(page.get_by_role("link", name="v1", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="Register a version")).to_have_count(0)

    response = page.goto(f"/models/{MODEL}/versions/new/")

    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("403")
    expect(page.locator("main")).to_contain_text("Your role does not allow this action.")
    expect(page.locator("form input[type=file]")).to_have_count(0)

    page.goto(f"/models/{MODEL}/versions/1/")
    expect(page.get_by_role("heading", name="Change status")).to_have_count(0)


def test_release_manager_blocks_a_version_with_a_reason(new_page: Any, login: Any, screenshot: Any) -> None:
    scientist_registers_v1(new_page, login)

    page = new_page()
    login(page, "manager", "release-manager")
    page.goto(f"/models/{MODEL}/versions/1/")
    expect(page.locator("h1 .badge")).to_have_text("active")

    # A block without a reason is refused with a form error.
    page.get_by_label("New status").select_option("blocked")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("ul.errorlist")).to_contain_text("Blocking a version needs a reason.")
    expect(page.locator("h1 .badge")).to_have_text("active")

    page.get_by_label("New status").select_option("blocked")
    page.get_by_label("Reason").fill("Trained on leaked labels (INC-4711).")
    page.get_by_role("button", name="Change status").click()

    expect(page.locator(".messages li.success")).to_have_text(f"{MODEL} v1 is now blocked.")
    expect(page.locator("h1 .badge")).to_have_text("blocked")
    expect(fact(page, "Reason")).to_have_text("Trained on leaked labels (INC-4711).")
    # Blocked is final: no status change is offered any more.
    expect(page.get_by_role("heading", name="Change status")).to_have_count(0)
    screenshot(page, "version-page-blocked")

    page.goto(f"/models/{MODEL}/")
    expect(page.locator("tbody tr").first.locator(".badge")).to_have_text("blocked")

    from models_registry.models import ModelVersion

    version = ModelVersion.objects.get(model__name=MODEL, version=1)
    assert (version.status, version.status_reason) == ("blocked", "Trained on leaked labels (INC-4711).")
