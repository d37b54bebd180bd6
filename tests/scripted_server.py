"""A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for tests.

A real HTTP server in a thread: it answers each POST from a script (status,
JSON body) and records the requests, so retries, timeouts, auth headers and
spacy-llm's cache can be tested without a model.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Scripted:
    """A real HTTP server on 127.0.0.1 answering chat completions from a script."""

    def __init__(self, script=None, default=None, delay=0.0):
        self.script = list(script or [])
        self.default = default or (200, {"choices": [{"message": {"role": "assistant", "content": "ok"}}]})
        self.delay = delay
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                code, payload = outer.script.pop(0) if outer.script else outer.default
                if callable(payload):
                    payload = payload(body)
                time.sleep(outer.delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def answer(text):
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
