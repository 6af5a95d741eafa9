"""Headless Chromium (Debian's) driven by Playwright against a live ASGI server."""

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.live import LiveServer

CHROMIUM = os.environ.get("STUDIO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Assertions wait for what the page shows, as long as actions may take: a loaded CI
# machine can take more than Playwright's default 5 s to draw and push an image.
expect.set_options(timeout=15_000)


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture
def studio_server(transactional_db):
    from studio.asgi import application
    from studio.worker import Worker

    server = LiveServer(application).start()
    # The in-process worker lives on the server's event loop, as under `make run`.
    worker = Worker(name="browser-tests", poll_seconds=0.5)
    running = server.run_in_loop(worker.run_forever())
    yield server
    server.run_in_loop(worker.stop(timeout=5)).result(timeout=10)
    running.result(timeout=10)
    server.stop()


# Package scope: Playwright's loop must stop before the non-browser tests run.
@pytest.fixture(scope="package")
def browser():
    if not os.path.exists(CHROMIUM):
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright's sync API keeps an event loop running in this thread while the test's
    # own database calls stay synchronous, so Django's async guard is lifted for
    # browser tests only.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            yield browser
            browser.close()
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def open_page(browser, base_url):
    context = browser.new_context(base_url=base_url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type == "error" else None,
    )
    page.console_errors = errors  # a test expecting an error page may remove its entry
    return context, page, errors


@pytest.fixture
def page(browser, studio_server):
    context, page, errors = open_page(browser, studio_server.url)
    yield page
    context.close()
    assert not errors, f"The page logged errors: {errors}"


@pytest.fixture
def second_page(browser, studio_server):
    """Another person's browser, with its own cookies."""
    context, page, errors = open_page(browser, studio_server.url)
    yield page
    context.close()
    assert not errors, f"The second page logged errors: {errors}"


@pytest.fixture
def log_in(studio_server):
    def log_in(page, user):
        from django.test import Client

        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"]
        page.context.add_cookies(
            [{"name": "sessionid", "value": cookie.value, "url": studio_server.url}]
        )
        return page

    return log_in
