// Every staff page: the number of residents waiting for a person, in the menu (人工接待) and the tab title
// 「(2) …」, kept current by the server push (live.js re-dispatches each event as "shequ:<kind>").
// Optional 提示音: a short Web Audio beep when a new resident starts waiting; off by default, remembered in
// localStorage. No inline script (the console's CSP forbids it).
(function () {
  "use strict";
  var badge = document.getElementById("queue-count");
  if (!badge) { return; }  // not an agent: no queue on this page
  var toggle = document.getElementById("queue-sound");
  var KEY = "shequ.queueSound";
  var waiting = parseInt(badge.getAttribute("data-count") || "0", 10) || 0;
  var audio = null;

  function soundOn() {
    try { return window.localStorage.getItem(KEY) === "on"; } catch (e) { return false; }
  }

  function showTitle(n) {
    var bare = document.title.replace(/^\(\d+\) /, "");
    document.title = n > 0 ? "(" + n + ") " + bare : bare;
  }

  function show(n) {
    badge.textContent = String(n);
    badge.setAttribute("data-count", String(n));
    badge.setAttribute("aria-label", n + "位居民在等待");
    badge.hidden = n <= 0;
    showTitle(n);
  }

  function context() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return null; }
    if (!audio) { audio = new Ctx(); }
    if (audio.state === "suspended") { audio.resume(); }
    return audio;
  }

  function beep() {
    var ctx = context();
    if (!ctx) { return; }
    var osc = ctx.createOscillator();
    var gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.3, ctx.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.35);
    osc.connect(gain);
    gain.connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.4);
  }

  function showToggle() {
    if (!toggle) { return; }
    var on = soundOn();
    toggle.textContent = on ? "提示音：开" : "提示音：关";
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
  }

  if (toggle) {
    toggle.addEventListener("click", function () {
      var on = !soundOn();
      try { window.localStorage.setItem(KEY, on ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
      showToggle();
      if (on) { beep(); }  // the click unlocks audio in the browser, and lets the agent hear the sound once
    });
  }

  document.addEventListener("shequ:queue.changed", function (event) {
    var data = event.detail || {};
    if (typeof data.waiting !== "number") { return; }
    if (data.waiting > waiting && soundOn()) { beep(); }
    waiting = data.waiting;
    show(waiting);
  });

  // The inbox's own re-fetch carries the same counts (no sound: the push already rang for that change).
  document.addEventListener("shequ:queue.counted", function (event) {
    var data = event.detail || {};
    if (typeof data.waiting === "number") { waiting = data.waiting; show(waiting); }
  });

  showToggle();
  show(waiting);
})();
