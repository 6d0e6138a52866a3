#!/usr/bin/env python3
"""Bounded fuzzing of a running Harmonie server, and legacy files recoded by
the CLI and over HTTP.

    scripts/fuzz.py requests --url http://127.0.0.1:8080 --seconds 600 --log server.log
    scripts/fuzz.py legacy --url http://127.0.0.1:8080 --binary target/release/harmonie --files 200

`requests` sends random requests to every route (odd bytes, junk
parameters, random bodies, recodes of random CSV and NDJSON) from a few
threads and fails on any 5xx, any connection error, any recode that does not
give back every row, and any `panicked` line in the server log.

`legacy` writes random legacy files (UTF-8, UTF-8 with BOM, Windows-1252
with the first accent late, mixed; `;`, `,` or tab; quoted separators and
line breaks; ragged rows; odd codes), recodes each with the CLI and over
HTTP, and fails unless every row comes back once, in order, with its
original fields unchanged.

Only the standard library is used. Exit status 0 when clean, 1 otherwise.
"""

import argparse
import csv
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SYSTEMS = ["naf", "naf-2008", "pcs", "cim10", "cim-10", "sst-risques", "sst-vaccins", "sst-examens", "nope", ""]
ODD = ["12é", "107Ç", "Ã¨", "CCœ", "😀", "\u0000", "\ufeff", "M54.5", "1071C", "526a", "XIII", "M50-M54",
       "10.71", "01.41Z", "%", "%%", "../..", "<script>", "' OR 1=1", "\u202e", "ǅ", "ß", "İ", "\r\n"]
WORDS = ["lomb", "boulang", "cancer", "vessie", "aide soignante", "mal de dos", "autres", "précisées",
         "couvreur", "BOULANGERIE PATISSERIE", "électricien", "travail", "de", "la", "et"]


def rand_text(r, max_len=40):
    kind = r.random()
    if kind < 0.3:
        return r.choice(ODD)
    if kind < 0.6:
        return " ".join(r.choice(WORDS) for _ in range(r.randint(1, 4)))
    if kind < 0.7:
        return r.choice(WORDS) * r.randint(1, 400)
    if kind < 0.8:
        chars = (chr(r.randint(0x20, 0x10FFF)) for _ in range(r.randint(0, max_len)))
        return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)
    return "".join(r.choice("0123456789ABCDEFabcdef.-+* éÉ") for _ in range(r.randint(0, 12)))


def rand_bytes(r, n=64):
    return bytes(r.getrandbits(8) for _ in range(r.randint(0, n)))


def q(s):
    return urllib.parse.quote(s, safe="")


class Failures:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []
        self.requests = 0
        self.by_status = {}

    def add(self, what):
        with self.lock:
            self.items.append(what)

    def count(self, status):
        with self.lock:
            self.requests += 1
            self.by_status[status] = self.by_status.get(status, 0) + 1


def call(base, method, path, body=None, ctype=None, headers=None, timeout=60):
    req = urllib.request.Request(base + path, data=body, method=method)
    if ctype:
        req.add_header("Content-Type", ctype)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def csv_records(data, delimiter):
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=delimiter))


def fuzz_one(r, base, fails):
    choice = r.randrange(14)
    method, path, body, ctype, check = "GET", None, None, None, None
    system = r.choice(SYSTEMS)
    if choice == 0:
        path = f"/v1/search?q={q(rand_text(r))}&system={q(system)}&limit={q(r.choice(['5', '0', '-1', '100', '101', 'x', '']))}&explain={r.choice(['true', 'false', 'x'])}&level={q(rand_text(r, 10))}"
    elif choice == 1:
        path = f"/v1/systems/{q(system or 'x')}/concepts/{q(rand_text(r) or 'x')}"
    elif choice == 2:
        path = f"/v1/systems/{q(system or 'x')}/concepts?parent={q(rand_text(r))}&level={q(rand_text(r, 8))}&format={r.choice(['json', 'csv', 'x'])}"
    elif choice == 3:
        method, ctype = "POST", "application/json"
        if r.random() < 0.3:
            body = rand_bytes(r, 200)
        else:
            items = [{"system": r.choice(SYSTEMS), "code": rand_text(r)} for _ in range(r.randint(0, 300))]
            body = json.dumps({"items": items}).encode()
        path = "/v1/validate"
    elif choice == 4:
        method, ctype = "POST", r.choice(["application/json", "text/csv"])
        if ctype == "text/csv":
            body = "\n".join(f"{rand_text(r)},{r.choice(['1', '18446744073709551615', '-3', 'x', ''])}" for _ in range(r.randint(0, 50))).encode("utf-8")
            path = f"/v1/rollup?system={q(system)}&level={q(r.choice(['section', 'chapitre', '0', '1', 'x']))}"
        else:
            body = json.dumps({"system": system, "level": r.choice(["section", "chapitre", "0", "x"]),
                               "items": [{"code": rand_text(r), "count": r.choice([1, 2**64 - 1, 0])} for _ in range(r.randint(0, 50))]}).encode()
            path = "/v1/rollup"
    elif choice in (5, 6):
        # A random CSV: every record back, in order.
        delim = r.choice([";", ",", "\t"])
        n = r.randint(0, 300)
        rows = [[str(i), rand_text(r), rand_text(r)] for i in range(n)]
        out = io.StringIO()
        w = csv.writer(out, delimiter=delim, lineterminator="\n")
        w.writerow(["id", "code", "label"])
        w.writerows(rows)
        enc = r.choice(["utf-8", "cp1252"])
        body = out.getvalue().encode(enc, "replace")
        method, ctype = "POST", "text/csv"
        path = f"/v1/recode?system={q(r.choice(['naf', 'pcs', 'cim10']))}&code_col=code&label_col=label"
        expected = len(csv_records(body.decode(enc, "replace").encode("utf-8"), delim)) - 1

        def check(status, data, expected=expected, delim=delim):
            if status == 200:
                got = len(csv_records(data, delim)) - 1
                if got != expected:
                    return f"recode CSV: {expected} rows in, {got} out"
            return None
    elif choice == 7:
        lines = []
        for i in range(r.randint(0, 100)):
            if r.random() < 0.2:
                lines.append(rand_bytes(r, 40).replace(b"\n", b" "))
            else:
                lines.append(json.dumps({"id": i, "code": rand_text(r), "label": rand_text(r), "raw": "x"}).encode())
        body = b"\n".join(lines) + b"\n"
        method, ctype = "POST", "application/x-ndjson"
        path = "/v1/recode?system=naf&code_col=code&label_col=label"
        expected = sum(1 for l in lines if l.strip(b" \t\r"))

        def check(status, data, expected=expected):
            if status == 200:
                out = [l for l in data.split(b"\n") if l]
                if len(out) != expected + 1 or b'"summary"' not in out[-1]:
                    return f"recode NDJSON: {expected} lines in, {len(out) - 1} out"
            return None
    elif choice == 8:
        url = r.choice(["urn:harmonie:cs:cim-10?fhir_vs", "urn:harmonie:cs:naf-2008?fhir_vs", "urn:harmonie:cs:cim-10?fhir_vs=isa/M54", rand_text(r)])
        path = f"/fhir/ValueSet/$expand?url={q(url)}&filter={q(rand_text(r))}&count={q(r.choice(['10', '0', '-5', '9223372036854775807', 'x']))}&offset={q(r.choice(['0', '5', '9223372036854775807', 'x']))}"
    elif choice == 9:
        op = r.choice(["CodeSystem/$lookup", "CodeSystem/$validate-code", "ValueSet/$validate-code", "CodeSystem/$subsumes", "ConceptMap/$translate"])
        path = f"/fhir/{op}?system={q(r.choice(['urn:harmonie:cs:cim-10', 'urn:harmonie:cs:naf-2008', rand_text(r)]))}&code={q(rand_text(r))}&url={q(rand_text(r))}&codeA={q(rand_text(r))}&codeB={q(rand_text(r))}"
    elif choice == 10:
        method, ctype = "POST", r.choice(["application/fhir+json", "application/json", "text/plain"])
        if r.random() < 0.4:
            body = rand_bytes(r, 300)
        else:
            params = [{"name": r.choice(["url", "system", "code", "filter", "count", "valueSet", "coding", "tx-resource"]),
                       r.choice(["valueString", "valueUri", "valueCode", "valueInteger", "resource"]): r.choice([rand_text(r), 5, None, {"resourceType": "ValueSet", "compose": {"include": [{"system": "urn:harmonie:cs:cim-10"}]}}])}
                      for _ in range(r.randint(0, 8))]
            body = json.dumps({"resourceType": "Parameters", "parameter": params}).encode()
        path = "/fhir/" + r.choice(["ValueSet/$expand", "CodeSystem/$lookup", "ValueSet/$validate-code", "ValueSet/$batch-validate", ""])
    elif choice == 11:
        path = r.choice(["/systemes/", "/?q=", "/systemes/naf/", "/recodage?x=", "/composant?"]) + q(rand_text(r))
    elif choice == 12:
        path = "/" + "/".join(q(rand_text(r, 8)) for _ in range(r.randint(0, 4)))
        method = r.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"])
    else:
        path = r.choice(["/healthz", "/readyz", "/metrics", "/openapi.json", "/v1/systems", "/fhir/metadata", "/fhir/metadata?mode=terminology", "/fhir/CodeSystem", "/fhir/ValueSet"])
    try:
        status, data = call(base, method, path, body, ctype, headers={"Accept": r.choice(["*/*", "text/html", "application/json"])})
    except Exception as e:  # connection refused, reset, timeout
        fails.add(f"{method} {path[:120]}: {e!r}")
        return
    fails.count(status)
    if status >= 500:
        fails.add(f"{method} {path[:120]} → {status}: {data[:200]!r}")
    elif check:
        problem = check(status, data)
        if problem:
            fails.add(f"{method} {path[:120]}: {problem}")


def run_requests(args):
    fails = Failures()
    deadline = time.time() + args.seconds
    log_start = os.path.getsize(args.log) if args.log and os.path.exists(args.log) else 0

    def worker(seed):
        r = random.Random(seed)
        while time.time() < deadline:
            fuzz_one(r, args.url, fails)

    threads = [threading.Thread(target=worker, args=(args.seed + i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    last = time.time()
    while any(t.is_alive() for t in threads):
        time.sleep(1)
        if time.time() - last >= 30:
            last = time.time()
            print(f"  {fails.requests} requests, {len(fails.items)} failures so far", file=sys.stderr)
    for t in threads:
        t.join()
    panics = []
    if args.log and os.path.exists(args.log):
        with open(args.log, "rb") as f:
            f.seek(log_start)
            panics = [l for l in f.read().decode("utf-8", "replace").splitlines() if "panicked" in l]
    print(f"{fails.requests} requests in {args.seconds} s; statuses: {dict(sorted(fails.by_status.items()))}")
    print(f"{len(fails.items)} failures, {len(panics)} panics in the log")
    for f in fails.items[:30]:
        print("  FAIL", f)
    for p in panics[:10]:
        print("  PANIC", p)
    return 0 if not fails.items and not panics else 1


def legacy_file(r, index):
    """A random legacy file: (bytes, delimiter, header, rows as text)."""
    delim = r.choice([";", ",", "\t"])
    encoding = r.choice(["utf-8", "utf-8-sig", "cp1252-late", "mixed"])
    header = r.choice([["id", "code_ape", "activite"], ["#id", "code_ape", "activite"], ["id", "code_ape", "activite", "ville"]])
    width = len(header)
    rows = []
    n = r.randint(1, 4000)
    late = r.randint(n // 2, n) if n > 1 else 0
    for i in range(n):
        code = r.choice(["1071C", "10.71C", "141Z", "4722Z", "5610A", "12é", "107Ç", "", "ZZZ", "9999", "01.11Z", r.choice(ODD)])
        label = r.choice(["BOULANGERIE", "BOUCHERIE CHARCUTERIE", "COIFFURE", "TRANSPORTS ROUTIERS", "", "CRÊPERIE",
                          "BOUCHERIE ÉLÉGANTE", "A; B", "deux\nlignes", 'guillemets "x"', "DIVERS"])
        row = [str(i), code, label] + (["MARSEILLE"] if width == 4 else [])
        row = [f.replace("\u0000", "") for f in row]
        if encoding == "cp1252-late" and i < late:
            row = [f.encode("ascii", "ignore").decode("ascii") for f in row]
        elif encoding in ("cp1252-late", "mixed"):
            row = [f.encode("cp1252", "ignore").decode("cp1252") for f in row]
        if encoding in ("cp1252-late", "mixed") and i == (late if encoding == "cp1252-late" else n // 2):
            # The first row of the Windows-1252 part has a real accent: bytes
            # such as "Ã¨" before any other accent would read as UTF-8 (the
            # decoder's one documented ambiguity).
            row[1], row[2] = "4722Z", "BOUCHERIE ÉLÉGANTE"
        if r.random() < 0.03:
            row = row[: r.randint(1, width - 1)]          # short row
        elif r.random() < 0.03:
            row = row + ["extra", "more"]                  # long row
        rows.append(row)
    # Fields go out with Python's csv writer (quotes where needed).
    def render(rows_, head=None):
        out = io.StringIO()
        w = csv.writer(out, delimiter=delim, lineterminator=r.choice(["\n", "\r\n"]))
        if head:
            w.writerow(head)
        w.writerows(rows_)
        return out.getvalue()
    if encoding == "utf-8":
        data = render(rows, header).encode("utf-8")
    elif encoding == "utf-8-sig":
        data = b"\xef\xbb\xbf" + render(rows, header).encode("utf-8")
    elif encoding == "cp1252-late":
        data = render(rows, header).encode("cp1252")
    else:
        half = len(rows) // 2
        data = render(rows[:half], header).encode("utf-8") + render(rows[half:]).encode("cp1252")
    # Rows as the recode must give them back (the header's fields; a NUL is kept).
    return data, delim, header, rows, encoding


def compare(name, out_bytes, delim, header, rows):
    try:
        got = csv_records(out_bytes, delim)
    except Exception as e:
        return f"{name}: output is not CSV: {e}"
    if got[0][: len(header)] != header:
        return f"{name}: header {got[0][:len(header)]} != {header}"
    body = got[1:]
    if len(body) != len(rows):
        return f"{name}: {len(rows)} rows in, {len(body)} out"
    width = len(header)
    for i, (out_row, row) in enumerate(zip(body, rows)):
        want = (row + [""] * width)[:width]
        if out_row[:width] != want:
            return f"{name}: row {i} changed: {out_row[:width]!r} != {want!r}"
    return None


def run_legacy(args):
    r = random.Random(args.seed)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.files):
            data, delim, header, rows, encoding = legacy_file(r, i)
            path = os.path.join(tmp, f"legacy{i}.csv")
            with open(path, "wb") as f:
                f.write(data)
            out = os.path.join(tmp, f"out{i}.csv")
            cmd = [args.binary, "--root", args.root, "recode", path, "--system", "naf", "--code-col", "code_ape", "--label-col", "activite", "-o", out]
            p = subprocess.run(cmd, capture_output=True)
            if p.returncode != 0:
                failures.append(f"file {i} ({encoding}, {delim!r}): CLI failed: {p.stderr.decode('utf-8', 'replace')[-300:]}")
            else:
                with open(out, "rb") as f:
                    problem = compare(f"file {i} ({encoding}, {delim!r}) CLI", f.read(), delim, header, rows)
                if problem:
                    failures.append(problem)
            status, body = call(args.url, "POST", "/v1/recode?system=naf&code_col=code_ape&label_col=activite", data, "text/csv", timeout=300)
            if status != 200:
                failures.append(f"file {i} HTTP {status}: {body[:200]!r}")
            else:
                problem = compare(f"file {i} ({encoding}, {delim!r}) HTTP", body, delim, header, rows)
                if problem:
                    failures.append(problem)
            if (i + 1) % 50 == 0:
                print(f"  {i + 1} files, {len(failures)} failures", file=sys.stderr)
    print(f"{args.files} legacy files recoded by CLI and HTTP; {len(failures)} failures")
    for f in failures[:30]:
        print("  FAIL", f)
    return 0 if not failures else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("requests")
    a.add_argument("--url", default="http://127.0.0.1:8080")
    a.add_argument("--seconds", type=int, default=600)
    a.add_argument("--threads", type=int, default=4)
    a.add_argument("--log", help="the server's log file, searched for panics")
    a.add_argument("--seed", type=int, default=1)
    b = sub.add_parser("legacy")
    b.add_argument("--url", default="http://127.0.0.1:8080")
    b.add_argument("--binary", default="target/release/harmonie")
    b.add_argument("--root", default=".")
    b.add_argument("--files", type=int, default=200)
    b.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    sys.exit(run_requests(args) if args.mode == "requests" else run_legacy(args))


if __name__ == "__main__":
    main()
