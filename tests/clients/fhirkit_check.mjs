// Calls Harmonie's FHIR API with fhir-kit-client: the capability statement,
// $lookup (GET), $validate-code (POST Parameters, a wrong display and a
// former URN of the system) and $expand with a filter. Exits non-zero on a
// wrong answer. Base URL in argv[2], CIM-10 system URL in argv[3].
const { Client } = await import(
  process.env.HARMONIE_FHIRKIT ? `${process.env.HARMONIE_FHIRKIT}/dist/index.js` : 'fhir-kit-client'
);

const [base, cim10] = process.argv.slice(2);
const client = new Client({ baseUrl: base });
const fail = (what, value) => {
  console.error(what, JSON.stringify(value));
  process.exit(1);
};
const param = (p, name) => p.parameter?.find((x) => x.name === name);

const cap = await client.capabilityStatement();
if (cap.resourceType !== 'CapabilityStatement' || !/^https?:\/\//.test(cap.url)) fail('capability statement', cap);

const lookup = await client.operation({
  name: '$lookup',
  resourceType: 'CodeSystem',
  method: 'GET',
  input: { system: cim10, code: 'M54.5' },
});
if (param(lookup, 'display')?.valueString !== 'Lombalgie basse') fail('$lookup M54.5', lookup);

const check = (display, system = cim10) =>
  client.operation({
    name: '$validate-code',
    resourceType: 'CodeSystem',
    input: {
      resourceType: 'Parameters',
      parameter: [
        { name: 'url', valueUri: system },
        { name: 'code', valueCode: 'M54.5' },
        { name: 'display', valueString: display },
      ],
    },
  });
const good = await check('Lombalgie basse');
if (param(good, 'result')?.valueBoolean !== true) fail('$validate-code good display', good);
const bad = await check('Lumbago');
if (param(bad, 'result')?.valueBoolean !== false || !param(bad, 'message')) fail('$validate-code wrong display', bad);
const urn = await check('Lombalgie basse', 'urn:harmonie:cs:cim-10');
if (param(urn, 'result')?.valueBoolean !== true) fail('$validate-code by the former URN', urn);

const vs = await client.operation({
  name: '$expand',
  resourceType: 'ValueSet',
  method: 'GET',
  input: { url: `${cim10}?fhir_vs`, filter: 'lomb', count: '10' },
});
const codes = (vs.expansion?.contains ?? []).map((c) => c.code);
if (!codes.includes('M54.5')) fail('$expand filter=lomb', vs);
console.log('fhir-kit-client: lookup, validate-code (good, wrong display, URN), expand:', codes.join(' '));
