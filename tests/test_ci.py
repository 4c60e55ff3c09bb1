"""CI installs every system program a test requires (tests never install anything themselves)."""

import re

from tests.support import ROOT
from tests.support.system_tools import INSTALL


def test_ci_installs_every_required_system_tool():
    script = (ROOT / ".ci" / "run").read_text()
    install = re.search(r"apt-get install[^\n]*", script)
    assert install, ".ci/run installs nothing"
    assert all(tool in install.group(0).split() for tool in INSTALL), (install.group(0), sorted(INSTALL))
    assert "TFPRETRAIN_CI=1" in script and script.rstrip().endswith("make test")
