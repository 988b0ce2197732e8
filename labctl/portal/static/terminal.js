// The web terminal: xterm.js over a websocket to the portal, which opens the student's own
// workstation over SSH inside tmux. Reconnects after a blip; tmux keeps the shell.
(function () {
  "use strict";
  const box = document.getElementById("terminal");
  const status = document.getElementById("term-status");
  const term = new Terminal({ cursorBlink: true, convertEol: false, scrollback: 5000 });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const encoder = new TextEncoder();
  let socket = null;
  let retry = 0;
  let closedOnPurpose = false;

  function say(text) { status.textContent = text; }

  function sendSize() {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
    }
  }

  function connect() {
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + box.dataset.ws;
    socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => { retry = 0; say("connected"); sendSize(); term.focus(); };
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") { term.write(new Uint8Array(event.data)); }
    };
    socket.onclose = (event) => {
      if (event.code === 1008 || event.code === 1000) {
        closedOnPurpose = true;
        say("closed: " + (event.reason || "by the server") + " (reload the page to open it again)");
        return;
      }
      retry = Math.min(retry + 1, 6);
      const wait = 500 * 2 ** retry;
      say("connection lost; reconnecting in " + Math.round(wait / 1000) + " s (your shell keeps running)");
      setTimeout(() => { if (!closedOnPurpose) { connect(); } }, wait);
    };
  }

  term.onData((data) => {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(encoder.encode(data)); }
  });
  window.addEventListener("resize", () => { fit.fit(); sendSize(); });
  term.onResize(sendSize);
  connect();
})();
