// The hall agent's page: answer kiosks' video calls with the browser's WebRTC. Plain DOM.
// Signalling: kiosk.videocall_wire's messages on /api/v1/agent/calls (this session's cookie).
"use strict";

const API = "/api/v1";
const V = 1;
const state = {
  ws: null, call: null, pc: null, local: null, tracks: {}, lastSeq: 0,
  recorder: null, chunks: [], wsRetry: 0,
};
const $ = (id) => document.getElementById(id);

function el(tag, text) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

async function api(method, path, body) {
  const response = await fetch(API + path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined, credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  return { status: response.status, data };
}

function send(type, fields) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.ws.send(JSON.stringify({ v: V, type, ...fields }));
  }
}

function say(text) { $("call-state").textContent = text; }

// -- sign-in ---------------------------------------------------------------------------------------

async function start() {
  const me = await api("GET", "/session");
  if (me.status !== 200) { $("sign-in-view").hidden = false; return; }
  $("user-name").textContent = me.data.username;
  $("user-role").textContent = me.data.role;
  $("whoami").hidden = false;
  $("sign-in-view").hidden = true;
  $("agent-view").hidden = false;
  if (me.data.role !== "agent") {
    $("link-state").textContent = "Only an agent account answers calls (ask an admin).";
    return;
  }
  connect();
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const r = await api("POST", "/session", { username: $("username").value, password: $("password").value });
  if (r.status === 200) { start(); return; }
  $("sign-in-error").textContent = r.status === 429 ? "Too many attempts; wait a few minutes." : "Wrong user name or password.";
});

// -- the signalling socket -------------------------------------------------------------------------

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${API}/agent/calls`);
  state.ws = ws;
  ws.onopen = () => {
    state.wsRetry = 0;
    $("link-state").textContent = "Connected: calls appear below as kiosks ring.";
    if (state.call) send("resume", { call_id: state.call.call_id, seq: state.lastSeq });
  };
  ws.onmessage = (event) => onMessage(JSON.parse(event.data));
  ws.onclose = () => {
    $("link-state").textContent = "Link to the server lost; reconnecting…";
    state.wsRetry = Math.min(state.wsRetry + 1, 5);
    setTimeout(connect, 500 * state.wsRetry);
  };
}

function onMessage(m) {
  if (m.seq) state.lastSeq = m.seq;
  switch (m.type) {
    case "calls": return showCalls(m.calls || []);
    case "taken": return taken(m);
    case "offer": return answerOffer(m).catch((e) => {
      console.error("answering the kiosk's offer failed:", e);
      hangUp("failed");
      $("last-call").textContent += ` Could not answer: ${e}`;
    });
    case "quality": return say(m.level === "full" ? "In call." : `The kiosk's link is slow: ${m.level.replace("_", " ")}.`);
    case "peer_away": return say("The kiosk's link dropped; waiting for it to come back…");
    case "peer_back": return say("The kiosk is back.");
    case "hangup": return ended(m.reason || "");
    case "error": return say(`Refused: ${m.reason}`);
    default: return undefined;
  }
}

function showCalls(calls) {
  const body = $("calls").querySelector("tbody");
  body.replaceChildren();
  $("call-count").textContent = calls.length ? `(${calls.length})` : "";
  for (const c of calls) {
    const tr = el("tr");
    tr.dataset.call = c.call_id;
    tr.append(el("td", c.kiosk_id), el("td", `${c.region} / ${c.site}`),
      el("td", `${Math.max(0, Math.round(Date.now() / 1000 - c.since))} s`));
    const td = el("td");
    const button = el("button", "Answer");
    button.type = "button";
    button.className = "answer";
    button.disabled = Boolean(state.call);
    button.addEventListener("click", () => send("take", { call_id: c.call_id }));
    td.append(button);
    tr.append(td);
    body.append(tr);
  }
}

// -- one call --------------------------------------------------------------------------------------

async function taken(m) {
  const place = (m.calls || [{}])[0];
  state.call = { call_id: m.call_id, recording: Boolean(m.recording), kiosk: place.kiosk_id };
  state.lastSeq = m.seq || state.lastSeq;
  $("call").hidden = false;
  $("call-kiosk").textContent = `${place.kiosk_id} (${place.site})`;
  $("recording-mark").hidden = !m.recording;
  const select = $("item");
  select.replaceChildren();
  for (const item of m.items || []) {
    const option = el("option", `${item.name.zh || item.code} ${item.name.en ? `(${item.name.en})` : ""}`);
    option.value = item.code;
    select.append(option);
  }
  for (const b of document.querySelectorAll("button.answer")) b.disabled = true;
  say("Answered; waiting for the kiosk's picture…");
  if (state.pc) return; // resumed: the media is still up
  state.pc = new RTCPeerConnection({ iceServers: m.ice_servers || [] });
  state.pc.ontrack = onTrack;
  state.pc.onconnectionstatechange = () => {
    const s = state.pc && state.pc.connectionState;
    if (s === "connected") say("In call.");
    if (s === "disconnected") say("Media interrupted; waiting…");
    if (s === "failed") hangUp("link_lost");
  };
  state.local = await navigator.mediaDevices.getUserMedia({
    video: { width: 640, height: 480, frameRate: 30 }, audio: true,
  });
  $("own-camera").srcObject = state.local;
}

function onTrack(event) {
  const mid = event.transceiver.mid;
  const name = Object.keys(state.tracks).find((k) => state.tracks[k] === mid);
  const stream = new MediaStream([event.track]);
  if (name === "camera") $("kiosk-camera").srcObject = stream;
  else if (name === "screen") $("kiosk-screen").srcObject = stream;
  else if (event.track.kind === "audio") $("kiosk-audio").srcObject = stream;
  if (state.call && state.call.recording && name === "camera") startRecording();
}

async function answerOffer(m) {
  while (!state.local) await new Promise((r) => setTimeout(r, 50)); // getUserMedia still asking
  state.tracks = m.tracks || {};
  const pc = state.pc;
  await pc.setRemoteDescription({ type: "offer", sdp: m.sdp });
  for (const t of pc.getTransceivers()) {
    if (t.mid === state.tracks.camera) {
      await t.sender.replaceTrack(state.local.getVideoTracks()[0]);
      t.direction = "sendrecv";
    } else if (t.mid === state.tracks.audio) {
      await t.sender.replaceTrack(state.local.getAudioTracks()[0]);
      t.direction = "sendrecv";
    }
  }
  await pc.setLocalDescription(await pc.createAnswer());
  // aiortc takes candidates in the SDP only: gather them all, then answer once.
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") { resolve(); return; }
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
  send("answer", { call_id: state.call.call_id, sdp: pc.localDescription.sdp });
}

function act(type) {
  const code = $("item").value;
  if (state.call && code) send(type, { call_id: state.call.call_id, item_code: code });
}
$("send-guide").addEventListener("click", () => act("guide"));
$("start-item").addEventListener("click", () => act("start_item"));
$("hang-up").addEventListener("click", () => hangUp("agent"));

function hangUp(reason) {
  if (state.call) send("hangup", { call_id: state.call.call_id, reason });
  ended(reason);
}

function ended(reason) {
  const call = state.call;
  stopRecording(call);
  if (state.pc) state.pc.close();
  if (state.local) for (const t of state.local.getTracks()) t.stop();
  state.pc = null; state.local = null; state.call = null; state.tracks = {};
  for (const id of ["kiosk-camera", "kiosk-screen", "own-camera", "kiosk-audio"]) $(id).srcObject = null;
  $("call").hidden = true;
  $("last-call").textContent = call ? `Call with ${call.kiosk} ended (${reason || "ended"}).` : "";
  for (const b of document.querySelectorAll("button.answer")) b.disabled = false;
}

// -- recording, only where the site's policy turns it on --------------------------------------------

function startRecording() {
  if (state.recorder) return;
  const stream = new MediaStream([
    ...$("kiosk-camera").srcObject.getVideoTracks(),
    ...(($("kiosk-audio").srcObject && $("kiosk-audio").srcObject.getAudioTracks()) || []),
  ]);
  state.chunks = [];
  state.recorder = new MediaRecorder(stream, { mimeType: "video/webm" });
  state.recorder.ondataavailable = (e) => { if (e.data.size) state.chunks.push(e.data); };
  state.recorder.start(1000);
}

function stopRecording(call) {
  const recorder = state.recorder;
  state.recorder = null;
  if (!recorder || !call) return;
  recorder.onstop = () => {
    const blob = new Blob(state.chunks, { type: "video/webm" });
    fetch(`${API}/calls/${call.call_id}/recording`, {
      method: "POST", body: blob, credentials: "same-origin", headers: { "Content-Type": "video/webm" },
    });
  };
  recorder.stop();
}

// -- for the tests and bench.videocall: what this page decoded -------------------------------------

window.callStats = async function callStats() {
  const out = { camera: 0, screen: 0, audio_packets: 0, camera_width: 0, connected: false };
  if (!state.pc) return out;
  out.connected = state.pc.connectionState === "connected";
  const stats = await state.pc.getStats();
  stats.forEach((r) => {
    if (r.type !== "inbound-rtp") return;
    if (r.kind === "audio") out.audio_packets = r.packetsReceived || 0;
    else if (r.mid === state.tracks.camera) { out.camera = r.framesDecoded || 0; out.camera_width = r.frameWidth || 0; }
    else if (r.mid === state.tracks.screen) out.screen = r.framesDecoded || 0;
  });
  return out;
};

window.screenFrame = function screenFrame() {
  const video = $("kiosk-screen");
  if (!video.videoWidth) return null;
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas.toDataURL("image/png");
};

start();
