#!/usr/bin/env python3
"""How fast a running Harmonie server answers /healthz while it is attacked.

    scripts/healthz_under_load.py --url http://127.0.0.1:8080 --seconds 60 --clients 64 --stalled 100

A load process runs `--clients` threads sending the heaviest FHIR
expansions the limits allow (the whole of CIM-10 paged by 1,000; a value
set of 256 includes filtered by chapter; a chain of imports each importing
the next twice) and keeps `--stalled` recode uploads open that send their
headers and a few bytes, then nothing. Meanwhile this process asks
/healthz every 20 ms on a fresh connection and prints p50, p99 and max of
its latency, and what the heavy requests were answered. Standard library
only. Exit status 1 if a /healthz request fails.
"""

import argparse
import json
import multiprocessing
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

CIM = "urn:harmonie:cs:cim-10"
CHAPTERS = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII", "XIV", "XV",
            "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII"]


def bodies():
    whole = None  # GET
    includes = [{"system": CIM, "filter": [{"property": "concept", "op": "is-a", "value": CHAPTERS[i % len(CHAPTERS)]}]}
                for i in range(256)]
    many = {"resourceType": "Parameters", "parameter": [
        {"name": "valueSet", "resource": {"resourceType": "ValueSet", "url": "urn:load:many", "compose": {"include": includes}}},
        {"name": "count", "valueInteger": 1000}]}
    chain = [{"name": "url", "valueUri": "urn:load:l0"}, {"name": "count", "valueInteger": 1000}]
    for level in range(16):
        nxt = f"urn:load:l{level + 1}"
        compose = ({"include": [{"system": CIM, "filter": [{"property": "concept", "op": "is-a", "value": "XIII"}]}]}
                   if level == 15 else {"include": [{"valueSet": [nxt]}, {"valueSet": [nxt]}]})
        chain.append({"name": "tx-resource", "resource": {"resourceType": "ValueSet", "url": f"urn:load:l{level}", "compose": compose}})
    return [whole, json.dumps(many).encode(), json.dumps({"resourceType": "Parameters", "parameter": chain}).encode()]


def load(url, seconds, clients, stalled, results):
    deadline = time.time() + seconds
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port or 80
    kinds = bodies()
    counts = {}
    lock = threading.Lock()

    def heavy(i):
        body = kinds[i % len(kinds)]
        while time.time() < deadline:
            if body is None:
                req = urllib.request.Request(url + "/fhir/ValueSet/$expand?url=" + urllib.parse.quote(CIM + "?fhir_vs", safe="") + "&count=1000")
            else:
                req = urllib.request.Request(url + "/fhir/ValueSet/$expand", data=body, method="POST",
                                             headers={"Content-Type": "application/fhir+json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    status = r.status
                    r.read()
            except urllib.error.HTTPError as e:
                status = e.code
            except Exception as e:
                status = type(e).__name__
            with lock:
                counts[status] = counts.get(status, 0) + 1

    def stall():
        while time.time() < deadline:
            try:
                s = socket.create_connection((host, port))
                s.sendall(b"POST /v1/recode?system=naf&code_col=code HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                          b"Content-Length: 100000\r\n\r\ncode\n10")
                s.settimeout(max(0.1, deadline - time.time()))
                try:
                    s.recv(1000)  # the server ends it after its idle timeout
                except Exception:
                    pass
                s.close()
            except Exception:
                time.sleep(0.1)

    threads = [threading.Thread(target=heavy, args=(i,), daemon=True) for i in range(clients)]
    threads += [threading.Thread(target=stall, daemon=True) for _ in range(stalled)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0, deadline - time.time()) + 70)
    results.put(counts)


def healthz(host, port):
    t = time.perf_counter()
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(data[:100])
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--stalled", type=int, default=100)
    args = ap.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    results = multiprocessing.Queue()
    p = multiprocessing.Process(target=load, args=(args.url, args.seconds, args.clients, args.stalled, results))
    p.start()
    time.sleep(3)  # let the load build up
    latencies, failures = [], 0
    end = time.time() + args.seconds - 5
    while time.time() < end:
        try:
            latencies.append(healthz(parts.hostname, parts.port or 80))
        except Exception as e:
            failures += 1
            print("healthz failed:", e, file=sys.stderr)
        time.sleep(0.02)
    counts = results.get()
    p.join()
    latencies.sort()
    pct = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(f"/healthz under {args.clients} heavy FHIR clients and {args.stalled} stalled uploads: "
          f"{len(latencies)} requests, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, max {latencies[-1] * 1000:.1f} ms, "
          f"{failures} failed")
    print(f"heavy requests answered: {counts}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
