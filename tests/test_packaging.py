"""`pip install .` (a real wheel, not editable) ships the default rules and can classify with them."""

from __future__ import annotations

import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.integration
def test_installed_wheel_classifies_with_the_shipped_rules(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("triage-*.whl")
    target = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(target)
    python = target / "bin" / "python"
    # Dependencies come from the test environment; triage itself only from the wheel.
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", purelib, str(wheel)],
        check=True,
        timeout=300,
    )
    script = (
        "import triage.rules as r, json; from triage.classify import Classifier\n"
        "d = r.default_rules_dir(); assert 'site-packages' in str(d), d\n"
        "c = Classifier(r.load_rules([d]))\n"
        "print(json.dumps([str(d), c.classify('', 'I want a refund, please send my money back', 'en').topic_ids]))\n"
    )
    out = subprocess.run([python, "-c", script], cwd=tmp_path, check=True, capture_output=True, text=True, timeout=300)
    assert '"refund"' in out.stdout
