// Live prices with the npm graphql-ws client (the protocol `graphql-transport-ws`).
// Run by tests/test_clients.py; the part between the README markers is the README's example.
//
//   node tests/clients/subscribe.mjs ws://127.0.0.1:8000/graphql TICKER[,TICKER...] COUNT
//
// Prints each update as one JSON line and exits 0 after COUNT of them; exits 1 on an error
// (the server's message on stderr) or if the stream ends early.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, tickerList, countArg] = process.argv.slice(2);
const marketTickers = tickerList.split(',');
const count = Number(countArg);
const token = process.env.GRAPH_API_TOKEN; // only needed when the server sets GRAPH_API_TOKENS

// README example: begin
const client = createClient({
  url, // ws://<host>:<port>/graphql
  webSocketImpl: WebSocket, // Node only: browsers have a global WebSocket
  connectionParams: token ? { Authorization: `Bearer ${token}` } : {},
  // A refused token (close 4403) will not pass on a retry; everything else is worth one.
  shouldRetry: (event) => event?.code !== 4403,
});

const updates = client.iterate({
  query: `subscription ($t: [String!]!) {
    tickerUpdates(marketTickers: $t) { marketTicker price yesBid yesAsk volume ts }
  }`,
  variables: { t: marketTickers },
});
let received = 0;
try {
  for await (const { data, errors } of updates) {
    if (errors) throw new Error(errors.map((e) => e.message).join('; '));
    console.log(JSON.stringify(data.tickerUpdates));
    if (++received === count) break; // leaving the loop unsubscribes (sends `complete`)
  }
} finally {
  await client.dispose();
}
// README example: end

if (received < count) {
  console.error(`the subscription ended after ${received} of ${count} updates`);
  process.exit(1);
}
