// A query over the WebSocket with the npm graphql-ws client; run by tests/test_clients.py.
//
//   node tests/clients/query.mjs ws://127.0.0.1:8000/graphql '{ games(league: NBA) { id } }'
//
// Prints the execution result as one JSON line; exits 1 if the client fails.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, query] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
try {
  const result = await new Promise((resolve, reject) => {
    let value;
    client.subscribe(
      { query },
      { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
    );
  });
  console.log(JSON.stringify(result));
} finally {
  await client.dispose();
}
