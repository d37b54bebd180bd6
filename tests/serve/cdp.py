"""A minimal Chrome DevTools Protocol driver for headless Chromium (tests only).

Starts Debian's ``chromium`` with a throw-away profile and remote debugging on
a port of its own choosing (read back from the DevTools line on stderr), opens
a page target and talks to it over a websocket (``websocket-client``). It
collects console messages, uncaught exceptions and failed requests, so a
test can assert that the page logged no error.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from typing import Any, Dict, List, Optional

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--disable-extensions",
    "--mute-audio",
    "--hide-scrollbars",
]


def find_chromium() -> Optional[str]:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, binary: str, *, width: int = 1440, height: int = 1000, timeout: float = 60.0):
        import websocket  # websocket-client

        self.profile = tempfile.mkdtemp(prefix="ct_chromium_")
        self.proc = subprocess.Popen(
            [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-port=0",
             "--remote-allow-origins=*", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        self.stderr_lines: List[str] = []
        port = self._devtools_port(timeout)
        target = self._page_target(port, timeout)
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=timeout, suppress_origin=True)
        self._id = 0
        self.events: List[Dict[str, Any]] = []
        self.send("Runtime.enable")
        self.send("Log.enable")
        self.send("Page.enable")
        self.send("Network.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _devtools_port(self, timeout: float) -> int:
        found: Dict[str, int] = {}

        def read() -> None:
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace")
                self.stderr_lines.append(line)
                m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if m and "port" not in found:
                    found["port"] = int(m.group(1))

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "port" in found:
                return found["port"]
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.close()
        raise RuntimeError("chromium did not start its DevTools endpoint:\n" + "".join(self.stderr_lines[-30:]))

    @staticmethod
    def _page_target(port: int, timeout: float) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                pages = [t for t in json.loads(resp.read()) if t.get("type") == "page"]
            if pages:
                return pages[0]
            time.sleep(0.1)
        raise RuntimeError("chromium opened no page target")

    # ---- protocol ----
    def send(self, method: str, **params) -> Dict[str, Any]:
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"page script failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def navigate(self, url: str, timeout: float = 30.0) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout)

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for: {expression}")

    def insert_text(self, text: str) -> None:
        """Type ``text`` into the focused element as a paste would (one input event)."""
        self.send("Input.insertText", text=text)

    def key(self, key: str, code: str, key_code: int, modifiers: int = 0, text: str = "") -> None:
        """Press and release one key on the focused element (``text`` "\r" makes Enter activate buttons)."""
        down: Dict[str, Any] = dict(type="keyDown", key=key, code=code, windowsVirtualKeyCode=key_code,
                                    nativeVirtualKeyCode=key_code, modifiers=modifiers)
        if text:
            down.update(text=text, unmodifiedText=text)
        self.send("Input.dispatchKeyEvent", **down)
        self.send("Input.dispatchKeyEvent", type="keyUp", key=key, code=code, windowsVirtualKeyCode=key_code,
                  nativeVirtualKeyCode=key_code, modifiers=modifiers)

    def set_file(self, selector: str, path: str) -> None:
        """Choose ``path`` in the file input matching ``selector`` (fires its change event)."""
        root = self.send("DOM.getDocument")["root"]["nodeId"]
        node = self.send("DOM.querySelector", nodeId=root, selector=selector)["nodeId"]
        self.send("DOM.setFileInputFiles", files=[path], nodeId=node)

    def allow_downloads(self, folder: str) -> None:
        self.send("Browser.setDownloadBehavior", behavior="allow", downloadPath=folder, eventsEnabled=True)

    def screenshot(self, path: str, full_page: bool = True) -> str:
        params: Dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        data = self.send("Page.captureScreenshot", **params)["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
        return path

    def drain(self, seconds: float = 0.3) -> None:
        """Read the events that arrived while nothing was sent."""
        self.ws.settimeout(seconds)
        try:
            while True:
                msg = json.loads(self.ws.recv())
                if "method" in msg:
                    self.events.append(msg)
        except Exception:  # noqa: BLE001 - the read timed out: nothing more for now
            pass
        finally:
            self.ws.settimeout(60)

    def problems(self) -> List[str]:
        """Console errors/warnings, uncaught exceptions, failed or 4xx/5xx requests."""
        self.drain()
        out = []
        for ev in self.events:
            method, params = ev["method"], ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                out.append("console." + params["type"] + ": " + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
                entry = params["entry"]
                out.append(f"log.{entry['level']}: {entry.get('text')} {entry.get('url', '')}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                out.append(f"request failed: {params.get('errorText')}")
            elif method == "Network.responseReceived" and params.get("response", {}).get("status", 200) >= 400:
                out.append(f"HTTP {params['response']['status']}: {params['response'].get('url')}")
        return out

    def requested_urls(self) -> List[str]:
        self.drain()
        return [ev["params"]["request"]["url"] for ev in self.events if ev["method"] == "Network.requestWillBeSent"]

    def close(self) -> None:
        try:
            if getattr(self, "ws", None) is not None:
                self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


#: Input.dispatchKeyEvent modifier bit of the Ctrl key
CTRL = 2
