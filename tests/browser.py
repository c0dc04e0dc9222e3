"""Headless Chromium for the screenshot tests: render HTML at a width, measure, save a PNG.

Chromium and ChromeDriver are Debian's (``scripts/chromium-setup.sh`` installs
them when missing); Selenium drives them.  Each page is shown as a phone shows
it at 390 CSS pixels (mobile emulation, so the viewport meta counts) or as a
desktop window at 1280.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "scripts" / "chromium-setup.sh"
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"

# What a reader would call "sticks out sideways": the page wider than the
# viewport, any visible element reaching past its right edge, or an element
# that clips or scrolls its content sideways.
_OVERFLOW_JS = """
const width = document.documentElement.clientWidth;
const found = [];
if (document.documentElement.scrollWidth > width) {
  found.push(`the page is ${document.documentElement.scrollWidth}px wide in a ${width}px viewport`);
}
for (const el of document.body.querySelectorAll("*")) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) continue;
  const what = `<${el.tagName.toLowerCase()}> "${(el.textContent || "").trim().slice(0, 40)}"`;
  if (box.right > width + 0.5) found.push(`${what} ends at ${Math.round(box.right)}px`);
  const overflow = getComputedStyle(el).overflowX;
  if (overflow !== "visible" && el.scrollWidth > el.clientWidth + 1) {
    found.push(`${what} hides ${el.scrollWidth - el.clientWidth}px sideways`);
  }
}
return [width, found];
"""


def find_chromium() -> tuple[str, str] | str:
    """(chromium, chromedriver), installing them if needed; or the reason they cannot be had."""
    try:
        result = subprocess.run(
            ["bash", str(SETUP)], capture_output=True, text=True, timeout=900, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SETUP.name}: {exc}"
    lines = result.stdout.split()
    if result.returncode != 0 or len(lines) != 2:
        return result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no Chromium"
    return lines[0], lines[1]


@dataclass
class Shot:
    width: int
    viewport: int
    overflow: list[str]
    path: Path


class Browser:
    """One headless Chromium for a test module; ``with Browser(chromium, driver) as b:``."""

    def __init__(self, chromium: str, driver: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="notifier-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={self._profile.name}",
        ):
            options.add_argument(flag)
        self._driver = webdriver.Chrome(service=Service(driver), options=options)

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._driver.quit()
        finally:
            self._profile.cleanup()

    def shoot(self, html: str, width: int, name: str) -> Shot:
        """Show ``html`` at ``width`` CSS px, save the whole page as NAME.png, measure overflow."""
        page = Path(self._profile.name) / f"{name}.html"
        page.write_text(html, encoding="utf-8")
        phone = width < 600
        metrics = {
            "width": width,
            "height": 900,
            "deviceScaleFactor": 2 if phone else 1,
            "mobile": phone,
        }
        self._driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        self._driver.get(page.as_uri())
        viewport, overflow = self._driver.execute_script(_OVERFLOW_JS)
        height = self._driver.execute_script(
            "return Math.ceil(document.body.getBoundingClientRect().height)"
        )
        metrics["height"] = max(200, min(int(height), 8000))
        self._driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        png = self._driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(png["data"]))
        return Shot(width, int(viewport), list(overflow), path)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
