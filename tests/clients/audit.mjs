// The GraphQL-over-HTTP conformance audit of the npm graphql-http package; run by
// tests/test_audit.py.
//
//   node tests/clients/audit.mjs http://127.0.0.1:8000/graphql
//
// Prints one JSON line: how many audits passed, and every warning and error with its id,
// name and reason. Exits 0 however the audits went (the test judges them).
import { auditServer } from 'graphql-http';

const [url] = process.argv.slice(2);
const results = await auditServer({ url });
const pick = (status) =>
  results
    .filter((result) => result.status === status)
    .map(({ id, name, reason }) => ({ id, name, reason }));
console.log(
  JSON.stringify({
    ok: results.filter((result) => result.status === 'ok').length,
    warn: pick('warn'),
    error: pick('error'),
  }),
);
