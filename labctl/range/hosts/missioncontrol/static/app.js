// labctl mission control: live updates by polling the JSON API (GET only, same origin).
// Values are written with textContent, never as HTML.
"use strict";

const POLL_MS = 1000;
// Where mission control is mounted: "" directly, "/mission-control" behind the class portal.
const PREFIX = document.body ? document.body.dataset.prefix || "" : "";

function setText(id, value) {
  const el = document.getElementById(id);
  if (el) el.textContent = value === null || value === undefined || value === "" ? "—" : String(value);
}

async function getJSON(url) {
  const response = await fetch(PREFIX + url, { credentials: "same-origin", cache: "no-store" });
  if (response.status === 401) { window.location.assign(PREFIX + "/login"); throw new Error("logged out"); }
  if (!response.ok) throw new Error(url + ": HTTP " + response.status);
  return response.json();
}

function showAge(age) {
  const el = document.getElementById("tm-age");
  if (!el) return;
  el.textContent = age === null ? "never" : age.toFixed(1) + " s ago";
  el.classList.toggle("stale", age === null || age > 10);
}

function showLink(link) {
  const state = document.getElementById("link-state");
  if (state) {
    state.textContent = link.connected ? "connected" : "down";
    state.className = link.connected ? "up" : "down";
  }
  setText("gl-address", link.address);
  setText("gl-in", link.packets_in);
  setText("gl-out", link.packets_out);
  setText("gl-garbage", link.garbage_octets);
  setText("gl-rejected", link.rejected_packets);
  setText("gl-processing", link.processing);
  setText("gl-error", link.last_error);
}

function showHousekeeping(hk) {
  if (!hk) return;
  setText("hk-mode", hk.mode);
  setText("hk-battery", hk.battery_pct + " %");
  const meter = document.getElementById("hk-battery-meter");
  if (meter) meter.value = hk.battery_pct;
  setText("hk-payload", hk.payload_on ? "ON" : "OFF");
  setText("hk-time", hk.spacecraft_time);
  setText("hk-executed", hk.commands_executed);
  setText("hk-rejected", hk.commands_rejected);
  setText("hk-frames", hk.frames_rejected);
  setText("hk-seq", hk.seq_count);
  setText("hk-ops", hk.ops_message);
}

function showStation(gs) {
  if (!gs) return;
  setText("gs-uplink", gs.uplink_mode + " · alert " + gs.alert + (gs.lockout ? " · LOCKOUT" : ""));
  setText("gs-frames", gs.frames_sent);
  setText("gs-sdls", gs.sdls_rejections);
}

async function refreshDashboard() {
  const snap = await getJSON("/api/telemetry/latest");
  showHousekeeping(snap.housekeeping);
  showAge(snap.age_seconds);
  showLink(snap.ground_link);
  showStation(snap.ground_station ? snap.ground_station.fields : null);
}

function utc(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19);
}

function commandRow(cmd) {
  const tr = document.createElement("tr");
  tr.dataset.id = cmd.id;
  const cells = [cmd.id, utc(cmd.created_at), cmd.username, cmd.name, JSON.stringify(cmd.args), cmd.seq_count];
  for (const value of cells) {
    const td = document.createElement("td");
    td.textContent = String(value);
    tr.appendChild(td);
  }
  const td = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = "status " + cmd.status;
  badge.textContent = cmd.status + (cmd.failure_code === null ? "" : " (code " + cmd.failure_code + ")");
  td.appendChild(badge);
  tr.appendChild(td);
  return tr;
}

async function refreshCommands() {
  const data = await getJSON("/api/commands/sent?limit=20");
  const body = document.querySelector("#sent-table tbody");
  if (!body || data.commands.length === 0) return;
  body.replaceChildren(...data.commands.map(commandRow));
}

function poll(refresh) {
  const tick = async () => {
    try { await refresh(); } catch (err) { console.warn(err); }
    window.setTimeout(tick, POLL_MS);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "dashboard") poll(refreshDashboard);
  if (page === "commands") poll(refreshCommands);
});
