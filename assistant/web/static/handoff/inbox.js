// Staff inbox. The queue list and the open transcript update from the server push: live.js re-dispatches each
// pushed event as a DOM event ("shequ:queue.changed", "shequ:message"), and this script re-fetches what changed.
// The transcript falls back to polling every 3 s only while no push has arrived for 20 s; the list re-fetches
// once a minute as well (to keep 已等待 current and to recover from a lost push).
// No inline script (the console's CSP forbids it); text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var POLL_MS = 3000;
  var PUSH_QUIET_MS = 20000;
  var LIST_REFRESH_MS = 60000;
  var JSON_GET = { credentials: "same-origin", headers: { "Accept": "application/json" } };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  // A function that runs ``load`` now, or once more right after the load in flight.
  function serialized(load) {
    var busy = false, again = false;
    function run() {
      if (busy) { again = true; return; }
      busy = true;
      Promise.resolve().then(load).catch(function () { /* offline for a moment: the next event retries */ })
        .then(function () { busy = false; if (again) { again = false; run(); } });
    }
    return run;
  }

  // ------------------------------------------------------------------ the queue
  var table = document.getElementById("queue");
  var rows = document.getElementById("queue-rows");
  if (table && rows) {
    var csrf = table.getAttribute("data-csrf") || "";
    var empty = document.getElementById("queue-empty");

    var row = function (item) {
      var tr = el("tr", "status-" + item.status + (item.urgent ? " urgent" : ""));
      tr.setAttribute("data-id", String(item.id));
      tr.appendChild(el("td", "", item.queue_number || "—"));
      var status = el("td");
      if (item.urgent) { status.appendChild(el("strong", "urgent-tag", "紧急")); status.appendChild(document.createTextNode(" ")); }
      status.appendChild(document.createTextNode(item.status));
      tr.appendChild(status);
      tr.appendChild(el("td", "", item.channel_label || item.channel));
      tr.appendChild(el("td", "", item.waited_minutes + " 分钟"));
      tr.appendChild(el("td", "preview", item.preview));
      tr.appendChild(el("td", "topic", item.topic || "—"));
      tr.appendChild(el("td", "", item.agent || ""));
      var actions = el("td");
      if (item.status === "排队中" || item.status === "留言") {
        var form = el("form", "inline");
        form.method = "post";
        form.action = "/staff/inbox/" + encodeURIComponent(item.id) + "/claim";
        var token = el("input");
        token.type = "hidden"; token.name = "csrf_token"; token.value = csrf;
        var button = el("button", "primary", "接待");
        button.type = "submit";
        button.setAttribute("data-claim", String(item.id));
        form.appendChild(token);
        form.appendChild(button);
        actions.appendChild(form);
      }
      var open = el("a", "", "查看");
      open.href = "/staff/inbox/" + encodeURIComponent(item.id);
      actions.appendChild(open);
      tr.appendChild(actions);
      return tr;
    };

    var refreshList = serialized(function () {
      return fetch("/staff/api/handoffs", JSON_GET)
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          var fresh = document.createDocumentFragment();
          data.items.forEach(function (item) { fresh.appendChild(row(item)); });
          while (rows.firstChild) { rows.removeChild(rows.firstChild); }
          rows.appendChild(fresh);
          table.hidden = data.items.length === 0;
          if (empty) { empty.hidden = data.items.length > 0; }
          if (data.counts) {  // the menu badge reads the same numbers as a push would carry
            document.dispatchEvent(new CustomEvent("shequ:queue.counted", { detail: data.counts }));
          }
        });
    });
    document.addEventListener("shequ:queue.changed", refreshList);
    // A new message changes a row's question; an emergency makes a row urgent.
    document.addEventListener("shequ:message", refreshList);
    document.addEventListener("shequ:alert.raised", refreshList);
    window.setInterval(refreshList, LIST_REFRESH_MS);
  }

  // ------------------------------------------------------------------ the open transcript
  var list = document.getElementById("transcript");
  if (!list) { return; }
  var id = list.getAttribute("data-handoff");
  var after = parseInt(list.getAttribute("data-after") || "0", 10);
  var labels = { resident: "居民", bot: "小助手", agent: "工作人员", system: "系统" };
  var status = document.getElementById("status");
  var lastPush = Date.now();

  function add(message) {
    if (list.querySelector('[data-id="' + message.id + '"]')) { return; }
    var item = el("li", "msg from-" + message.from);
    item.setAttribute("data-id", String(message.id));
    item.appendChild(el("span", "who", labels[message.from] || message.from));
    item.appendChild(document.createTextNode(" "));
    item.appendChild(el("span", "text", message.text));
    item.appendChild(document.createTextNode(" "));
    item.appendChild(el("time", "", (message.at || "").slice(11, 16)));
    list.appendChild(item);
  }

  var fetchMessages = serialized(function () {
    return fetch("/staff/api/handoffs/" + encodeURIComponent(id) + "/messages?after=" + after, JSON_GET)
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(function (m) { add(m); after = Math.max(after, m.id); });
        if (status && data.status) { status.textContent = data.status; }
      });
  });

  document.addEventListener("shequ:message", function (event) {
    lastPush = Date.now();
    var data = event.detail || {};
    if (String(data.handoff_id) === String(id) && !(typeof data.id === "number" && data.id <= after)) {
      fetchMessages();
    }
  });
  ["shequ:queue.changed", "shequ:alert.raised"].forEach(function (kind) {
    document.addEventListener(kind, function () { lastPush = Date.now(); fetchMessages(); });
  });

  window.setInterval(function () {
    if (Date.now() - lastPush >= PUSH_QUIET_MS) { fetchMessages(); }  // no push lately: poll
  }, POLL_MS);
})();
