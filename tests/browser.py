"""Open an HTML file in headless chromium and read back its DOM after load, with the number of
images that decoded (shared by the report tests)."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess

import pytest

PROBE = (
    '<div id="image-probe">pending</div><script>window.addEventListener("load", function () {'
    "var images = document.images, decoded = 0;"
    "for (var i = 0; i < images.length; i++) {"
    "  if (images[i].complete && images[i].naturalWidth > 0) decoded++; }"
    'document.getElementById("image-probe").textContent = decoded + "/" + images.length;'
    "});</script>"
)


def chromium() -> str:
    """The chromium executable, or skip the test with the reason."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (Debian package 'chromium', see scripts/install.sh)")


def rendered(html_path: pathlib.Path, extra_body: str = "") -> tuple[str, int, int]:
    """(DOM after load, images decoded, images) of a copy of ``html_path`` with a probe script
    (and ``extra_body``) before ``</body>``, as headless chromium renders it."""
    text = html_path.read_text(encoding="utf-8")
    if "</body>" not in text:
        raise ValueError(f"{html_path} has no </body>")
    probe = html_path.with_name(f"{html_path.stem}.probe.html")
    probe.write_text(text.replace("</body>", f"{extra_body}{PROBE}</body>"), encoding="utf-8")
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = result.stdout
    found = re.search(r'<div id="image-probe">(\d+)/(\d+)</div>', dom)
    if found is None:
        raise AssertionError(f"the probe did not run (no load event?): {dom[-500:]!r}")
    return dom, int(found.group(1)), int(found.group(2))


#: An image that cannot decode: the probe must count it out (the check can fail).
BROKEN_IMAGE = '<img src="data:image/png;base64,bm90IGEgcG5n" alt="broken">'
