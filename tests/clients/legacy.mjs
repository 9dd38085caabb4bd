// Live prices with the legacy protocol `graphql-ws`, spoken by Apollo's old
// subscriptions-transport-ws client (the real npm package); run by tests/test_clients.py.
//
//   node tests/clients/legacy.mjs ws://127.0.0.1:8000/graphql TICKER[,TICKER...] COUNT
//
// Prints each update as one JSON line and exits 0 after COUNT of them; exits 1 on an error
// or if the stream ends early.
import subscriptionsTransportWs from 'subscriptions-transport-ws';
import WebSocket from 'ws';

const { SubscriptionClient } = subscriptionsTransportWs;
const [url, tickerList, countArg] = process.argv.slice(2);
const count = Number(countArg);

const client = new SubscriptionClient(url, { reconnect: false }, WebSocket);
let received = 0;
try {
  await new Promise((resolve, reject) => {
    const subscription = client
      .request({
        query: `subscription ($t: [String!]!) {
          tickerUpdates(marketTickers: $t) { marketTicker price yesBid yesAsk volume ts }
        }`,
        variables: { t: tickerList.split(',') },
      })
      .subscribe({
        next({ data, errors }) {
          if (errors) return reject(new Error(errors.map((e) => e.message).join('; ')));
          console.log(JSON.stringify(data.tickerUpdates));
          if (++received === count) {
            subscription.unsubscribe(); // sends `stop`
            resolve();
          }
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () =>
          reject(new Error(`the subscription ended after ${received} of ${count} updates`)),
      });
  });
} finally {
  client.close();
}
