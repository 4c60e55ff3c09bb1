"""Headless Chromium for tests of static HTML (the fairness report): console errors, the DOM after scripts ran,
a screenshot, and every URL the page requested.

    from tests.support import browser
    chromium = browser.find_chromium()          # None (see browser.unavailable_reason()) -> skip
    page = browser.render_page("report.html", "shot.png", 1280, 2000, fragment="threshold=0.75")
    page.console_errors, page.dom, page.requests, page.screenshot, page.evaluate_result
    errors, png = browser.render("report.html", "shot.png", 1280, 2000)

How: Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: the browser reads
NUL-terminated JSON commands on fd 3 and writes replies/events on fd 4), from the standard library alone. That is
the reliable way to get console errors: Runtime.consoleAPICalled (console.error/assert), Runtime.exceptionThrown
(uncaught exceptions) and Log.entryAdded at level "error" (failed loads, CSP violations) each say what they are,
where `--enable-logging=stderr` prints every console message at one log level. The page is loaded from file://,
the test waits until `document.body.dataset.rendered` is set (the report's script sets it when done) or the load
event plus a timeout, then reads the DOM (outerHTML) and takes a PNG screenshot (Page.captureScreenshot).
If the pipe handshake fails (an unusual Chromium build), `render_page` falls back to the command line:
`--dump-dom` (DOM after scripts) + `--screenshot` + `--enable-logging=stderr --v=0`, where *every* console line
counts as an error (the report never logs), and `script=` is not supported.

Finding Chromium: $TFPRETRAIN_CHROMIUM, then chromium / chromium-browser / google-chrome(-stable) on PATH. If none
and we are root with apt-get, `apt-get install -y chromium` is tried once (apt-get update first if the package is
unknown; 300 s in all; a failure is remembered for a day in a marker file in the temp dir, and
TFPRETRAIN_NO_BROWSER_INSTALL=1 disables the attempt). Without a browser, tests skip with unavailable_reason().
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import functools
import json
import os
import pathlib
import re
import select
import shutil
import struct
import subprocess
import tempfile
import time
import zlib
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_TIMEOUT_S = 300
_FAILED_MARKER = pathlib.Path(tempfile.gettempdir()) / "tfpretrain-chromium-install-failed"
_LOCK = pathlib.Path(tempfile.gettempdir()) / "tfpretrain-chromium-install.lock"
_reason: list[str] = []


def _which() -> str | None:
    override = os.environ.get("TFPRETRAIN_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else shutil.which(override)
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _apt_install(deadline: float) -> str:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt(*args: str) -> subprocess.CompletedProcess:
        left = max(1.0, deadline - time.monotonic())
        return subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True, timeout=left)

    result = apt("install", "-y", "-q", "chromium")
    if result.returncode != 0:
        update = apt("update", "-q")
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-300:]}"
        result = apt("install", "-y", "-q", "chromium")
    return "" if result.returncode == 0 else f"apt-get install chromium failed: {result.stderr.strip()[-300:]}"


@functools.cache
def find_chromium() -> str | None:
    """The Chromium executable, installing it with apt-get when possible (once per process; failures for a day)."""
    path = _which()
    if path:
        return path
    if os.environ.get("TFPRETRAIN_CHROMIUM"):
        _reason.append(f"TFPRETRAIN_CHROMIUM={os.environ['TFPRETRAIN_CHROMIUM']} is not an executable")
        return None
    if os.environ.get("TFPRETRAIN_NO_BROWSER_INSTALL"):
        _reason.append("no chromium on PATH and TFPRETRAIN_NO_BROWSER_INSTALL is set")
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _reason.append(f"no {' / '.join(CANDIDATES)} on PATH (and not root with apt-get to install chromium)")
        return None
    try:
        if time.time() - _FAILED_MARKER.stat().st_mtime < 86400:
            _reason.append(f"no chromium on PATH; installing it failed recently ({_FAILED_MARKER.read_text()[:300]})")
            return None
    except OSError:
        pass
    deadline = time.monotonic() + INSTALL_TIMEOUT_S
    with open(_LOCK, "w") as lock:  # one installer at a time (parallel test processes)
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = _which()
        if path:
            return path
        try:
            error = _apt_install(deadline)
        except subprocess.TimeoutExpired:
            error = f"apt-get did not finish within {INSTALL_TIMEOUT_S} s"
        except OSError as e:
            error = f"apt-get could not run: {e}"
        path = _which()
        if path:
            return path
        error = error or "apt-get install chromium succeeded but no chromium is on PATH"
        try:
            _FAILED_MARKER.write_text(error)
        except OSError:
            pass
        _reason.append(error)
        return None


def unavailable_reason() -> str:
    """Why find_chromium() returned None (for pytest.skip)."""
    return _reason[-1] if _reason else "headless chromium not available"


def _flags(profile: str, width: int, height: int) -> list[str]:
    return [
        "--headless=new",
        "--disable-gpu",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-sync",
        "--disable-component-update",
        "--disable-default-apps",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--force-color-profile=srgb",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ]


@dataclasses.dataclass
class Page:
    console_errors: list[str]
    dom: str
    screenshot: str
    requests: list[str]
    evaluate_result: Any = None
    console_messages: list[str] = dataclasses.field(default_factory=list)
    mode: str = "cdp"


class BrowserError(RuntimeError):
    pass


class _Pipe:
    """A DevTools-protocol session over --remote-debugging-pipe."""

    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int):
        self.proc, self.write_fd, self.read_fd = proc, write_fd, read_fd
        self.buffer = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for the browser")
            ready, _, _ = select.select([self.read_fd], [], [], min(left, 0.5))
            if not ready:
                if self.proc.poll() is not None:
                    raise BrowserError(f"browser exited with code {self.proc.returncode}")
                continue
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                raise BrowserError("browser closed the DevTools pipe")
            self.buffer += chunk
        message, _, self.buffer = self.buffer.partition(b"\0")
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0):
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.write_fd, data) :]
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def wait_event(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        seen = len(self.events)
        if any(e["method"] == method for e in self.events):
            return True
        while time.monotonic() < deadline:
            try:
                reply = self._read_message(deadline)
            except BrowserError:
                return False
            if "method" in reply:
                self.events.append(reply)
                if reply["method"] == method:
                    return True
        return any(e["method"] == method for e in self.events[seen:])


def _remote_args(args: list[dict[str, Any]]) -> str:
    parts = []
    for arg in args:
        if "value" in arg:
            parts.append(arg["value"] if isinstance(arg["value"], str) else json.dumps(arg["value"]))
        else:
            parts.append(arg.get("description", arg.get("type", "?")))
    return " ".join(parts)


def _collect(events: list[dict[str, Any]]) -> tuple[list[str], list[str], list[str]]:
    errors, messages, requests = [], [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = f"console.{params.get('type')}: {_remote_args(params.get('args', []))}"
            messages.append(text)
            if params.get("type") in ("error", "assert"):
                errors.append(text)
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exc = details.get("exception", {})
            errors.append(f"uncaught: {exc.get('description') or details.get('text')}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            messages.append(f"log.{entry.get('level')}: {entry.get('text')}")
            if entry.get("level") == "error":
                errors.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            requests.append(params.get("request", {}).get("url", ""))
    return errors, messages, requests


def _render_cdp(
    chromium: str, url: str, screenshot: str, width: int, height: int, script: str | None, timeout: float
) -> Page:
    to_browser_r, to_browser_w = os.pipe()
    from_browser_r, from_browser_w = os.pipe()

    def child() -> None:  # the browser reads fd 3 and writes fd 4
        a, b = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10), fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    with tempfile.TemporaryDirectory(prefix="tfpretrain-chromium-") as profile:
        proc = subprocess.Popen(
            [chromium, *_flags(profile, width, height), "--remote-debugging-pipe", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child,
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        pipe = _Pipe(proc, to_browser_w, from_browser_r)
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.call(f"{domain}.enable", session=session)
            pipe.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
            pipe.events.clear()
            pipe.call("Page.navigate", {"url": url}, session=session)
            pipe.wait_event("Page.loadEventFired", timeout)

            def evaluate(expression: str) -> Any:
                result = pipe.call(
                    "Runtime.evaluate",
                    {"expression": expression, "returnByValue": True, "awaitPromise": True},
                    session=session,
                    timeout=timeout,
                )
                if "exceptionDetails" in result:
                    raise BrowserError(f"evaluate failed: {result['exceptionDetails']}")
                return result.get("result", {}).get("value")

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                state = evaluate(
                    "document.body && document.body.hasAttribute('data-rendered') ? "
                    "document.body.getAttribute('data-rendered') : 'no protocol'"
                )
                if state not in (None, "0"):
                    break
                time.sleep(0.05)
            result = evaluate(script) if script else None
            evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(1))))")
            dom = evaluate("document.documentElement.outerHTML")
            shot = pipe.call("Page.captureScreenshot", {"format": "png"}, session=session, timeout=timeout)
            pathlib.Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
            errors, messages, requests = _collect(pipe.events)
            try:
                pipe.call("Browser.close", timeout=5)
            except BrowserError:
                pass
            return Page(errors, dom, screenshot, requests, result, messages, "cdp")
        finally:
            os.close(to_browser_w)
            os.close(from_browser_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_CONSOLE_LINE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\]\s*(.*)")


def _render_cli(chromium: str, url: str, screenshot: str, width: int, height: int, timeout: float) -> Page:
    with tempfile.TemporaryDirectory(prefix="tfpretrain-chromium-") as profile:
        flags = _flags(profile, width, height) + ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000"]
        dumped = subprocess.run([chromium, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=timeout)
    with tempfile.TemporaryDirectory(prefix="tfpretrain-chromium-") as profile:
        flags = _flags(profile, width, height) + ["--virtual-time-budget=5000"]
        subprocess.run([chromium, *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=timeout)
    messages = [m.group(1) for m in map(_CONSOLE_LINE.search, dumped.stderr.splitlines()) if m]
    return Page(list(messages), dumped.stdout, screenshot, [], None, messages, "cli")


def render_page(
    html_path: str | os.PathLike,
    screenshot_path: str | os.PathLike,
    width: int = 1280,
    height: int = 1600,
    *,
    fragment: str = "",
    query: str = "",
    script: str | None = None,
    timeout: float = 60.0,
) -> Page:
    """Load a local HTML file in headless Chromium: console errors, DOM, screenshot (PNG), requested URLs.

    fragment / query: appended to the file URL ("threshold=0.75" -> ...#threshold=0.75). script: a JavaScript
    expression evaluated after the page rendered (awaited if a promise); its value is Page.evaluate_result.
    """
    chromium = find_chromium()
    if chromium is None:
        raise BrowserError(unavailable_reason())
    url = (
        pathlib.Path(html_path).resolve().as_uri()
        + (f"?{query}" if query else "")
        + (f"#{fragment}" if fragment else "")
    )
    screenshot_path = os.fspath(screenshot_path)
    try:
        return _render_cdp(chromium, url, screenshot_path, width, height, script, timeout)
    except BrowserError as error:
        if script is not None or not str(error).startswith(("timed out", "browser")):
            raise
        return _render_cli(chromium, url, screenshot_path, width, height, timeout)


def render(
    html_path: str | os.PathLike, screenshot_path: str | os.PathLike, width: int = 1280, height: int = 1600
) -> tuple[list[str], str]:
    """(console errors, screenshot path) of a local HTML file; see render_page for the DOM and more."""
    page = render_page(html_path, screenshot_path, width, height)
    return page.console_errors, page.screenshot


# ------------------------------------------------------------------------------------------------- PNG pixels


def read_png(path: str | os.PathLike) -> tuple[int, int, list[tuple[int, ...]]]:
    """(width, height, pixels as RGB tuples, row-major). Pillow when installed, else a small zlib/struct decoder
    (8-bit, non-interlaced greyscale/RGB/RGBA: what Chromium writes)."""
    try:
        from PIL import Image
    except ImportError:
        return _decode_png(pathlib.Path(path).read_bytes())
    with Image.open(path) as image:
        image = image.convert("RGB")
        return image.width, image.height, list(image.getdata())


def _decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, chunk = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        elif kind == b"IEND":
            break
    width, height, depth, colour, _, _, interlace = header
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    raw = zlib.decompress(idat)
    stride = width * channels
    prev = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        prev = line
        for x in range(0, stride, channels):
            px = line[x : x + channels]
            pixels.append((px[0], px[0], px[0]) if channels <= 2 else tuple(px[:3]))
    return width, height, pixels


def crop(image: tuple[int, int, list[tuple[int, ...]]], left: int, top: int, right: int, bottom: int):
    """The pixels of a box (clipped to the image)."""
    width, height, pixels = image
    left, top = max(0, left), max(0, top)
    right, bottom = min(width, right), min(height, bottom)
    return [pixels[y * width + x] for y in range(top, bottom) for x in range(left, right)]
