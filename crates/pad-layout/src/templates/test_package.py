"""Tests of {{name}}."""

import subprocess
import sys

from {{package}} import run


def test_run_names_the_snapshot():
    assert run("2024-01-01") == "{{name}} processed snapshot 2024-01-01"


def test_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "{{package}}", "--snapshot", "2024-01-02"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == "{{name}} processed snapshot 2024-01-02"
