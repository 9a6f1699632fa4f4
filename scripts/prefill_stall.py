#!/usr/bin/python3
"""What a long prompt does to a stream already running on a ternserve (loopback only).

Starts one streaming completion, and after --delay seconds a second request with a long
prompt. Reports the running stream's inter-token latency (p50 and max: the max is the longest
step that held a prompt chunk, bounded by --batch-tokens) and the long prompt's time to first
token. Bounded: two requests, a time limit per request.

  /usr/bin/python3 scripts/prefill_stall.py --port 8080 --words 700
"""
import argparse
import http.client
import json
import threading
import time


def stream(port, body, timeout, gaps, first):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.time()
    conn.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}: {response.read()[:200]!r}")
    last = None
    for line in response:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        now = time.time()
        if last is None:
            first.append(now - start)
        else:
            gaps.append(now - last)
        last = now


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--words", type=int, default=700, help="words in the long prompt")
    ap.add_argument("--stream-tokens", type=int, default=120)
    ap.add_argument("--delay", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()

    gaps, first, long_gaps, long_first = [], [], [], []
    running = {"prompt": "In the beginning", "max_tokens": args.stream_tokens, "ignore_eos": True,
               "stream": True, "temperature": 0}
    long_prompt = {"prompt": " ".join(["word"] * args.words), "max_tokens": 4, "stream": True}
    a = threading.Thread(target=stream, args=(args.port, running, args.timeout, gaps, first))
    a.start()
    time.sleep(args.delay)
    b = threading.Thread(target=stream, args=(args.port, long_prompt, args.timeout, long_gaps, long_first))
    b.start()
    a.join()
    b.join()
    if not gaps or not long_first:
        raise SystemExit("no tokens received")
    gaps.sort()
    print(f"running stream: inter-token latency p50 {gaps[len(gaps) // 2] * 1000:.0f} ms, "
          f"max {gaps[-1] * 1000:.0f} ms; long prompt: time to first token {long_first[0]:.2f} s")


if __name__ == "__main__":
    main()
