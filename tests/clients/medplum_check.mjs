// Calls Harmonie's FHIR API with @medplum/core's valueSetExpand, the call
// Medplum's autocomplete component makes. Exits non-zero on a wrong answer.
// Base URL in argv[2], CIM-10 system URL in argv[3].
import { createRequire } from 'node:module';

// Node 20 has no global WebSocket; the client only needs it for subscriptions.
globalThis.WebSocket ??= class {};
const require = createRequire(import.meta.url);
const { MedplumClient } = require(process.env.HARMONIE_MEDPLUM ?? '@medplum/core');

const [base, cim10] = process.argv.slice(2);
const client = new MedplumClient({ baseUrl: base, fhirUrlPath: 'fhir', fetch });
const vs = await client.valueSetExpand({ url: `${cim10}?fhir_vs`, filter: 'lomb', count: '10' });
const codes = (vs.expansion?.contains ?? []).map((c) => c.code);
if (!codes.includes('M54.5')) {
  console.error('M54.5 missing from', JSON.stringify(vs));
  process.exit(1);
}
const first = vs.expansion.contains.find((c) => c.code === 'M54.5');
console.log('medplum valueSetExpand filter=lomb:', codes.join(' '), '|', first.display);
