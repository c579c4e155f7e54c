// Server push on every staff page: ONE EventSource to /staff/api/events per page.
// Every event is re-dispatched on document as CustomEvent("shequ:" + kind, {detail: data}); other scripts
// (the queue badge, the inbox) listen to those instead of opening streams of their own. A script that needs
// a kind not listed in KINDS calls window.shequLive.listen("that.kind").
// For people who answer emergencies (body[data-alerts]) it also shows a red banner per unacknowledged alert,
// with a 「我来处理」 button and a repeated beep. No inline script (CSP); all text goes in with textContent.
"use strict";
(function () {
  var KINDS = ["alert.raised", "alert.acknowledged", "alert.escalated", "queue.changed", "message"];
  var BEEP_EVERY_MS = 6000;
  var ESCALATED_NOTE = "已超时未处理，已通知管理员和部门";
  var source = null;
  var listening = {};
  var banners = {}; // alert id → banner element
  var audio = null;
  var beepTimer = null;

  function csrf() {
    var meta = document.querySelector("meta[name='csrf-token']");
    return meta ? meta.getAttribute("content") : "";
  }

  function dispatch(kind, raw) {
    var data = null;
    try { data = JSON.parse(raw); } catch (e) { return; }
    document.dispatchEvent(new CustomEvent("shequ:" + kind, { detail: data }));
  }

  function attach(kind) {
    source.addEventListener(kind, function (e) { dispatch(kind, e.data); });
  }

  function listen(kind) {
    if (listening[kind]) { return; }
    listening[kind] = true;
    if (source) { attach(kind); }
  }

  function open(after) {
    if (source) { return; }
    var resume = after !== null && after !== undefined ? "?after=" + encodeURIComponent(after) : "";
    source = new EventSource("/staff/api/events" + resume);
    KINDS.forEach(function (kind) { listening[kind] = true; });
    Object.keys(listening).forEach(attach);
  }

  // ---- sound: Web Audio; a browser may refuse until the page was clicked, so failures are quiet.
  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      if (audio.state === "suspended") { audio.resume().catch(function () {}); }
      [0, 0.35].forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(audio.currentTime + offset);
        osc.stop(audio.currentTime + offset + 0.2);
      });
    } catch (e) { /* no sound on this browser: the banner still shows */ }
  }

  function updateSound() {
    var open = Object.keys(banners).length > 0;
    if (open && !beepTimer) {
      beep();
      beepTimer = window.setInterval(beep, BEEP_EVERY_MS);
    } else if (!open && beepTimer) {
      window.clearInterval(beepTimer);
      beepTimer = null;
    }
  }

  // ---- banners
  function container() {
    var box = document.getElementById("alert-banners");
    if (!box) {
      box = document.createElement("div");
      box.id = "alert-banners";
      box.className = "alert-banners";
      document.body.insertBefore(box, document.body.firstChild);
    }
    return box;
  }

  function span(className, text) {
    var el = document.createElement("span");
    el.className = className;
    el.textContent = text;
    return el;
  }

  function notice(text) {
    var note = span("alert-notice", text);
    note.setAttribute("role", "status");
    container().appendChild(note);
    window.setTimeout(function () { if (note.parentNode) { note.parentNode.removeChild(note); } }, 8000);
  }

  function idsOf(banner) {
    return Object.keys(banners).filter(function (id) { return banners[id] === banner; });
  }

  function removeBanner(id) {
    var banner = banners[id];
    if (banner) {
      delete banners[id];
      // A warning's alerts share one banner (one per community): it goes with the last of them.
      if (idsOf(banner).length === 0) { banner.parentNode.removeChild(banner); }
      else { countCommunities(banner); }
    }
    updateSound();
  }

  function countCommunities(banner) {
    var count = banner.querySelector(".alert-count");
    var n = idsOf(banner).length;
    if (count) { count.textContent = n > 1 ? "（涉及 " + n + " 个社区）" : ""; }
  }

  function markEscalated(banner) {
    var note = banner.querySelector(".alert-escalated");
    if (!note) {
      banner.querySelector(".alert-body").appendChild(span("alert-escalated", ESCALATED_NOTE));
    }
  }

  function acknowledge(alert, button, status) {
    button.disabled = true;
    status.textContent = "正在确认…";
    var banner = banners[alert.id];
    var ids = banner ? idsOf(banner) : [String(alert.id)];
    Promise.all(ids.map(function (id) {
      return fetch("/staff/api/alerts/" + encodeURIComponent(id) + "/acknowledge", {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { id: id, response: response, body: body };
        });
      });
    })).then(function (results) {
      var failed = null;
      results.forEach(function (r) {
        if (r.response.ok || r.response.status === 409 || r.response.status === 404) {
          removeBanner(r.id);
          if (!r.response.ok && r.body.message) { notice(r.body.message); }
        } else { failed = r.body; }
      });
      if (failed) {
        button.disabled = false;
        status.textContent = (failed.error && failed.error.message) || failed.message || "没有确认成功，请再点一次。";
      }
    }).catch(function () {
      button.disabled = false;
      status.textContent = "网络不通，没有确认成功，请再点一次。";
    });
  }

  function showAlert(alert) {
    if (!alert || alert.id === undefined || alert.acknowledged_by) { return; }
    if (banners[alert.id]) {
      if (alert.escalated) { markEscalated(banners[alert.id]); }
      return;
    }
    // City staff get a warning's alert once per community it covers: one banner for all of them.
    var grouped = alert.group && document.querySelector('.alert-banner[data-alert-group="' + alert.group + '"]');
    if (grouped) {
      banners[alert.id] = grouped;
      countCommunities(grouped);
      return;
    }
    var banner = document.createElement("div");
    banner.className = "alert-banner";
    banner.setAttribute("role", "alert");
    banner.setAttribute("data-alert-id", String(alert.id));
    if (alert.group) { banner.setAttribute("data-alert-group", alert.group); }
    var body = document.createElement("div");
    body.className = "alert-body";
    // A resident's emergency says so first; a device fault or a disaster warning is named by its kind alone.
    var notResident = alert.kind === "kiosk" || alert.kind === "warning";
    body.appendChild(span("alert-kind", notResident ? (alert.kind_label || "") :
      "紧急求助 · " + (alert.kind_label || "紧急情况")));
    body.appendChild(span("alert-meta", (alert.at_text || "") + " · " + (alert.channel_label || "")));
    body.appendChild(span("alert-text", alert.text || ""));
    body.appendChild(span("alert-count", ""));
    banner.appendChild(body);
    var button = document.createElement("button");
    button.type = "button";
    button.className = "alert-take";
    button.textContent = "我来处理";
    var status = span("alert-status", "");
    status.setAttribute("role", "status");
    button.addEventListener("click", function () { acknowledge(alert, button, status); });
    banner.appendChild(button);
    banner.appendChild(status);
    container().appendChild(banner);
    banners[alert.id] = banner;
    if (alert.escalated) { markEscalated(banner); }
    updateSound();
  }

  function start() {
    document.addEventListener("shequ:alert.raised", function (e) { showAlert(e.detail); });
    document.addEventListener("shequ:alert.escalated", function (e) { showAlert(e.detail); });
    document.addEventListener("shequ:alert.acknowledged", function (e) {
      if (e.detail) { removeBanner(e.detail.id); }
    });
    // A click or key press lets the browser play sound from then on.
    ["click", "keydown"].forEach(function (type) {
      document.addEventListener(type, function () {
        if (audio && audio.state === "suspended") { audio.resume().catch(function () {}); }
      }, { passive: true });
    });
    if (!document.body.hasAttribute("data-alerts")) {
      open(null);
      return;
    }
    // Alerts raised before this page opened; then the stream from the point the list was read.
    fetch("/staff/api/alerts", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { alerts: [], cursor: null }; })
      .then(function (body) {
        (body.alerts || []).slice().reverse().forEach(showAlert);
        open(body.cursor);
      })
      .catch(function () { open(null); });
  }

  window.shequLive = { listen: listen };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
