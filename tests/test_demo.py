"""The README's demo command runs both crawls to the end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(120)
def test_demo_scrapes_every_page_of_both_crawls():
    result = subprocess.run(
        [sys.executable, "-m", "demo.crawl"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Pages scraped:     96 of 96" in result.stdout
    assert "Pages scraped:     120 of 120" in result.stdout
    assert result.stdout.count("Close reason:      finished") == 2
