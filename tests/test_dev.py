"""The README's run command, as far as it prepares things: the first login is made once."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_dev():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.PYTHON = sys.executable  # the test run's virtualenv
    return module


def test_the_first_login_is_made_once_and_a_second_start_goes_on(tmp_path, monkeypatch, capsys):
    """`dev.py run` a second time found the user with `manage.py shell`, whose first line of
    output (Django's count of models it imported) hid the answer: it tried to create `admin`
    again and stopped."""
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    dev = load_dev()
    dev.ensure_first_login()
    assert "First login created" in capsys.readouterr().out
    dev.ensure_first_login()  # raised CalledProcessError before
    assert "First login created" not in capsys.readouterr().out
