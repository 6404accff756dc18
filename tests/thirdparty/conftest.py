"""Here the upstream of the relay fixtures is llm-mock-api (PyPI), not our simulator: its own
virtualenv is made on first use (tests/thirdparty/servers.py), and a fresh server runs per test,
so its log is the test's and its reply sequences start over."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.thirdparty.servers import ServerProcess, server_start, thirdparty_venv

RULES = Path(__file__).with_name("llm_mock_api_rules.json5")
LISTENING = re.compile(r"Listening on http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="session")
def llm_mock_api_bin() -> Path:
    return thirdparty_venv("llm-mock-api")


@pytest.fixture
def llm_mock_api(llm_mock_api_bin: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    """llm-mock-api on a free port with our rules, no delay between events unless a rule
    sets one, and a debug log (each request's message count, the rule it matched)."""
    command = [llm_mock_api_bin / "llm-mock-api", "start", "-p", "0", "-r", RULES]
    command += ["-l", "0", "-c", "0", "--log-level", "debug"]
    server = server_start(command, LISTENING, cwd=tmp_path)  # no ./config.json there
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def simulator_url(llm_mock_api: ServerProcess) -> str:
    """The upstream base URL `relay_settings` gives OPENAI_BASE_URL."""
    return llm_mock_api.url
