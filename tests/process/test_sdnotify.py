"""The shipped unit passes `systemd-analyze verify` and rates 2.0 or lower on
`systemd-analyze security --offline=true` (where systemd-analyze exists)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "scsd.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed here")


def _unit_with_real_binary(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's scsd (verify checks it exists)."""
    scsd = Path(sys.executable).with_name("scsd")
    text = UNIT.read_text().replace("ExecStart=/usr/local/bin/scsd serve", f"ExecStart={scsd} serve")
    assert f"ExecStart={scsd} serve" in text, "the unit's ExecStart line changed; update this test"
    copy = tmp_path / "scsd.service"
    copy.write_text(text)
    return copy


def test_unit_is_type_notify_with_watchdog_and_state_directory() -> None:
    text = UNIT.read_text()
    expected = ("Type=notify", "NotifyAccess=main", "WatchdogSec=", "Restart=on-failure", "DynamicUser=yes")
    for line in (*expected, "StateDirectory=scsd", "ExecStart=/usr/local/bin/scsd serve"):
        assert line in text


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = _unit_with_real_binary(tmp_path)
    done = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


@needs_analyze
def test_systemd_analyze_security_rates_two_or_lower(tmp_path: Path) -> None:
    assert ANALYZE is not None
    unit = _unit_with_real_binary(tmp_path)
    done = subprocess.run(
        [ANALYZE, "security", "--offline=true", str(unit)], capture_output=True, text=True, timeout=60
    )
    found = re.search(r"Overall exposure level for scsd\.service: (\d+\.\d+)", done.stdout)
    assert found, done.stdout[-500:] + done.stderr[-500:]
    assert float(found.group(1)) <= 2.0
