// SPDX-License-Identifier: Apache-2.0
// Two headless Chromium pages open Turnpike's demo page (served by its signaling service),
// fetch TURN credentials from /ice-servers, join one room, connect relay-only, exchange
// data-channel messages, restart ICE from one side and exchange messages again. Usage:
//   node signaling_call.mjs --base http://127.0.0.1:PORT --key API_KEY --signal ws|http
//        [--room NAME] [--messages 5] [--timeout 30000]
// Prints one JSON line; exits 0 when both rounds arrived over relay/relay pairs and the
// restart moved the call to new relayed addresses.
import { arg, insecure, launchChromium } from './launch.mjs';

const base = arg('base');
const key = arg('key');
const signal = arg('signal', 'ws');
const room = arg('room', `e2e-${signal}-${Date.now()}`);
const messages = Number(arg('messages', '5'));
const timeout = Number(arg('timeout', '30000'));

const browser = await launchChromium();

const outcome = { success: false, signal, room };
const pages = [];
try {
  for (const user of ['alice', 'bob']) {
    const context = await browser.newContext({ ignoreHTTPSErrors: insecure });
    const page = await context.newPage();
    page.on('pageerror', (e) => { outcome.pageErrors = [...(outcome.pageErrors || []), `${user}: ${e.message}`]; });
    await page.goto(`${base}/?room=${room}&signal=${signal}&user=${user}#key=${key}`);
    await page.evaluate(() => window.turnpike.join());
    const joined = await page.evaluate(() => ({ joined: window.turnpike.state.joined, errors: window.turnpike.state.errors }));
    if (!joined.joined) throw new Error(`${user} did not join: ${joined.errors.join('; ')}`);
    pages.push({ user, page });
  }
  const [a, b] = pages;
  const waitOpen = (p) => p.page.waitForFunction(() => window.turnpike.state.channelOpen, null, { timeout });

  // A round: each side sends `messages` lines, both must receive the other's.
  const exchange = async (round) => {
    for (const p of pages) {
      await p.page.evaluate(({ n, user, round }) => {
        for (let i = 0; i < n; i++) window.turnpike.send(`${round}:${user}:${i}`);
      }, { n: messages, user: p.user, round });
    }
    for (const p of pages) {
      const other = p === a ? b.user : a.user;
      await p.page.waitForFunction(({ prefix, n }) =>
        window.turnpike.state.received.filter((m) => m.startsWith(prefix)).length === n,
      { prefix: `${round}:${other}:`, n: messages }, { timeout });
    }
    return Promise.all(pages.map((p) => p.page.evaluate(() => window.turnpike.stats())));
  };

  await Promise.all(pages.map(waitOpen));
  const before = await exchange('before');
  outcome.before = before;

  // ICE restart from the side that started the call: new credentials, new gathering, new
  // TURN allocations; wait until the selected pair uses a relayed address not used before.
  const starter = (await a.page.evaluate(() => window.turnpike.state.polite)) ? b : a;
  const oldPort = (await starter.page.evaluate(() => window.turnpike.stats())).local.port;
  await starter.page.evaluate(() => window.turnpike.restartIce());
  // The restarting end moves to a pair on its new allocation once the new checks succeed.
  // (The answering end may go on sending from its earlier pair while that allocation lives:
  // Chromium's controlled side keeps a working selected pair.)
  const starterIndex = starter === a ? 0 : 1;
  let moved = null;
  for (const until = Date.now() + timeout; !moved && Date.now() < until;) {
    const s = await starter.page.evaluate(() => window.turnpike.stats());
    const st = await starter.page.evaluate(() => window.turnpike.ice());
    if (s && s.local.port !== oldPort && st.ice === 'connected' && st.signaling === 'stable') moved = s;
    else await new Promise((r) => setTimeout(r, 200));
  }
  if (!moved) throw new Error('the restart did not move the call to a new relayed address');
  const sentBefore = await starter.page.evaluate((port) => window.turnpike.sentFrom(port), moved.local.port);
  const after = await exchange('after');
  outcome.after = after;

  const relayed = (pairs) => pairs.every((s) => s && s.local.type === 'relay' && s.remote.type === 'relay');
  outcome.relayedBefore = relayed(before);
  outcome.relayedAfter = relayed(after);
  // The restarting end sent the second round from its new relayed address: the pairs from it
  // carried more bytes since (Chromium's byte counts trail the sending by a moment).
  let sentAfter = sentBefore;
  for (const until = Date.now() + 5000; sentAfter <= sentBefore && Date.now() < until;) {
    await new Promise((r) => setTimeout(r, 250));
    sentAfter = await starter.page.evaluate((port) => window.turnpike.sentFrom(port), moved.local.port);
  }
  outcome.starter = { user: starter.user, oldPort, newPort: moved.local.port, sentBefore, sentAfter };
  outcome.newAllocation = sentAfter > sentBefore;
  outcome.received = await Promise.all(pages.map((p) => p.page.evaluate(() => window.turnpike.state.received.length)));
  outcome.errors = await Promise.all(pages.map((p) => p.page.evaluate(() => window.turnpike.state.errors)));
  outcome.success = outcome.relayedBefore && outcome.relayedAfter && outcome.newAllocation &&
                    outcome.received.every((n) => n === 2 * messages);
} catch (e) {
  outcome.error = e.message;
  outcome.logs = await Promise.all(pages.map((p) => p.page.evaluate(() => document.getElementById('log').textContent).catch(() => '')));
} finally {
  await browser.close();
}

console.log(JSON.stringify(outcome));
process.exit(outcome.success ? 0 : 1);
