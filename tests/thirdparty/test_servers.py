"""The third-party servers' install stays out of the project's virtualenv."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tests.thirdparty.servers import VENVS


def test_llm_mock_api_is_in_its_own_virtualenv_not_in_ours(llm_mock_api_bin: Path) -> None:
    assert importlib.util.find_spec("llm_mock_api") is None  # not importable from .venv
    assert llm_mock_api_bin.parent.parent == VENVS
    where = subprocess.run(
        [llm_mock_api_bin / "python", "-c", "import sys, llm_mock_api; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where) == llm_mock_api_bin.parent and Path(where) != Path(sys.prefix)
    assert (VENVS / "llm-mock-api" / ".installed-lock").exists()
