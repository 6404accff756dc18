"""How the tests and the benchmarks start Debian's chromium through PyPI playwright."""

from __future__ import annotations

from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def launch(playwright: Any, executable_path: str = CHROMIUM, **options: Any) -> Any:
    """A chromium Browser from a (sync or async) Playwright object."""
    return playwright.chromium.launch(
        executable_path=executable_path, args=CHROMIUM_ARGS, **options
    )
