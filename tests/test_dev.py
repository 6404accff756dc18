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


def test_it_installs_from_the_lock_again_only_when_the_lock_or_pyproject_changed(tmp_path):
    """The stamp was the text of requirements*.txt, unpinned ranges: a new release reached CI
    without any file changing. Now what is installed is the lock's files, and the stamp is
    the lock's and pyproject's hash."""
    dev = load_dev()
    (tmp_path / "requirements").mkdir()
    lock = tmp_path / "requirements" / "lock-test.txt"
    lock.write_text("a==1 --hash=sha256:00\n")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text("[project]\n")
    dev.ROOT, dev.LOCKS, dev.VENV = tmp_path, tmp_path / "requirements", tmp_path / "venv"
    dev.VENV.mkdir()
    dev.PYTHON = Path(sys.executable)  # exists: no venv is made
    calls: list[tuple[str, ...]] = []
    dev.sh = lambda *args, **kwargs: calls.append(tuple(str(a) for a in args))

    def installs() -> list[tuple[str, ...]]:
        calls.clear()
        dev.ensure_venv("lock-test.txt")
        return [c[3:] for c in calls]

    expected = [
        ("install", "-q", "--require-hashes", "-r", str(lock)),
        ("install", "-q", "--no-deps", "-e", str(tmp_path)),
    ]
    assert installs() == expected
    assert installs() == []
    pyproject.write_text("[project]\nname = 'x'\n")
    assert installs() == expected
    lock.write_text("a==2 --hash=sha256:11\n")
    assert installs() == expected
    assert installs() == []
