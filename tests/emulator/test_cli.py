"""``disputedesk emulator`` refuses bad options before serving."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from disputedesk import errors
from disputedesk.cli.main import app


@pytest.mark.parametrize("args", [["--error-rate", "1.5"], ["--rate-limit", "-1"],
                                  ["--webhook", "ftp://example.com/x"]])
def test_emulator_command_refuses_bad_options(args: list[str]) -> None:
    result = CliRunner().invoke(app, ["emulator", "--port", "0", *args])
    assert isinstance(result.exception, errors.ConfigError)


def test_emulator_command_is_listed_in_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "emulator" in result.output
