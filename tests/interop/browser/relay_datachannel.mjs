// SPDX-License-Identifier: Apache-2.0
// Two RTCPeerConnections in headless Chromium, iceTransportPolicy "relay", open a data channel
// through a TURN server and exchange messages; the selected candidate pair must be relay on
// both ends. Usage:
//   node relay_datachannel.mjs --url turn:127.0.0.1:3478?transport=udp --user u --password p
//        [--expect fail] [--messages 20] [--ignore-certificate-errors]
// Exits 0 when the outcome is the expected one, 1 otherwise; prints one JSON line.
import { arg, launchChromium } from './launch.mjs';

const url = arg('url');
const user = arg('user', 'u');
const password = arg('password', 'p');
const expectFailure = arg('expect', 'ok') === 'fail';
const messages = Number(arg('messages', '20'));
const timeoutMs = Number(arg('timeout', '20000'));

const browser = await launchChromium();
let outcome;
try {
  const page = await browser.newPage();
  outcome = await page.evaluate(async ({ url, user, password, messages, timeoutMs }) => {
    const config = {
      iceServers: [{ urls: [url], username: user, credential: password }],
      iceTransportPolicy: 'relay',
    };
    const a = new RTCPeerConnection(config);
    const b = new RTCPeerConnection(config);
    const candidates = { a: [], b: [] };
    a.onicecandidate = (e) => { if (e.candidate) { candidates.a.push(e.candidate.type); b.addIceCandidate(e.candidate); } };
    b.onicecandidate = (e) => { if (e.candidate) { candidates.b.push(e.candidate.type); a.addIceCandidate(e.candidate); } };
    b.ondatachannel = (e) => { e.channel.onmessage = (m) => e.channel.send(`echo:${m.data}`); };
    const channel = a.createDataChannel('turnpike');
    const echoes = [];
    const done = new Promise((resolve) => {
      channel.onopen = () => { for (let i = 0; i < messages; i++) channel.send(`m${i}`); };
      channel.onmessage = (m) => { echoes.push(m.data); if (echoes.length === messages) resolve('done'); };
    });
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(a.localDescription);
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(b.localDescription);
    const result = await Promise.race([done, new Promise((r) => setTimeout(() => r('timeout'), timeoutMs))]);
    let selected = null;
    const stats = await a.getStats();
    stats.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) {
        const pair = stats.get(s.selectedCandidatePairId);
        selected = {
          local: stats.get(pair.localCandidateId).candidateType,
          remote: stats.get(pair.remoteCandidateId).candidateType,
          state: pair.state,
        };
      }
    });
    const state = { ice: a.iceConnectionState, connection: a.connectionState };
    a.close();
    b.close();
    return { result, echoes: echoes.length, expected: messages, selected, candidates, state };
  }, { url, user, password, messages, timeoutMs });
} finally {
  await browser.close();
}

const relayed = outcome.selected && outcome.selected.local === 'relay' && outcome.selected.remote === 'relay';
const success = outcome.result === 'done' && outcome.echoes === outcome.expected && relayed;
console.log(JSON.stringify({ success, ...outcome }));
process.exit(success !== expectFailure ? 0 : 1);
