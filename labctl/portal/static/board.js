// The class board: rows pushed by the server (server-sent events), no page reloads.
(function () {
  "use strict";
  const table = document.getElementById("board");
  if (!table || !window.EventSource) { return; }
  const body = table.tBodies[0];

  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }

  function row(r) {
    const tr = document.createElement("tr");
    tr.dataset.key = r.session + "/" + r.student;
    const who = document.createElement("td");
    const link = document.createElement("a");
    link.href = "/board/student/" + encodeURIComponent(r.session) + "/" + encodeURIComponent(r.student);
    link.textContent = r.student;
    who.append(link, document.createElement("br"));
    const name = document.createElement("span");
    name.className = "muted";
    name.textContent = r.name;
    who.append(name);
    tr.append(who, cell(r.session), cell(r.state, "state"));
    const hosts = cell("", "hosts");
    Object.entries(r.hosts).forEach(([host, state]) => {
      const span = document.createElement("span");
      span.className = "host " + state;
      span.title = host + ": " + state;
      span.textContent = host.slice(0, 2);
      hosts.append(span);
    });
    tr.append(hosts);
    const solved = cell(Object.keys(r.solved).length + " / " + r.objectives, "solved");
    Object.entries(r.solved).forEach(([objective, time]) => {
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.title = time;
      tag.textContent = objective;
      solved.append(" ", tag);
    });
    const adversary = r.adversary === null || r.adversary === undefined ? "—" : r.adversary + " actions";
    tr.append(solved, cell(adversary, "adversary"), cell(r.typed ? r.typed.slice(11, 19) : "—", "typed"), cell(r.report ? r.report.slice(11, 16) : "—", "report"), cell(r.quiz ? "done" : "—", "quiz"));
    return tr;
  }

  const events = new EventSource("/board/events");
  events.addEventListener("board", (message) => {
    const data = JSON.parse(message.data);
    body.replaceChildren(...data.rows.map(row));
    Object.entries(data.grading || {}).forEach(([session, text]) => {
      const line = document.getElementById("grading-" + session);
      if (line) { line.textContent = text; }
    });
    Object.entries(data.observed || {}).forEach(([session, text]) => {
      const line = document.getElementById("observed-" + session);
      if (line) { line.textContent = text; }
    });
    table.dataset.updated = String(Date.now());
  });
})();
