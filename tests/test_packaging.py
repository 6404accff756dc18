"""The project installs as pyproject.toml declares it, from locks that pin all it declares."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
LOCK_TEST = ROOT / "requirements" / "lock-test.txt"


def declared(group: str | None = None) -> list[Requirement]:
    """The runtime requirements, or those of one optional group."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(line) for line in lines]


def locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (pinned version, hashes), from a lock in pip's requirements format."""
    entries: dict[str, tuple[str, list[str]]] = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        hashes = [w.removeprefix("--hash=") for w in words if w.startswith("--hash=")]
        requirement = Requirement(line.split(" --hash=", 1)[0])
        (pin,) = requirement.specifier  # exactly one `==`, or the unpacking fails
        assert pin.operator == "==", line
        entries[canonicalize_name(requirement.name)] = (pin.version, hashes)
    return entries


def needed_by_extras(requirement: Requirement) -> set[str]:
    """What `requirement`'s extras add (psycopg[binary] needs psycopg-binary), as the installed
    distribution's metadata says, for this machine's platform."""
    names: set[str] = set()
    if not requirement.extras:
        return names
    for line in metadata.requires(requirement.name) or []:
        needed = Requirement(line)
        for extra in requirement.extras:
            environment = {**default_environment(), "extra": extra}
            if needed.marker is not None and needed.marker.evaluate(environment):
                names.add(canonicalize_name(needed.name))
    return names


def assert_pinned(requirements: list[Requirement], lock: dict[str, tuple[str, list[str]]]):
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{name} is declared but not in the lock: regenerate it (README)"
        version, hashes = lock[name]
        assert requirement.specifier.contains(version, prereleases=True), (name, version)
        assert hashes, f"{name} has no hash in the lock"
        for extra_name in needed_by_extras(requirement):
            assert extra_name in lock, f"{extra_name} ({requirement}) is not in the lock"


def test_every_runtime_dependency_is_pinned_with_hashes_in_both_locks():
    assert_pinned(declared(), locked(LOCK))
    assert_pinned(declared(), locked(LOCK_TEST))


def test_every_test_dependency_is_pinned_with_hashes_in_the_test_lock():
    assert_pinned(declared("test"), locked(LOCK_TEST))


def test_the_runtime_lock_has_the_test_locks_pins_and_no_test_tool():
    """CI tests with lock-test.txt what a deploy installs from lock.txt: the same files."""
    runtime, test = locked(LOCK), locked(LOCK_TEST)
    for name, pin in runtime.items():
        assert test.get(name) == pin, name
    assert "pytest" not in runtime


def test_every_locked_entry_has_a_hash():
    for path in (LOCK, LOCK_TEST):
        entries = locked(path)
        assert len(entries) > 20, path
        assert all(hashes for _, hashes in entries.values()), path


def fresh_venv(path: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", path], check=True)
    return path / "bin" / "python"


def outside_env() -> dict[str, str]:
    """The environment without what would put this tree on the path by itself."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def pip(python: Path, *args: str | Path) -> None:
    command = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *args]
    subprocess.run(command, check=True, env=outside_env())


def run(python: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [python, *args], cwd=cwd, env=outside_env(), check=True, capture_output=True, text=True
    )
    return result.stdout


def test_an_editable_install_imports_this_tree_and_declares_the_dependencies(tmp_path):
    """`pip install -e .` failed on setuptools' flat-layout discovery before packages were
    named; only `streaming` and `webapp` are packages, tests/ and bench/ are not."""
    python = fresh_venv(tmp_path / "venv")
    pip(python, "--no-deps", "-e", ROOT)
    where = run(
        python,
        "-c",
        "import streaming, webapp; print(streaming.__file__, webapp.__file__)",
        cwd=tmp_path,
    )
    assert where.split() == [str(ROOT / "streaming/__init__.py"), str(ROOT / "webapp/__init__.py")]
    shown = run(python, "-m", "pip", "show", "streamrelay", cwd=tmp_path)
    (requires,) = [line for line in shown.splitlines() if line.startswith("Requires:")]
    names = {canonicalize_name(n.strip()) for n in requires.removeprefix("Requires:").split(",")}
    assert names == {canonicalize_name(r.name) for r in declared()}
    found = run(
        python, "-c", "import importlib.util as u; print(u.find_spec('tests'))", cwd=tmp_path
    )
    assert found.strip() == "None"


def test_the_locked_install_is_a_working_app(tmp_path):
    """What a deploy does: the runtime lock, hash-checked, then the project without deps; the
    app's settings load and Django's checks pass, outside the tree."""
    python = fresh_venv(tmp_path / "venv")
    started = time.monotonic()
    # The same files as a deploy's; compiling every module to bytecode first is most of the
    # install's CPU, and the check below compiles what it imports anyway.
    pip(python, "--no-compile", "--require-hashes", "-r", LOCK)
    pip(python, "--no-deps", "-e", ROOT)
    print(f"locked install: {time.monotonic() - started:.1f} s")
    run(python, "-m", "pip", "check", cwd=tmp_path)
    env = {**outside_env(), "DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    check = [python, "-m", "django", "check", "--settings", "webapp.settings"]
    subprocess.run(check, cwd=tmp_path, env=env, check=True)
