// Staff inbox: shows the resident's new messages as they arrive (polls the staff API every 3 s).
// No inline script (the console's CSP forbids it); text is inserted with textContent, never as HTML.
(function () {
  "use strict";
  var list = document.getElementById("transcript");
  if (!list) { return; }
  var id = list.getAttribute("data-handoff");
  var after = parseInt(list.getAttribute("data-after") || "0", 10);
  var labels = { resident: "居民", bot: "小助手", agent: "工作人员", system: "系统" };
  var status = document.getElementById("status");

  function add(message) {
    if (list.querySelector('[data-id="' + message.id + '"]')) { return; }
    var item = document.createElement("li");
    item.className = "msg from-" + message.from;
    item.setAttribute("data-id", String(message.id));
    var who = document.createElement("span");
    who.className = "who";
    who.textContent = labels[message.from] || message.from;
    var text = document.createElement("span");
    text.className = "text";
    text.textContent = message.text;
    var time = document.createElement("time");
    time.textContent = (message.at || "").slice(11, 16);
    item.appendChild(who);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(text);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(time);
    list.appendChild(item);
  }

  function poll() {
    fetch("/staff/api/handoffs/" + encodeURIComponent(id) + "/messages?after=" + after,
          { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        data.messages.forEach(function (m) { add(m); after = Math.max(after, m.id); });
        if (status && data.status) { status.textContent = data.status; }
      })
      .catch(function () { /* offline for a moment: try again on the next tick */ })
      .then(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 3000);
})();
