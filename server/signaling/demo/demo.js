// SPDX-License-Identifier: Apache-2.0
// Turnpike demo call: credentials from /ice-servers, signaling over WebSocket (/ws) or HTTP
// (/join, POST and GET /offer /answer /ice), a relay-only RTCPeerConnection with a data channel
// (and camera video when there is one), "perfect negotiation" so either side may restart ICE.
// window.turnpike is what the end-to-end test drives.
'use strict';

const params = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));
const $ = (id) => document.getElementById(id);

$('room').value = params.get('room') || `room-${Math.random().toString(36).slice(2, 8)}`;
$('user').value = params.get('user') || 'demo';
$('key').value = fragment.get('key') || '';
$('signal').value = params.get('signal') === 'http' ? 'http' : 'ws';

const state = {
  joined: false,
  peer: null,
  polite: true,
  channelOpen: false,
  received: [],
  errors: [],
  selected: null,
  restarts: 0,
  remoteUfrag: null,
  iceServers: null,
};

function log(text) {
  const line = `${new Date().toISOString().slice(11, 23)} ${text}`;
  $('log').textContent += `${line}\n`;
  $('log').scrollTop = $('log').scrollHeight;
}

function fail(where, e) {
  const text = `${where}: ${e && e.message ? e.message : e}`;
  state.errors.push(text);
  log(text);
}

async function fetchIceServers(key, user) {
  const res = await fetch(`/ice-servers?user=${encodeURIComponent(user)}`, {
    headers: { Authorization: `Bearer ${key}` },
  });
  const body = await res.json();
  if (!res.ok) throw new Error(`/ice-servers answered ${res.status}: ${body.message}`);
  return body;
}

// WebSocket signaling: one connection, messages in order.
class WsSignal {
  constructor(room, onMessage) {
    this.room = room;
    this.onMessage = onMessage;
  }
  open() {
    return new Promise((resolve, reject) => {
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      this.ws = new WebSocket(`${scheme}://${location.host}/ws`);
      this.ws.onopen = () => this.send({ type: 'join', room: this.room });
      this.ws.onerror = () => reject(new Error('WebSocket error'));
      this.ws.onclose = (e) => log(`signaling closed (${e.code})`);
      this.ws.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        if (msg.type === 'joined') resolve(msg);
        else if (msg.type === 'error' && !state.joined) reject(new Error(msg.message));
        else this.onMessage(msg);
      };
    });
  }
  send(msg) {
    this.ws.send(JSON.stringify(msg));
  }
}

// HTTP signaling: POST to send (one at a time, so the order holds), GET to poll.
class HttpSignal {
  constructor(room, onMessage) {
    this.room = room;
    this.onMessage = onMessage;
    this.queue = Promise.resolve();
  }
  async open() {
    const joined = await this.post('/join', { room: this.room });
    this.token = joined.token;
    this.poll();
    return joined;
  }
  async post(path, body) {
    const res = await fetch(path, { method: 'POST', body: JSON.stringify(body) });
    const answer = await res.json();
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${answer.message}`);
    return answer;
  }
  leave() {
    if (this.token) navigator.sendBeacon('/leave', JSON.stringify({ token: this.token }));
  }
  send(msg) {
    const path = msg.type === 'candidate' ? '/ice' : `/${msg.type}`;
    this.queue = this.queue
      .then(() => this.post(path, { ...msg, token: this.token }))
      .catch((e) => fail(`POST ${path}`, e));
  }
  async poll() {
    for (;;) {
      for (const path of ['/offer', '/answer', '/ice']) {
        try {
          const res = await fetch(`${path}?token=${encodeURIComponent(this.token)}`);
          const body = await res.json();
          if (!res.ok) throw new Error(`${res.status}: ${body.message}`);
          for (const msg of body.messages) await this.onMessage(msg);
        } catch (e) {
          fail(`GET ${path}`, e);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const ufragOf = (sdp) => (/a=ice-ufrag:(\S+)/.exec(sdp || '') || [])[1] || null;

let pc = null;
let channel = null;
let signal = null;
let makingOffer = false;
let pendingCandidates = [];  // for a remote description not seen yet (ICE restart, HTTP order)

function setupChannel(dc) {
  channel = dc;
  dc.onopen = () => {
    state.channelOpen = true;
    $('send').disabled = false;
    $('restart').disabled = false;
    log(`data channel "${dc.label}" open`);
  };
  dc.onclose = () => {
    state.channelOpen = false;
    log('data channel closed');
  };
  dc.onmessage = (e) => {
    state.received.push(e.data);
    log(`received: ${e.data}`);
  };
}

async function addCandidate(candidate) {
  try {
    await pc.addIceCandidate(candidate);
  } catch (e) {
    fail('addIceCandidate', e);
  }
}

async function flushCandidates() {
  const ufrag = state.remoteUfrag;
  const ready = pendingCandidates.filter((c) => !c.usernameFragment || c.usernameFragment === ufrag);
  pendingCandidates = pendingCandidates.filter((c) => !ready.includes(c));
  for (const c of ready) await addCandidate(c);
}

async function onSignal(msg) {
  try {
    if (msg.type === 'offer' || msg.type === 'answer') {
      const collision = msg.type === 'offer' && (makingOffer || pc.signalingState !== 'stable');
      if (collision && !state.polite) return;  // the polite side rolls back and answers ours
      await pc.setRemoteDescription({ type: msg.type, sdp: msg.sdp });
      state.remoteUfrag = ufragOf(msg.sdp);
      log(`${msg.type} from ${msg.from} (ufrag ${state.remoteUfrag})`);
      if (msg.type === 'offer') {
        await addCamera(true);
        await pc.setLocalDescription();
        signal.send({ type: 'answer', sdp: pc.localDescription.sdp });
      }
      await flushCandidates();
    } else if (msg.type === 'candidate') {
      const c = msg.candidate;
      if (!c || !c.candidate) return;  // end of candidates
      if (!pc.remoteDescription || (c.usernameFragment && c.usernameFragment !== state.remoteUfrag)) {
        pendingCandidates.push(c);
      } else {
        await addCandidate(c);
      }
    } else if (msg.type === 'peer-joined' || msg.type === 'peer-left') {
      log(`${msg.type}: ${msg.peer}`);
    } else if (msg.type === 'error') {
      fail('signaling', msg.message);
    }
  } catch (e) {
    fail(`handling ${msg.type}`, e);
  }
}

let cameraAdded = false;
async function addCamera(answering) {
  if (cameraAdded) return;
  cameraAdded = true;
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    if (!devices.some((d) => d.kind === 'videoinput')) return;
    const stream = await navigator.mediaDevices.getUserMedia({ video: true });
    $('local').srcObject = stream;
    const [track] = stream.getVideoTracks();
    const video = pc.getTransceivers().find((t) => t.receiver.track.kind === 'video');
    if (answering && video) {
      video.direction = 'sendrecv';
      await video.sender.replaceTrack(track);
    } else if (!answering) {
      pc.addTrack(track, stream);
    }
  } catch (e) {
    log(`no camera: ${e.message}`);
  }
}

async function showStats() {
  if (!pc) return;
  const stats = await pc.getStats();
  let text = `connection ${pc.connectionState}, ICE ${pc.iceConnectionState}, restarts ${state.restarts}\n`;
  stats.forEach((s) => {
    if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
    const pair = stats.get(s.selectedCandidatePairId);
    const local = stats.get(pair.localCandidateId);
    const remote = stats.get(pair.remoteCandidateId);
    state.selected = {
      local: { type: local.candidateType, address: local.address, port: local.port,
               protocol: local.protocol, relayProtocol: local.relayProtocol, url: local.url },
      remote: { type: remote.candidateType, address: remote.address, port: remote.port },
      rtt: pair.currentRoundTripTime,
      bytesSent: pair.bytesSent,
      bytesReceived: pair.bytesReceived,
    };
    text += `local  ${local.candidateType} ${local.address}:${local.port} ${local.protocol}` +
            ` (relayed over ${local.relayProtocol || '-'} via ${local.url || '-'})\n`;
    text += `remote ${remote.candidateType} ${remote.address}:${remote.port} ${remote.protocol}\n`;
    text += `round trip ${pair.currentRoundTripTime !== undefined ? `${(pair.currentRoundTripTime * 1000).toFixed(1)} ms` : '-'},` +
            ` sent ${pair.bytesSent} B, received ${pair.bytesReceived} B\n`;
  });
  $('stats').textContent = text;
}

async function join() {
  if (state.joined) return;
  $('join').disabled = true;
  try {
    const room = $('room').value;
    const config = await fetchIceServers($('key').value, $('user').value);
    state.iceServers = config.iceServers;
    log(`credentials for ${config.iceServers[0].username}, valid ${config.ttl} s`);
    pc = new RTCPeerConnection({ iceServers: config.iceServers, iceTransportPolicy: 'relay' });
    pc.onicecandidate = (e) => {
      signal.send({ type: 'candidate', candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.ondatachannel = (e) => setupChannel(e.channel);
    pc.ontrack = (e) => { $('remote').srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.oniceconnectionstatechange = () => log(`ICE ${pc.iceConnectionState}`);
    pc.onnegotiationneeded = async () => {
      try {
        makingOffer = true;
        await pc.setLocalDescription();
        signal.send({ type: 'offer', sdp: pc.localDescription.sdp });
      } catch (e) {
        fail('offer', e);
      } finally {
        makingOffer = false;
      }
    };
    const Signal = $('signal').value === 'http' ? HttpSignal : WsSignal;
    signal = new Signal(room, onSignal);
    const joined = await signal.open();
    state.joined = true;
    state.peer = joined.peer;
    log(`joined room ${room} as ${joined.peer}; others: ${joined.peers.join(', ') || 'none'}`);
    // The second to arrive starts the call (and is the impolite side of a collision).
    if (joined.peers.length > 0) {
      state.polite = false;
      setupChannel(pc.createDataChannel('turnpike'));
      await addCamera(false);
    }
    setInterval(showStats, 1000);
  } catch (e) {
    fail('join', e);
    $('join').disabled = false;
  }
}

function send(text) {
  if (!channel || channel.readyState !== 'open') throw new Error('data channel not open');
  channel.send(text);
  log(`sent: ${text}`);
}

function restartIce() {
  state.restarts += 1;
  log('restarting ICE');
  pc.restartIce();
}

// An HTTP peer leaves at once instead of waiting to be timed out (a WebSocket closes anyway).
window.addEventListener('pagehide', () => { if (signal && signal.leave) signal.leave(); });

$('join').onclick = join;
$('send').onclick = () => send($('text').value);
$('restart').onclick = restartIce;

window.turnpike = {
  state,
  join,
  send,
  restartIce,
  async stats() { await showStats(); return state.selected; },
  // Every candidate pair (for tests and curious users): ports, state, bytes, selected or not.
  async pairs() {
    const stats = await pc.getStats();
    const selected = new Set();
    stats.forEach((s) => { if (s.type === 'transport') selected.add(s.selectedCandidatePairId); });
    const out = [];
    stats.forEach((s) => {
      if (s.type !== 'candidate-pair') return;
      out.push({ local: stats.get(s.localCandidateId).port, remote: stats.get(s.remoteCandidateId).port,
                 state: s.state, nominated: !!s.nominated, bytesSent: s.bytesSent,
                 selected: selected.has(s.id) });
    });
    return out;
  },
  // Bytes sent on every pair from local relayed port `port`.
  async sentFrom(port) {
    return (await this.pairs()).filter((p) => p.local === port).reduce((n, p) => n + p.bytesSent, 0);
  },
  ice() { return pc ? { ice: pc.iceConnectionState, connection: pc.connectionState, signaling: pc.signalingState } : null; },
};
