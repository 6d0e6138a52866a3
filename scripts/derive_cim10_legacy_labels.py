#!/usr/bin/env python3
"""Derives data/curated/cim10-legacy-labels.tsv: the CIM-10 FR titles that
ATIH's editions 2015-2019 gave a code and that differ from the title Harmonie
serves today (edsnlp's ATIH file). Run once when either input changes:

    python3 scripts/derive_cim10_legacy_labels.py \
        ../shared/data/cim10/cim_hierarchie_code.json.gz \
        data/upstream/pypi-edsnlp-0.19.0/edsnlp/resources/cim10.csv.gz \
        > data/curated/cim10-legacy-labels.tsv

What is kept, and why:
- a title differs when its words differ (case, spacing and punctuation
  aside) once ATIH's `*** SUnn ***` flag is removed: a flag is a status, not
  a title;
- placeholders ("Usage urgent de U07.1") are left out: they name no disease;
- subdivisions of 5 characters in V01-Y98 are left out: there ATIH re-used
  place and activity subdivisions between editions (W26.02 was "domicile, en exerçant un
  travail", it is now "école et lieu public"), so an earlier title there names
  a different event, not an earlier wording of the same one.
"""
import csv
import gzip
import json
import re
import sys
from collections import defaultdict

FLAG = re.compile(r"^\s*\*\*\*[^*]*\*\*\*\s*")


def words(label):
    return re.sub(r"\W+", " ", FLAG.sub("", label).lower()).strip()


def main(atih_path, current_path):
    current = {}
    with gzip.open(current_path, "rt", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            current[row["code"]] = row["long"]
    earlier = defaultdict(lambda: defaultdict(set))
    for row in json.load(gzip.open(atih_path)):
        code, label = row["code"], " ".join(FLAG.sub("", row["lib_long"]).split())
        if code not in current or ("V01" <= code[:3] <= "Y98" and len(code) > 4):
            continue
        if label.lower().startswith("usage urgent de"):
            continue
        if words(label) != words(current[code]):
            earlier[code][label].add(row["anseqta"])
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    print("# CIM-10 FR: earlier titles of codes whose title changed between ATIH's editions 2015-2019")
    print("# and the edition Harmonie serves (ATIH, as packaged in edsnlp 0.19.0). Shown as")
    print("# \"ancien libellé\" and searchable, so that legacy files written with an old title recode.")
    print("# Derived by scripts/derive_cim10_legacy_labels.py from cim_hierarchie_code.json.gz")
    print("# (ATIH editions 2015-2019, GuillaumePressiat/nomensland at 5c4a9abe; sha256")
    print("# 08e24753102cf0dd19212387cc41ed9e32eaf769b89008273f5b21d9acc0765f); see that script for")
    print("# what is left out and why. Columns: code (ATIH, no dot), earlier title, editions.")
    out.writerow(["code", "label", "editions"])
    for code in sorted(earlier):
        for label, years in sorted(earlier[code].items()):
            out.writerow([code, label, " ".join(sorted(years))])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
