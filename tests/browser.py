"""Open a self-contained HTML page in headless Chromium and check it: console errors, network
requests, figures (loaded, non-blank) and a full-page screenshot.

Stdlib only for the browser side: Chromium is driven over the DevTools protocol on
``--remote-debugging-pipe`` (NUL-terminated JSON; the browser reads fd 3 and writes fd 4), so no
websocket or webdriver library is needed. Figure pixels are decoded with matplotlib.
"""
from __future__ import annotations

import base64
import fcntl
import functools
import io
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_FIGURE_SELECTOR = "figure img, figure svg, img.figure"
MAX_SCREENSHOT_HEIGHT = 16000   # Chromium's capture fails or blows up memory on very tall pages
BLANK_PIXEL_FRACTION = 0.005    # a figure with fewer differing pixels than this is "one colour"
BLANK_COLOUR_TOLERANCE = 8      # per channel, out of 255: anti-aliasing and JPEG noise are not content

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--remote-debugging-pipe", "--window-size=1280,900", "--hide-scrollbars", "--mute-audio",
    # a report check must see only the page's own traffic, so silence everything the browser does itself
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--metrics-recording-only", "--disable-default-apps", "--disable-extensions", "--no-pings",
    "--disable-client-side-phishing-detection", "--disable-domain-reliability", "--disable-crash-reporter",
    "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    # /dev/shm is small in containers; Chromium crashes when it runs out there
    "--disable-dev-shm-usage",
]


class BrowserError(RuntimeError):
    """Chromium did not start, died, timed out or answered a command with an error."""


@dataclass
class FigureCheck:
    label: str       # id, alt text, aria-label or figcaption, else "<tag> #<index>"
    width: float     # CSS pixels
    height: float
    loaded: bool     # <img>: complete with a natural width; inline <svg>: always
    blank: bool      # (nearly) all pixels one colour, or a zero-sized box


@dataclass
class PageCheck:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)   # URLs other than the page itself and data:
    figures: list[FigureCheck] = field(default_factory=list)
    screenshot: Path | None = None


def find_chromium() -> str | None:
    """NEURODEPLOY_CHROMIUM if set, else the first Chromium-like browser on PATH."""
    configured = os.environ.get("NEURODEPLOY_CHROMIUM")
    if configured:
        return shutil.which(configured)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@functools.lru_cache(maxsize=None)
def chromium_skip_reason() -> str | None:
    """Why browser tests must skip here, or None. Launches the browser once per process."""
    executable = find_chromium()
    if executable is None:
        return ("no Chromium found (install the chromium package, e.g. by running ./nd test as root, "
                "or set NEURODEPLOY_CHROMIUM=/path/to/chromium)")
    try:
        with Browser(executable, timeout=30.0) as browser:
            browser.call("Browser.getVersion")
    except BrowserError as error:
        return f"Chromium at {executable} does not start: {error}"
    return None


def check_page(html_path: Path | str, screenshot_path: Path | str, *,
               figure_selector: str = DEFAULT_FIGURE_SELECTOR, timeout: float = 60.0,
               chromium: str | None = None) -> PageCheck:
    """Load ``html_path`` from disk in a fresh headless Chromium and report what a reader would meet."""
    executable = chromium or find_chromium()
    if executable is None:
        raise BrowserError("no Chromium found; see chromium_skip_reason()")
    page_url = Path(html_path).resolve().as_uri()
    with Browser(executable, timeout=timeout) as browser:
        session = browser.open_page(page_url)
        figures = [_check_figure(browser, session, box) for box in _figure_boxes(browser, session, figure_selector)]
        screenshot = _save_full_page_screenshot(browser, session, Path(screenshot_path))
        return PageCheck(console_errors=_console_errors(browser.events, session),
                         requests=_outside_requests(browser.events, session, page_url),
                         figures=figures, screenshot=screenshot)


class Browser:
    """One headless Chromium with a DevTools pipe; a context manager that always kills it."""

    def __init__(self, executable: str, timeout: float = 60.0):
        self.timeout = timeout
        self.events: list[dict] = []   # every event received, in order, for the checks to read later
        self._next_id = 0
        self._buffer = bytearray()
        self._profile = tempfile.mkdtemp(prefix="neurodeploy-chromium-")
        self._log_path = Path(self._profile) / "chromium.log"
        try:
            self._process, self._to_browser, self._from_browser = _launch(executable, self._profile, self._log_path)
        except OSError as error:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise BrowserError(f"cannot run {executable}: {error}") from None

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Ask politely, then kill the whole process group (renderers, zygote), then drop the profile."""
        try:
            if self._process.poll() is None:
                self._send("Browser.close", {}, None)
                self._process.wait(timeout=2)   # it takes about 0.15 s when healthy
        except (BrowserError, subprocess.TimeoutExpired):
            pass
        finally:
            _kill_process_group(self._process)
            for fd in (self._to_browser, self._from_browser):
                _close_quietly(fd)
            shutil.rmtree(self._profile, ignore_errors=True)

    def open_page(self, url: str) -> str:
        """A new tab attached in flat mode, domains enabled before navigating; waits for the load event."""
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable", session=session)
        navigation = self.call("Page.navigate", session=session, url=url)
        if navigation.get("errorText"):
            raise BrowserError(f"cannot open {url}: {navigation['errorText']}")
        self.wait_for_event("Page.loadEventFired", session)
        # let late scripts, fonts and the first paint settle so screenshots show the finished page
        self.evaluate(session, "document.fonts.ready.then(() => new Promise(done =>"
                               " requestAnimationFrame(() => requestAnimationFrame(done))))")
        return session

    def evaluate(self, session: str, expression: str):
        reply = self.call("Runtime.evaluate", session=session, expression=expression,
                          returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in reply:
            raise BrowserError(f"page script failed: {reply['exceptionDetails'].get('text')}")
        return reply["result"].get("value")

    def call(self, method: str, session: str | None = None, **params) -> dict:
        """Send one command and return its result; events arriving meanwhile go to ``self.events``."""
        message_id = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline, f"the reply to {method}")
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error'].get('message')}")
                return message.get("result", {})
            self._record(message)

    def wait_for_event(self, method: str, session: str | None) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            message = self._receive(deadline, method)
            self._record(message)
            if message.get("sessionId") == session and message.get("method") in (method, "Inspector.targetCrashed"):
                if message["method"] != method:   # the renderer died: the awaited event will never come
                    raise BrowserError(f"the page crashed while waiting for {method}{self._log_tail()}")
                return message

    def _record(self, message: dict) -> None:
        if "method" in message:
            self.events.append(message)

    def _send(self, method: str, params: dict, session: str | None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_browser, data):]
        except OSError as error:   # BrokenPipeError: the browser is gone
            raise self._died(f"while sending {method} ({error})") from None
        return self._next_id

    def _receive(self, deadline: float, awaited: str) -> dict:
        # messages carry whole data: URLs and screenshots (megabytes), so search only the new bytes
        end = self._buffer.find(b"\0")
        while end < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"timed out after {self.timeout:g} s waiting for {awaited}{self._log_tail()}")
            readable, _, _ = select.select([self._from_browser], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise self._died(f"while waiting for {awaited}")
            searched = len(self._buffer)
            self._buffer += chunk
            end = self._buffer.find(b"\0", searched)
        message = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return json.loads(message)

    def _died(self, context: str) -> BrowserError:
        try:
            code = self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        status = "closed its DevTools pipe" if code is None else f"exited with status {code}"
        return BrowserError(f"Chromium {status} {context}{self._log_tail()}")

    def _log_tail(self, lines: int = 5) -> str:
        try:
            tail = self._log_path.read_text(errors="replace").strip().splitlines()[-lines:]
        except OSError:
            return ""
        return ("; its last output: " + " | ".join(tail)) if tail else ""


def _launch(executable: str, profile: str, log_path: Path) -> tuple[subprocess.Popen, int, int]:
    """Start Chromium with our pipe ends on fds 3 (it reads) and 4 (it writes)."""
    browser_reads, we_write = os.pipe()
    we_read, browser_writes = os.pipe()
    # park the child's ends above 10 so the dup2 onto 3 and 4 cannot overwrite one with the other
    parked = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (browser_reads, browser_writes)]
    for fd in (browser_reads, browser_writes):
        os.close(fd)

    def move_pipes_to_3_and_4() -> None:
        os.dup2(parked[0], 3)
        os.dup2(parked[1], 4)

    try:
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                # not close_fds: it would run after preexec_fn and close 3 and 4 again (pass_fds=(3, 4) fails
                # when the parent has no fd 3 or 4); Python's own fds are non-inheritable anyway (PEP 446)
                close_fds=False, preexec_fn=move_pipes_to_3_and_4, start_new_session=True)
    except OSError:
        for fd in (we_write, we_read):
            os.close(fd)
        raise
    finally:
        for fd in parked:   # the child has its copies; ours must go so a dead browser reads as EOF
            os.close(fd)
    return process, we_write, we_read


def _kill_process_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)   # its own session (start_new_session), so only Chromium's
    except ProcessLookupError:
        pass
    process.wait()


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _session_events(events: list[dict], session: str, *methods: str):
    for event in events:
        if event.get("sessionId") == session and event["method"] in methods:
            yield event["method"], event["params"]


def _console_errors(events: list[dict], session: str) -> list[str]:
    errors: list[str] = []
    for method, params in _session_events(events, session, "Runtime.consoleAPICalled",
                                          "Runtime.exceptionThrown", "Log.entryAdded"):
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(f"console.{params['type']}: " + " ".join(map(_remote_object_text, params.get("args", []))))
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text", "")
            errors.append(f"uncaught {thrown} ({details.get('url', '')}:{details.get('lineNumber', 0) + 1})")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            entry = params["entry"]
            errors.append(f"{entry['source']}: {entry['text']}" + (f" ({entry['url']})" if entry.get("url") else ""))
    return list(dict.fromkeys(errors))


def _remote_object_text(remote: dict) -> str:
    if "value" in remote:
        return remote["value"] if isinstance(remote["value"], str) else json.dumps(remote["value"])
    return remote.get("description") or remote.get("type", "?")


def _outside_requests(events: list[dict], session: str, page_url: str) -> list[str]:
    urls = (params["request"]["url"] for _, params in _session_events(events, session, "Network.requestWillBeSent"))
    outside = (url for url in urls if url.split("#")[0] != page_url and not url.startswith("data:"))
    return list(dict.fromkeys(outside))


# Page coordinates (viewport rect plus scroll) because captureScreenshot's clip is in document space.
_FIGURE_BOXES_JS = """
Array.from(document.querySelectorAll(%s), (el, index) => {
  const rect = el.getBoundingClientRect();
  const caption = el.closest('figure')?.querySelector('figcaption')?.textContent.trim();
  return {
    label: el.id || el.getAttribute('alt') || el.getAttribute('aria-label') || caption
           || `${el.tagName.toLowerCase()} #${index}`,
    x: rect.left + window.scrollX, y: rect.top + window.scrollY, width: rect.width, height: rect.height,
    loaded: el instanceof HTMLImageElement ? el.complete && el.naturalWidth > 0 : true,
  };
})
"""


def _figure_boxes(browser: Browser, session: str, selector: str) -> list[dict]:
    return browser.evaluate(session, _FIGURE_BOXES_JS % json.dumps(selector))


def _check_figure(browser: Browser, session: str, box: dict) -> FigureCheck:
    blank = True
    if box["width"] >= 1 and box["height"] >= 1:
        clip = {key: box[key] for key in ("x", "y", "width", "height")}
        blank = is_blank(_capture(browser, session, clip))
    return FigureCheck(box["label"], box["width"], box["height"], box["loaded"], blank)


def _capture(browser: Browser, session: str, clip: dict) -> bytes:
    reply = browser.call("Page.captureScreenshot", session=session, format="png",
                         clip={**clip, "scale": 1}, captureBeyondViewport=True)
    return base64.b64decode(reply["data"])


def _save_full_page_screenshot(browser: Browser, session: str, path: Path) -> Path:
    metrics = browser.call("Page.getLayoutMetrics", session=session)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], MAX_SCREENSHOT_HEIGHT)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_capture(browser, session, clip))
    return path


def is_blank(png: bytes) -> bool:
    """True when fewer than BLANK_PIXEL_FRACTION of the pixels differ from the most common colour."""
    import matplotlib.image
    import numpy as np

    pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
    if pixels.dtype != np.uint8:   # PNGs decode to floats in [0, 1]
        pixels = np.round(pixels * 255).astype(np.uint8)
    rgb = pixels.reshape(-1, pixels.shape[-1] if pixels.ndim == 3 else 1)[:, :3].astype(np.int32)
    packed = rgb @ np.array([1 << 16, 1 << 8, 1][: rgb.shape[1]], dtype=np.int32)   # 1-D unique is ~30x faster
    colours, counts = np.unique(packed, return_counts=True)
    dominant = rgb[np.flatnonzero(packed == colours[counts.argmax()])[0]]
    differing = np.abs(rgb - dominant).max(axis=1) > BLANK_COLOUR_TOLERANCE
    return differing.mean() < BLANK_PIXEL_FRACTION
