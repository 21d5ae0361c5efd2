"""Headless Chromium looks at a transcript: what overflows, what text shows, screenshots.

Debian's Chromium is driven by playwright (never a downloaded browser). Every request but the
file itself is refused, so the page is seen as it renders offline (the exporter's CDN fonts
and scripts are optional decoration) and no test depends on the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, Route, sync_playwright

DESKTOP, PHONE = 1280, 390
EMBED = ".chatlog__embed"
MESSAGE = ".chatlog__message-container"

# Elements inside an embed whose content is wider than their box, or whose box reaches past
# the embed's or the window's right edge (1 px of slack for sub-pixel layout).
_OVERFLOWS = """
() => {
  const found = [];
  const width = document.documentElement.clientWidth;
  for (const embed of document.querySelectorAll('.chatlog__embed')) {
    const edge = embed.getBoundingClientRect().right;
    for (const el of [embed, ...embed.querySelectorAll('*')]) {
      const box = el.getBoundingClientRect();
      const wide = el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline';
      if (wide || box.right > edge + 1 || box.right > width + 1) {
        found.push(`${el.className || el.tagName}: ${(el.textContent || '').slice(0, 60)}`);
      }
    }
  }
  return found;
}
"""


@dataclass(frozen=True)
class Look:
    """What the browser saw at one width."""

    width: int
    screenshot: Path
    overflowing: list[str]
    page_width: int
    text: str


@dataclass(frozen=True)
class Shot:
    """A screenshot of a message whose embed title holds `title`, at `width`, into `path`.

    A progress message has many versions with one title: `middle` picks the one halfway
    through (an import in progress), otherwise the last is taken (the final state).
    """

    title: str
    path: Path
    width: int = DESKTOP
    middle: bool = False


def chromium() -> str:
    """Debian's Chromium, installed with apt on first use (idempotent; root or sudo)."""
    found = shutil.which("chromium")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]  # other engineers' apt runs
    for argv in (
        ["apt-get", *lock, "update", "-qq"],
        ["apt-get", *lock, "install", "-y", "-qq", "chromium"],
    ):
        subprocess.run([*sudo, *argv], env=env, check=True, timeout=1200, stdout=subprocess.DEVNULL)
    found = shutil.which("chromium")
    if not found:
        raise RuntimeError("apt-get installed chromium but it is not on PATH")
    return found


def look_at(
    transcript: Path,
    out_dir: Path,
    *,
    widths: tuple[int, ...] = (DESKTOP, PHONE),
    shots: tuple[Shot, ...] = (),
) -> list[Look]:
    """Open the transcript at each width: full-page screenshot, overflows, visible text.

    `shots` are element screenshots of single messages (for the README), taken on the way.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    looks: list[Look] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium())
        try:
            for width in widths:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.route("**/*", _this_file_only)
                page.goto(transcript.resolve().as_uri())
                _for_screenshots(page)
                screenshot = out_dir / f"{transcript.stem}-{width}.png"
                page.screenshot(path=screenshot, full_page=True)
                looks.append(
                    Look(
                        width=width,
                        screenshot=screenshot,
                        overflowing=list(page.evaluate(_OVERFLOWS)),
                        page_width=int(page.evaluate("document.documentElement.scrollWidth")),
                        text=page.inner_text("body"),
                    )
                )
                for shot in (s for s in shots if s.width == width):
                    _screenshot_message(page, shot)
                page.close()
        finally:
            browser.close()
    return looks


def _screenshot_message(page: Page, shot: Shot) -> None:
    title = page.locator(".chatlog__embed-title", has_text=shot.title)
    found = page.locator(MESSAGE).filter(has=title)
    count = found.count()
    if not count:
        raise AssertionError(f"no message with an embed titled {shot.title!r}")
    shot.path.parent.mkdir(parents=True, exist_ok=True)
    found.nth(count // 2 if shot.middle else count - 1).screenshot(path=shot.path)


def _this_file_only(route: Route) -> None:
    if route.request.url.startswith("file:"):
        route.continue_()
    else:
        route.abort()


def _for_screenshots(page: Page) -> None:
    """Let the page grow to its content (the exporter scrolls inside `.main`, which a
    full-page shot would cut at the window) and hide its fixed "generated on" bar."""
    page.add_style_tag(
        content="html, body, .main { height: auto !important; overflow: visible !important; }"
        " .footer, .meta-popout { display: none !important; }"
    )
