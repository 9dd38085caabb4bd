// The live page: today's games for a league, model vs market, prices streamed live.
//
// How it works: one query over HTTP fills the table (`games`, each recommendation with the
// evidence it rests on) and the track record panel (`trackRecord`: our model against Kalshi on
// finished games, with a small reliability chart); then one tickerUpdates subscription per 50
// market tickers (the server's per-subscription limit) streams prices over a single WebSocket.
// Each update rewrites that market's cells, flashes them, and recomputes the game's market
// probability and edge the way graph/model/predict.py does.

import { GraphQLWsClient } from "./gqlws.js";

const GAMES_QUERY = `
query LiveGames($league: League!, $date: Date) {
  games(league: $league, date: $date) {
    id startTime state homeScore awayScore
    home { code name } away { code name }
    markets { ticker team yesBid yesAsk lastPrice }
    prediction {
      homeWinProbability marketHomeWinProbability edge confidence model
      recommendation recommendationReason
      evidence { validated summary backtestBets backtestRoi backtestRoiCi95 backtestSeasons }
    }
  }
  trackRecord(league: $league) {
    simulated settled pending unpriced
    model { n brier logLoss } kalshi { n brier logLoss }
    modelCalibration { count predicted observed }
    kalshiCalibration { count predicted observed }
    pnl { bets wins staked profit roi }
  }
}`;

const UPDATES_SUBSCRIPTION = `
subscription LivePrices($tickers: [String!]!) {
  tickerUpdates(marketTickers: $tickers) { marketTicker price yesBid yesAsk ts }
}`;

const TICKERS_PER_SUBSCRIPTION = 50;
const WIDE_SPREAD = 0.25; // graph/models.py: a wider book says nothing about the probability
const TOKEN_KEY = "kalshi-graph.token";
const LEAGUE_KEY = "kalshi-graph.league";

const $ = (selector) => document.querySelector(selector);
const markets = new Map(); // ticker -> {market, game}
let unsubscribers = [];
let loadSeq = 0;

const token = () => localStorage.getItem(TOKEN_KEY) || "";
const authHeaders = () => (token() ? { Authorization: `Bearer ${token()}` } : {});

const wsUrl = new URL("/graphql", location.href);
wsUrl.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const client = new GraphQLWsClient(wsUrl.href, {
  connectionParams: authHeaders,
  onStatus: (state, detail) => {
    const status = $("#status");
    status.dataset.state = state;
    status.textContent = detail ? `${state} · ${detail}` : state;
  },
});

function pct(p) {
  return p === null || p === undefined ? "–" : `${(p * 100).toFixed(1)}%`;
}

function price(p) {
  return p === null || p === undefined ? "–" : p.toFixed(2);
}

function signedPts(edge) {
  if (edge === null || edge === undefined) return "–";
  const pts = (edge * 100).toFixed(1);
  return edge > 0 ? `+${pts}` : pts;
}

function implied(m) {
  if (!m) return null;
  const { yesBid: bid, yesAsk: ask } = m;
  if (bid !== null && ask !== null && ask > 0 && ask - bid >= 0 && ask - bid <= WIDE_SPREAD + 1e-9) {
    return (bid + ask) / 2;
  }
  return m.lastPrice ?? null;
}

// graph/predict.py market_home_probability: normalise the pair when both are priced.
function marketHome(game) {
  const home = game.markets.find((m) => m.team === game.home.code);
  const away = game.markets.find((m) => m.team === game.away.code);
  const h = implied(home);
  const a = implied(away);
  if (h !== null && a !== null && h + a > 0) return h / (h + a);
  if (h !== null) return h;
  if (a !== null) return 1 - a;
  return null;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function startLabel(game) {
  if (game.state === "LIVE" || game.state === "FINAL") {
    return `${game.state === "LIVE" ? "live" : "final"} ${game.awayScore ?? 0}–${game.homeScore ?? 0}`;
  }
  if (game.state !== "SCHEDULED") return game.state.toLowerCase();
  return new Date(game.startTime).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function signedPct(x) {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x * 100).toFixed(1)}%`;
}

// One short line: which model made the number, and what the league's recommendations rest on
// (graph/model/policy.py): its backtest at real closing prices, or nothing yet.
function evidenceText(p) {
  const e = p.evidence;
  if (!e?.validated) return `${p.model} · not validated`;
  if (e.backtestRoi === null || e.backtestRoi === undefined) return `${p.model} · ${e.summary}`;
  const [lo, hi] = e.backtestRoiCi95 ?? [null, null];
  const interval = lo === null ? "" : ` [${signedPct(lo)}, ${signedPct(hi)}]`;
  return `${p.model} · backtest ${e.backtestSeasons ?? ""}: ROI ${signedPct(e.backtestRoi)}${interval} on ${e.backtestBets} bets`;
}

function recommendationCell(p) {
  const cell = el("td", { class: "rec" });
  if (!p) return cell;
  cell.append(
    p.recommendation
      ? el("div", { class: "bet" }, p.recommendation)
      : el("div", { class: "no-bet muted" }, `no bet: ${p.recommendationReason ?? "no reason given"}`),
    el("div", { class: "evidence muted", title: p.evidence?.summary ?? "" }, evidenceText(p)),
  );
  return cell;
}

function edgeClass(edge) {
  if (edge === null || edge === undefined) return "num";
  return edge > 0 ? "num pos" : edge < 0 ? "num neg" : "num";
}

function marketCell(game) {
  const cell = el("td", { class: "prices" });
  for (const m of game.markets) {
    markets.set(m.ticker, { market: m, game });
    cell.append(
      el(
        "div",
        { class: "market", "data-ticker": m.ticker, title: m.ticker },
        el("span", { class: "team" }, m.team ?? "?"),
        el("span", { class: "quote" }, `${price(m.yesBid)} / ${price(m.yesAsk)}`),
        el("span", { class: "last muted" }, price(m.lastPrice)),
      ),
    );
  }
  if (game.markets.length === 0) cell.append(el("span", { class: "muted" }, "no market"));
  return cell;
}

function row(game) {
  const p = game.prediction;
  return el(
    "tr",
    { "data-game": game.id },
    el("td", { class: "start" }, startLabel(game)),
    el(
      "td",
      { class: "matchup" },
      el("span", { class: "code" }, game.away.code),
      el("span", { class: "muted" }, " @ "),
      el("span", { class: "code" }, game.home.code),
      el("div", { class: "names muted" }, `${game.away.name} at ${game.home.name}`),
    ),
    el("td", { class: "num model" }, pct(p?.homeWinProbability)),
    el("td", { class: "num market-p" }, pct(p ? p.marketHomeWinProbability : marketHome(game))),
    el("td", { class: `${edgeClass(p?.edge)} edge` }, signedPts(p?.edge)),
    marketCell(game),
    recommendationCell(p),
  );
}

function flash(node) {
  node.classList.remove("changed");
  void node.offsetWidth; // restart the CSS animation
  node.classList.add("changed");
}

function applyUpdate(update) {
  const entry = markets.get(update.marketTicker);
  if (!entry) return;
  const { market, game } = entry;
  for (const [field, key] of [["yesBid", "yesBid"], ["yesAsk", "yesAsk"], ["price", "lastPrice"]]) {
    if (update[field] !== null && update[field] !== undefined) market[key] = update[field];
  }
  const box = document.querySelector(`[data-ticker="${CSS.escape(update.marketTicker)}"]`);
  if (!box) return;
  const quote = box.querySelector(".quote");
  const last = box.querySelector(".last");
  const quoteText = `${price(market.yesBid)} / ${price(market.yesAsk)}`;
  const lastText = price(market.lastPrice);
  if (quote.textContent !== quoteText || last.textContent !== lastText) {
    quote.textContent = quoteText;
    last.textContent = lastText;
    flash(box);
  }
  const tr = box.closest("tr");
  const marketP = marketHome(game);
  tr.querySelector(".market-p").textContent = pct(marketP);
  if (game.prediction && marketP !== null) {
    const edge = game.prediction.homeWinProbability - marketP;
    const cell = tr.querySelector(".edge");
    cell.className = `${edgeClass(edge)} edge`;
    cell.textContent = signedPts(edge);
  }
}

// The page's own <svg> (index.html) gives the SVG namespace for the elements drawn into it.
function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS($("#track-chart").namespaceURI, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  node.append(...children);
  return node;
}

// Reliability chart: each bin's mean forecast (x) against how often the home team won (y).
function drawCalibration(chart, series) {
  const size = 160;
  const pad = 22;
  const at = (p) => pad + p * size;
  const up = (q) => pad + (1 - q) * size;
  chart.replaceChildren(
    svg("rect", { x: pad, y: pad, width: size, height: size, class: "frame" }),
    svg("line", { x1: at(0), y1: up(0), x2: at(1), y2: up(1), class: "diagonal" }),
    svg("text", { x: pad, y: pad + size + 16, class: "axis" }, "0"),
    svg("text", { x: pad + size - 6, y: pad + size + 16, class: "axis" }, "1"),
  );
  for (const [name, bins] of series) {
    for (const b of bins.filter((b) => b.count > 0)) {
      const r = 2 + Math.min(6, Math.sqrt(b.count));
      chart.append(
        svg(
          "circle",
          { cx: at(b.predicted), cy: up(b.observed), r, class: `dot ${name}` },
          svg("title", {}, `${name}: ${b.count} games, forecast ${pct(b.predicted)}, won ${pct(b.observed)}`),
        ),
      );
    }
  }
}

function scoreRow(name, s) {
  return el(
    "tr",
    { class: name },
    el("td", {}, name === "model" ? "our model" : "Kalshi"),
    el("td", { class: "num" }, s ? String(s.n) : "–"),
    el("td", { class: "num" }, s ? s.brier.toFixed(4) : "–"),
    el("td", { class: "num" }, s ? s.logLoss.toFixed(4) : "–"),
  );
}

function renderTrack(league, t) {
  const box = $("#track");
  if (!t) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  $("#track-simulated").hidden = !t.simulated;
  $("#track-summary").textContent =
    `${league}: ${t.settled} finished game${t.settled === 1 ? "" : "s"} recorded before the start ` +
    `(${t.unpriced} without a Kalshi price), ${t.pending} to come.` +
    (t.simulated ? " Simulated: games and prices come from the built-in simulator." : "");
  $("#track-scores tbody").replaceChildren(scoreRow("model", t.model), scoreRow("kalshi", t.kalshi));
  const pnl = t.pnl;
  $("#track-pnl").textContent = pnl.bets
    ? `Paper P&L of the recommendations at the asks on offer: ${pnl.bets} bets, ${pnl.wins} won, ` +
      `${signedPct(pnl.profit)} of bankroll on ${(pnl.staked * 100).toFixed(1)}% staked (ROI ${signedPct(pnl.roi)}).`
    : "Paper P&L: no recommendations were made.";
  drawCalibration($("#track-chart"), [
    ["model", t.modelCalibration],
    ["kalshi", t.kalshiCalibration],
  ]);
}

function showMessage(text) {
  const message = $("#message");
  message.textContent = text;
  message.hidden = !text;
}

function subscribeAll(tickers) {
  for (const stop of unsubscribers) stop();
  unsubscribers = [];
  for (let i = 0; i < tickers.length; i += TICKERS_PER_SUBSCRIPTION) {
    const chunk = tickers.slice(i, i + TICKERS_PER_SUBSCRIPTION);
    unsubscribers.push(
      client.subscribe(
        { query: UPDATES_SUBSCRIPTION, variables: { tickers: chunk } },
        {
          next: (result) => {
            if (result.data?.tickerUpdates) applyUpdate(result.data.tickerUpdates);
            if (result.errors) showMessage(result.errors.map((e) => e.message).join("; "));
          },
          error: (errors) => showMessage(errors.map((e) => e.message).join("; ")),
          complete: () => {},
        },
      ),
    );
  }
}

async function load() {
  const seq = ++loadSeq;
  const league = $("#league").value;
  const date = $("#date").value || null;
  localStorage.setItem(LEAGUE_KEY, league);
  showMessage("");
  $("#summary").textContent = `Loading ${league}…`;
  let body;
  try {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json", ...authHeaders() },
      body: JSON.stringify({ query: GAMES_QUERY, variables: { league, date } }),
    });
    body = await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }));
  } catch (err) {
    body = { errors: [{ message: `network error: ${err.message}` }] };
  }
  if (seq !== loadSeq) return; // a newer load started meanwhile
  const games = body.data?.games ?? [];
  if (body.errors) showMessage(body.errors.map((e) => e.message).join("; "));
  markets.clear();
  $("#games tbody").replaceChildren(...games.map(row));
  const day = date ?? "today";
  $("#summary").textContent = `${games.length} ${league} game${games.length === 1 ? "" : "s"} ${day === "today" ? "today" : `on ${day}`}`;
  renderTrack(league, body.data?.trackRecord);
  subscribeAll([...markets.keys()]);
}

function init() {
  const params = new URLSearchParams(location.search);
  $("#league").value = params.get("league") || localStorage.getItem(LEAGUE_KEY) || "NBA";
  if ($("#league").value === "") $("#league").value = "NBA";
  $("#date").value = params.get("date") || "";
  $("#token").value = token();
  $("#league").addEventListener("change", load);
  $("#date").addEventListener("change", load);
  $("#token").addEventListener("change", () => {
    const value = $("#token").value.trim();
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
    client.restart();
    load();
  });
  $("#controls").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  load();
}

init();
