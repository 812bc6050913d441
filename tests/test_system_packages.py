"""scripts/system-packages.sh, which `make test` runs first: on a system without apt-get
it installs nothing and stops, naming the missing packages and the command to run."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "system-packages.sh"


def test_without_apt_get_it_names_the_missing_packages_and_the_command(tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with the shell's tools but no browser, bwrap, setfacl or apt-get
    bin_dir.mkdir()
    for tool in ("bash", "grep", "id"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    result = subprocess.run([str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True, text=True)
    assert result.returncode == 1
    assert "missing: chromium chromium-driver bubblewrap acl" in result.stderr
    assert "\n    sudo apt-get install -y chromium chromium-driver bubblewrap acl" in result.stderr
