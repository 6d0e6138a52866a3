"""Calls Harmonie's FHIR API with the fhirpy client, as an SST software
would: $lookup, $expand with a text filter, $validate-code. Exits non-zero
with a message on the first answer that is wrong. Base URL in argv[1],
CIM-10 system URL in argv[2]."""

import sys

from fhirpy import SyncFHIRClient

base, cim10 = sys.argv[1], sys.argv[2]
client = SyncFHIRClient(base, extra_headers={"Accept": "application/fhir+json"})


def param(parameters, name):
    for p in parameters["parameter"]:
        if p["name"] == name:
            return next(v for k, v in p.items() if k.startswith("value"))
    raise AssertionError(f"no parameter {name} in {parameters}")


looked = client.execute("CodeSystem/$lookup", method="get", params={"system": cim10, "code": "M54.5"})
assert param(looked, "display") == "Lombalgie basse", looked
parents = [p for p in looked["parameter"] if p["name"] == "property" and p["part"][0]["valueCode"] == "parent"]
assert parents and parents[0]["part"][1]["valueCode"] == "M54", parents
print("fhirpy $lookup M54.5:", param(looked, "display"))

expanded = client.execute(
    "ValueSet/$expand", method="get", params={"url": cim10 + "?fhir_vs", "filter": "lomb", "count": 10}
)
codes = [c["code"] for c in expanded["expansion"]["contains"]]
assert "M54.5" in codes, codes
print("fhirpy $expand filter=lomb:", codes)

ok = client.execute("ValueSet/$validate-code", method="get", params={"url": cim10 + "?fhir_vs", "system": cim10, "code": "M54.5"})
assert param(ok, "result") is True, ok
bad = client.execute("ValueSet/$validate-code", method="post", data={
    "resourceType": "Parameters",
    "parameter": [
        {"name": "url", "valueUri": cim10 + "?fhir_vs"},
        {"name": "coding", "valueCoding": {"system": cim10, "code": "M54.55"}},
    ],
})
assert param(bad, "result") is False, bad
print("fhirpy $validate-code: M54.5 valid, M54.55 refused:", param(bad, "message"))
