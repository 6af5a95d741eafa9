"""Pytest fixtures for the fake OpenAI server; register with `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """One real server for the whole session; use `fake_openai` in tests."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The shared fake server, with requests, faults and knobs cleared for this test."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
