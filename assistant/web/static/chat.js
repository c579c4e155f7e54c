/* 社区小助手 web chat.
 *
 * Plain JavaScript, no framework and no CDN, so the page works on a community LAN without internet.
 * Every text from the resident, the bot or an agent is inserted with textContent: resident text is
 * untrusted and must never be parsed as HTML.
 *
 * The session id the server issued is kept in the browser (localStorage, else sessionStorage, else memory),
 * so a reload or an app switch on a phone shows the conversation again from the server and resumes waiting
 * for the staff's replies (a push stream announces them; polling stays as the safety net). Only ids the
 * server issued are stored; 「新对话」 forgets it on purpose.
 *
 * Voice input (when the server listens, GET /api/v1/asr): 「按住说话」 records with getUserMedia and
 * MediaRecorder — hold and release, or tap to start and tap again; a pause after speaking or the 15 s cap also
 * stops it. The clip goes to POST /api/v1/asr and the text heard comes back for the resident to confirm
 * (「对」 sends it as a normal message, 「重说」 records again) before anything is asked.
 */
(() => {
  "use strict";

  const API = "/api/v1";
  const MAX_CHARS = 500;
  const NEAR_LIMIT = 450;
  const REQUEST_TIMEOUT_MS = 20000;
  const POLL_MS = 4000;
  const POLL_MAX_MS = 15000;
  const PUSHED_POLL_MS = 15000;  // with the push stream open, polling is only the safety net
  const LARGE_TEXT_KEY = "shequ.largeText";
  const SESSION_KEY = "shequ.sessionId";
  const HISTORY_TIMEOUT_MS = 8000;  // restoring must not hold the page long: it starts afresh instead
  const CALL_PAYLOAD = /^tel:(\d{3,12})$/;  // emergency call buttons (tel:120); a link, never a message
  const NOTICES_PAYLOAD = "/notices";  // 「全部通知」 (assistant/dialogue/notices.py): opens the list
  const EMERGENCY_NUMBERS = /(?<!\d)1(?:20|10|19)(?!\d)/g;
  const OPEN_HANDOFF = ["排队中", "接待中"];

  const TEXT = {
    you: "您说：",
    bot: "小助手说：",
    agent: "工作人员",
    agentSays: "工作人员说：",
    system: "系统消息：",
    thinking: "小助手正在查找答案…",
    networkTyped: "网络连接不上。您输入的内容还在输入框里，请稍后再点“发送”。",
    networkButton: "网络连接不上，请稍后再点一次。",
    serverError: "系统出了点问题，请稍后再试，或者找社区工作人员。",
    requestError: "没有发送成功，请再试一次。",
    useful: "有用",
    useless: "没用",
    usefulLabel: "这个回答有用",
    uselessLabel: "这个回答没用",
    thanks: "谢谢您的评价！",
    thanksDown: "谢谢，我们会改进这个回答。",
    speak: "朗读",
    speakLabel: "朗读这条回答",
    remaining: (n) => `还可以输入${n}个字`,
    over: (n) => `超出了${n}个字，请删掉一些`,
    queued: (number) => `您的排队号是 ${number}，请稍等，工作人员会在这里回复您。`,
    serving: "工作人员正在为您服务，请在下面输入。",
    handoffClosed: "人工服务已结束。还有问题可以继续问我。",
    leaveMessage: "请直接输入您的问题和电话号码，工作人员会给您回电。",
    call: (number) => `拨打${number}`,
    callLabel: (number) => `用电话拨打${number}`,
    callGroup: "紧急电话",
    newChatConfirm: "正在等工作人员回复。开始新对话会结束人工服务，确定吗？",
    voiceIdle: "按住说话",
    voiceHint: "按住说话，松开就发出；也可以点一下开始，说完再点一下。",
    voiceStarting: "正在打开话筒…",
    voiceListening: "正在听，请说。说完停一下，或者点“说完了”。",
    voiceStop: "说完了",
    voiceWorking: "正在听您说的话…",
    voiceWorkingButton: "请稍等",
    voiceUnsupported: "这个浏览器不能录音，请直接打字。",
    voiceDenied: "没有得到使用话筒的允许。请在浏览器设置里允许使用话筒，或者直接打字。",
    voiceNoMic: "没有找到话筒，请直接打字。",
    voiceMicBusy: "话筒用不了，可能正被别的程序使用。请直接打字。",
    voiceNothing: "没有听到说话声，请靠近一点再说一遍。",
    voiceOff: "语音输入暂时用不了，请打字或点选。",
    voiceNetwork: "网络连接不上，录音没有发出去。请再说一次，或者直接打字。",
  };

  const state = {
    sessionId: null,
    restored: false,  // the stored conversation is on screen (or there was none to restore)
    restoring: false,
    busy: false,
    handoffOpen: false,
    stream: null,  // EventSource of /sessions/{id}/events while a person may write
    pushed: false,  // the stream is open: a reply is announced at once
    poll: { active: false, timer: null, after: 0, delay: POLL_MS, seen: new Set(), running: false, again: false },
  };

  const $ = (id) => document.getElementById(id);
  const els = {
    messages: $("messages"),
    conversation: $("conversation"),
    form: $("chat-form"),
    input: $("chat-input"),
    send: $("send-button"),
    count: $("char-count"),
    error: $("error"),
    largeText: $("large-text"),
    human: $("human-button"),
    newChat: $("new-chat"),
    handoff: $("handoff-status"),
    voiceBar: $("voice-bar"),
    voiceButton: $("voice-button"),
    voiceLabel: $("voice-label"),
    voiceStatus: $("voice-status"),
    voiceLevel: $("voice-level"),
    voiceConfirm: $("voice-confirm"),
    voiceHeard: $("voice-heard"),
    voiceYes: $("voice-yes"),
    voiceAgain: $("voice-again"),
    voiceEdit: $("voice-edit"),
    voiceAlternatives: $("voice-alternatives"),
  };

  // ------------------------------------------------------------------ the stored session id

  // localStorage keeps the conversation across reloads and app switches; when the browser blocks it
  // (private mode, strict settings) sessionStorage still survives a reload; failing both, memory only.
  const store = (() => {
    const usable = (name) => {
      try {
        const area = window[name];
        area.setItem("shequ.probe", "1");
        area.removeItem("shequ.probe");
        return area;
      } catch (e) {
        return null;
      }
    };
    const area = usable("localStorage") || usable("sessionStorage");
    let memory = null;
    return {
      get() {
        try { return area ? area.getItem(SESSION_KEY) : memory; } catch (e) { return memory; }
      },
      set(value) {
        memory = value;
        try { if (area) area.setItem(SESSION_KEY, value); } catch (e) { /* full or blocked: memory */ }
      },
      clear() {
        memory = null;
        try { if (area) area.removeItem(SESSION_KEY); } catch (e) { /* blocked */ }
      },
    };
  })();

  function rememberSession(id) {
    if (typeof id !== "string" || !id) return;
    state.sessionId = id;
    store.set(id);
  }

  // ------------------------------------------------------------------ helpers

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function hidden(text) {
    return el("span", "visually-hidden", text);
  }

  // Inline SVG icons: emoji need a colour-emoji font that many offline PCs and phones lack.
  const ICONS = {
    up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 "
      + "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23"
      + ".14-.47.14-.73v-2z",
    speaker: "M3 9v6h4l5 5V4L7 9H3zm13.5 3c0-1.77-1.02-3.29-2.5-4.03v8.05c1.48-.73 2.5-2.25 2.5-4.02zM14 "
      + "3.23v2.06c2.89.86 5 3.54 5 6.71s-2.11 5.85-5 6.71v2.06c4.01-.91 7-4.49 7-8.77s-2.99-7.86-7-8.77z",
    mic: "M12 14c1.66 0 3-1.34 3-3V5c0-1.66-1.34-3-3-3S9 3.34 9 5v6c0 1.66 1.34 3 3 3zm5.3-3c0 3-2.54 5.1-5.3 "
      + "5.1S6.7 14 6.7 11H5c0 3.41 2.72 6.23 6 6.72V21h2v-3.28c3.28-.48 6-3.3 6-6.72h-1.7z",
  };

  function icon(name, flip) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name]);
    if (flip) path.setAttribute("transform", "rotate(180 12 12)");
    svg.appendChild(path);
    return svg;
  }

  function scrollToMessage(node) {
    const box = els.conversation;
    const topOf = (el) => el.offsetTop - 8;  // .conversation is positioned: offsets are within the log
    const bottom = topOf(node) + node.offsetHeight + 8;
    // Keep the resident's question in sight above the reply when both fit; a long reply is shown from its
    // first line rather than its end, so nobody has to scroll back up to start reading.
    const question = node.previousElementSibling;
    if (question && question.classList.contains("msg-user") && bottom - topOf(question) <= box.clientHeight) {
      box.scrollTop = Math.max(bottom - box.clientHeight, 0);
    } else if (node.offsetHeight > box.clientHeight * 0.7) {
      box.scrollTop = topOf(node);
    } else {
      box.scrollTop = box.scrollHeight;
    }
  }

  function showError(message) {
    els.error.textContent = message;
    els.error.hidden = false;
  }

  function clearError() {
    els.error.hidden = true;
    els.error.textContent = "";
  }

  function errorMessage(status, data) {
    const zh = data && data.error && typeof data.error.message_zh === "string" ? data.error.message_zh : "";
    if (zh) return zh;
    return status >= 500 ? TEXT.serverError : TEXT.requestError;
  }

  async function request(method, path, body, timeoutMs = REQUEST_TIMEOUT_MS) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(API + path, {
        method,
        headers: body === undefined ? { Accept: "application/json" }
          : { "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        signal: controller.signal,
      });
      let data = null;
      if (response.status !== 204) {
        try { data = await response.json(); } catch (e) { data = null; }
      }
      return { ok: response.ok, status: response.status, data };
    } finally {
      clearTimeout(timer);
    }
  }

  // ------------------------------------------------------------------ messages

  function addMessage(kind, text, options = {}) {
    const message = el("div", `msg msg-${kind}`);
    if (options.className) message.classList.add(options.className);
    if (kind === "agent") message.appendChild(el("span", "sender", TEXT.agent));
    const bubble = el("div", "bubble");
    const label = { user: TEXT.you, bot: TEXT.bot, agent: TEXT.agentSays, system: TEXT.system }[kind];
    bubble.appendChild(hidden(label));
    bubble.appendChild(el("p", "bubble-text", text));
    bubble.tabIndex = -1;
    message.appendChild(bubble);
    els.messages.appendChild(message);
    scrollToMessage(message);
    return message;
  }

  function retireOldControls(keepFeedback) {
    // Follow-up and choice buttons act on the conversation's current topic: once a newer reply exists
    // they would answer about the wrong topic, so they go. Feedback always rates the latest answer.
    els.messages.querySelectorAll(".reply-buttons[data-contextual]").forEach((group) => group.remove());
    if (!keepFeedback) {
      els.messages.querySelectorAll(".feedback:not([data-rated])").forEach((group) => group.remove());
    }
  }

  function buttonGroup(buttons) {
    const group = el("div", "reply-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "可以点选");
    for (const item of buttons) {
      if (!item || typeof item.title !== "string" || typeof item.payload !== "string") continue;
      if (CALL_PAYLOAD.test(item.payload)) continue;  // shown as call links, see callGroup
      const isChoice = item.payload.startsWith("/choose");
      const button = el("button", isChoice ? "choice-button" : "reply-button", item.title);
      button.type = "button";
      if (item.payload === "/human") button.classList.add("human");
      if (item.payload.startsWith("/")) group.dataset.contextual = "";
      button.dataset.payload = item.payload;
      button.dataset.title = item.title;
      group.appendChild(button);
    }
    return group.childElementCount ? group : null;
  }

  function callNumbers(buttons) {
    const numbers = [];
    for (const item of buttons) {
      const match = item && typeof item.payload === "string" ? CALL_PAYLOAD.exec(item.payload) : null;
      if (match && !numbers.includes(match[1])) numbers.push(match[1]);
    }
    return numbers;
  }

  // A phone dials these itself: big red links, never a message to the bot, and never retired by a newer reply.
  function callGroup(numbers) {
    if (!numbers.length) return null;
    const group = el("div", "call-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", TEXT.callGroup);
    for (const number of numbers) {
      const link = el("a", "call-link", TEXT.call(number));
      link.href = `tel:${number}`;
      link.setAttribute("aria-label", TEXT.callLabel(number));
      group.appendChild(link);
    }
    return group;
  }

  function feedbackGroup() {
    const group = el("div", "feedback");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "这个回答对您有帮助吗");
    const make = (rating, text, label) => {
      const button = el("button", "tool-button");
      button.type = "button";
      button.dataset.rating = String(rating);
      button.setAttribute("aria-label", label);
      button.setAttribute("aria-pressed", "false");
      button.append(icon("up", rating < 0), el("span", "", text));
      return button;
    };
    // 👍 / 👎
    group.append(make(1, TEXT.useful, TEXT.usefulLabel), make(-1, TEXT.useless, TEXT.uselessLabel));
    return group;
  }

  function speakButton(reply) {
    if (!("speechSynthesis" in window) || typeof window.SpeechSynthesisUtterance !== "function") return null;
    const button = el("button", "tool-button speak-button");
    button.type = "button";
    button.setAttribute("aria-label", TEXT.speakLabel);
    button.append(icon("speaker"), el("span", "", TEXT.speak));
    button.addEventListener("click", () => {
      const utterance = new SpeechSynthesisUtterance(reply.speech || reply.text);
      utterance.lang = "zh-CN";
      utterance.rate = reply.speech_rate === "slow" ? 0.7 : 0.95;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(utterance);
    });
    return button;
  }

  function renderReply(data) {
    const reply = data.reply || { text: "", buttons: [] };
    const rated = ["answer", "clarify", "fallback"].includes(data.action);
    const focusWasLost = () => document.activeElement === document.body || !document.activeElement;
    const hadFocusInOld = els.messages.contains(document.activeElement)
      && document.activeElement.closest(".reply-buttons[data-contextual], .feedback:not([data-rated])");
    retireOldControls(!rated);

    const message = addMessage("bot", reply.text, {
      className: data.action === "emergency" ? "msg-emergency" : "",
    });
    message.dataset.action = data.action || "";
    if (data.topic && typeof data.topic.id === "string") message.dataset.topic = data.topic.id;
    if (data.aspect) message.dataset.aspect = data.aspect;

    const replyButtons = Array.isArray(reply.buttons) ? reply.buttons : [];
    const calls = callGroup(callNumbers(replyButtons));
    if (calls) message.appendChild(calls);
    const buttons = buttonGroup(replyButtons);
    if (buttons) message.appendChild(buttons);

    const tools = el("div", "answer-tools");
    const speak = speakButton(reply);
    if (speak) tools.appendChild(speak);
    if (data.action === "answer") tools.appendChild(feedbackGroup());
    if (tools.childElementCount) message.appendChild(tools);
    scrollToMessage(message);

    if (hadFocusInOld || focusWasLost()) message.querySelector(".bubble").focus({ preventScroll: true });
    return message;
  }

  // ------------------------------------------------------------------ sending

  function setBusy(busy) {
    state.busy = busy;
    els.send.disabled = busy;
    els.messages.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function send(text, shownText, alternatives) {
    if (state.busy) return;
    clearError();
    const typed = shownText === undefined;
    const shown = typed ? text : shownText;
    const mine = text.trim() ? addMessage("user", shown, { className: "pending" }) : null;
    const thinking = text.trim() ? addMessage("bot", TEXT.thinking, { className: "pending" }) : null;
    setBusy(true);
    try {
      const body = { session_id: state.sessionId, text, channel: "web" };
      if (community.code) body.community = community.code;
      // A spoken question's other readings: the server tries them when the confirmed text finds nothing.
      if (Array.isArray(alternatives) && alternatives.length) body.alternatives = alternatives;
      const result = await request("POST", "/chat", body);
      if (!result.ok || !result.data || typeof result.data.session_id !== "string") {
        if (mine) mine.remove();
        if (!communityRefused(result.data)) showError(errorMessage(result.status, result.data));
        return;
      }
      // The server may have started a new conversation (an id it no longer knows): keep whatever it issued.
      rememberSession(result.data.session_id);
      state.restored = true;  // the conversation goes on on screen; older messages are not inserted above it
      if (mine) mine.classList.remove("pending");
      if (typed) {
        els.input.value = "";
        updateCount();
      }
      if (thinking) thinking.remove();
      renderReply(result.data);
      if (result.data.action === "handoff") onHandoff(result.data);
    } catch (error) {
      // Nothing typed is lost: the input is cleared only after the server has the message.
      if (mine) mine.remove();
      showError(typed ? TEXT.networkTyped : TEXT.networkButton);
    } finally {
      if (thinking) thinking.remove();
      setBusy(false);
    }
  }

  function updateCount() {
    const length = els.input.value.length;
    const left = MAX_CHARS - length;
    els.count.textContent = left >= 0 ? TEXT.remaining(left) : TEXT.over(-left);
    els.count.classList.toggle("near-limit", length >= NEAR_LIMIT);
  }

  async function sendFeedback(button) {
    const group = button.closest(".feedback");
    if (!group || group.dataset.rated !== undefined || !state.sessionId) return;
    clearError();
    const rating = Number(button.dataset.rating);
    try {
      const result = await request("POST", "/feedback", { session_id: state.sessionId, rating });
      if (!result.ok) {
        showError(errorMessage(result.status, result.data));
        return;
      }
    } catch (error) {
      showError(TEXT.networkButton);
      return;
    }
    group.dataset.rated = String(rating);
    group.querySelectorAll("button").forEach((b) => {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
      b.disabled = true;
    });
    const note = el("span", "tool-note", rating > 0 ? TEXT.thanks : TEXT.thanksDown);
    note.setAttribute("role", "status");
    group.appendChild(note);
  }

  // ------------------------------------------------------------------ live handoff

  function showHandoffStatus(text) {
    els.handoff.textContent = text;
    els.handoff.hidden = !text;
  }

  function onHandoff(data) {
    // Only a queued or served conversation has a person who will answer here; when the resident leaves a
    // message for a callback (outside office hours) or cancels, nobody will, so polling stops.
    const ticket = data.ticket;
    if (!ticket || !OPEN_HANDOFF.includes(ticket.status)) {
      state.handoffOpen = false;
      stopPolling();
      showHandoffStatus("");
      return;
    }
    state.handoffOpen = true;
    showHandoffStatus(ticket.status === "接待中" ? TEXT.serving : TEXT.queued(ticket.number));
    startPolling();
  }

  function showHandoff(handoff) {
    // The status line from the server's view of the handoff (polling and restoring after a reload).
    state.handoffOpen = Boolean(handoff && OPEN_HANDOFF.includes(handoff.status));
    if (state.handoffOpen) {
      showHandoffStatus(handoff.status === "接待中" ? TEXT.serving : TEXT.queued(handoff.queue_number || ""));
    } else {
      // 留言: nobody claimed the conversation in time; the system message shown says what to do.
      showHandoffStatus(handoff && handoff.status === "留言" ? TEXT.leaveMessage : "");
    }
  }

  function startPolling(now) {
    const poll = state.poll;
    if (poll.active) {
      if (now) pollNow();
      return;
    }
    poll.active = true;
    poll.delay = POLL_MS;
    openStream();
    if (now) pollNow();
    else schedulePoll();
  }

  function stopPolling() {
    const poll = state.poll;
    poll.active = false;
    clearTimeout(poll.timer);
    closeStream();
  }

  // Server push for this conversation: staff replies arrive at once; polling goes on slowly as the safety net.
  function openStream() {
    if (state.stream || !state.sessionId || typeof window.EventSource !== "function") return;
    const source = new EventSource(`${API}/sessions/${encodeURIComponent(state.sessionId)}/events`);
    state.stream = source;
    source.addEventListener("open", () => { state.pushed = true; });
    source.addEventListener("message", () => pollNow());
    source.addEventListener("error", () => {
      state.pushed = false;  // reconnecting (or refused): poll at the normal pace meanwhile
      if (source.readyState === EventSource.CLOSED && state.stream === source) state.stream = null;
    });
  }

  function closeStream() {
    if (state.stream) state.stream.close();
    state.stream = null;
    state.pushed = false;
  }

  function pollNow() {
    // Back from another app or a frozen tab: timers were throttled, so ask at once rather than wait.
    if (!state.poll.active) return;
    if (state.poll.running) {
      state.poll.again = true;  // the answer on its way may predate what we came back for: ask once more
      return;
    }
    clearTimeout(state.poll.timer);
    state.poll.delay = POLL_MS;
    pollOnce();
  }

  function schedulePoll() {
    clearTimeout(state.poll.timer);
    const delay = state.pushed ? Math.max(state.poll.delay, PUSHED_POLL_MS) : state.poll.delay;
    state.poll.timer = setTimeout(pollOnce, delay);
  }

  async function pollOnce() {
    const poll = state.poll;
    if (!poll.active || !state.sessionId || poll.running) return;
    poll.running = true;
    const path = `/sessions/${encodeURIComponent(state.sessionId)}/messages?after=${encodeURIComponent(poll.after)}`;
    try {
      const result = await request("GET", path);
      // 新对话 while this answer was on its way: it belongs to the conversation just forgotten, and would put
      // its status line (人工服务已结束) back on the cleared screen.
      if (poll !== state.poll || !poll.active) return;
      if (!result.ok || !result.data) {
        // 404 until the messages endpoint (or the session's queue entry) exists: keep trying, more slowly.
        poll.delay = Math.min(Math.round(poll.delay * 1.5), POLL_MAX_MS);
        return;
      }
      poll.delay = POLL_MS;
      const messages = Array.isArray(result.data.messages) ? result.data.messages : [];
      for (const item of messages) {
        if (!item || item.id === undefined || poll.seen.has(String(item.id))) continue;
        poll.seen.add(String(item.id));
        poll.after = item.id;
        if (typeof item.text !== "string") continue;
        // Resident and bot turns are already on screen; only what a person or the system adds is new.
        if (item.from === "agent") addMessage("agent", item.text);
        else if (item.from === "system") addMessage("system", item.text);
      }
      const handoff = result.data.handoff;
      showHandoff(handoff);
      if (!state.handoffOpen) {
        if (handoff && handoff.status !== "留言") showHandoffStatus(TEXT.handoffClosed);
        stopPolling();
      }
    } catch (error) {
      poll.delay = Math.min(Math.round(poll.delay * 1.5), POLL_MAX_MS);
    } finally {
      poll.running = false;
      if (poll.active && poll.again) {
        poll.again = false;
        clearTimeout(poll.timer);
        poll.timer = setTimeout(pollOnce, 0);
      } else if (poll.active) {
        schedulePoll();
      }
    }
  }

  // ------------------------------------------------------------------ restoring after a reload

  function showStoredMessage(item) {
    const kind = { resident: "user", bot: "bot", agent: "agent", system: "system" }[item.from];
    if (!kind || typeof item.text !== "string") return;
    const message = addMessage(kind, item.text, { className: item.emergency ? "msg-emergency" : "" });
    message.dataset.restored = "";
    if (item.emergency) {
      // The call buttons are not stored; the numbers the emergency reply names are offered again.
      const calls = callGroup([...new Set(item.text.match(EMERGENCY_NUMBERS) || [])]);
      if (calls) message.appendChild(calls);
    }
  }

  async function restore() {
    const id = store.get();
    if (!id) {
      state.restored = true;
      return;
    }
    if (state.restoring) return;
    state.restoring = true;
    state.sessionId = id;
    setBusy(true);
    try {
      const result = await request("GET", `/sessions/${encodeURIComponent(id)}/history`, undefined,
        HISTORY_TIMEOUT_MS);
      if (result.status === 404) {
        // Unknown or purged on the server: start afresh, quietly.
        forgetSession();
        state.restored = true;
        return;
      }
      if (!result.ok || !result.data || !Array.isArray(result.data.messages)) return;  // retried on return
      if (state.restored) return;
      state.restored = true;
      const poll = state.poll;
      for (const item of result.data.messages) {
        if (!item || item.id === undefined || poll.seen.has(String(item.id))) continue;
        poll.seen.add(String(item.id));
        showStoredMessage(item);
      }
      if (typeof result.data.last_id === "number") poll.after = Math.max(poll.after, result.data.last_id);
      els.conversation.scrollTop = els.conversation.scrollHeight;
      showHandoff(result.data.handoff);
      // A queued or served conversation continues with the same person: ask for what came meanwhile now.
      if (state.handoffOpen) startPolling(true);
    } catch (error) {
      // Offline for now: the id is kept, the next message continues the conversation, and the page tries
      // again when it is shown next.
    } finally {
      state.restoring = false;
      setBusy(false);
    }
  }

  function forgetSession() {
    store.clear();
    state.sessionId = null;
    state.handoffOpen = false;
    stopPolling();
    state.poll = { active: false, timer: null, after: 0, delay: POLL_MS, seen: new Set(), running: false,
      again: false };
  }

  async function newConversation() {
    if (state.busy) return;
    if (state.handoffOpen) {
      if (!window.confirm(TEXT.newChatConfirm)) return;
      // Tell the person waiting that the resident has gone (best effort: the screen is cleared anyway).
      try {
        await request("POST", "/chat", { session_id: state.sessionId, text: "/cancel", channel: "web",
          community: community.code || undefined });
      } catch (error) { /* offline: the queue times out by itself */ }
    }
    forgetSession();
    state.restored = true;
    hideConfirm();
    els.messages.querySelectorAll(".msg:not(.msg-welcome)").forEach((node) => node.remove());
    showHandoffStatus("");
    clearError();
    els.input.value = "";
    updateCount();
    els.conversation.scrollTop = 0;
    els.input.focus();
  }

  function onShown() {
    if (document.visibilityState === "hidden") return;
    if (!state.restored) {
      restore();
    } else if (state.poll.active) {
      openStream();  // a phone may have dropped the stream while the app was in the background
      pollNow();
    }
  }

  // ------------------------------------------------------------------ voice input

  const VOICE = {
    maxMs: 14700,  // the server's cap is 15 s; a container may run a little over the recorder's clock
    holdMs: 450,  // pressed longer than this: releasing the button ends the recording
    tickMs: 100,
    speechRms: 0.02,  // louder than this counts as speaking (the meter's and the pause's threshold)
    minSpeechMs: 300,  // this much sound in a row before a pause can end the recording
    pauseMs: 1300,  // older residents pause between words; this much quiet after speech stops
    requestTimeoutMs: 30000,  // recognition of 15 s on a slow server CPU takes a while
    types: ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"],
  };

  const voice = {
    phase: "idle",  // idle | starting | recording | stopping | sending
    off: false,
    stream: null,
    recorder: null,
    chunks: [],
    audio: null,
    timers: [],
    heard: null,
    pointer: false,
    pressedAt: 0,
    stopPress: false,
  };

  function canRecord() {
    return Boolean(navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === "function"
      && typeof window.MediaRecorder === "function");
  }

  function showVoiceStatus(text) {
    els.voiceStatus.textContent = text;
  }

  function renderVoice() {
    const phase = voice.phase;
    const active = phase === "starting" || phase === "recording";
    els.voiceBar.classList.toggle("recording", phase === "recording");
    els.voiceButton.setAttribute("aria-pressed", active ? "true" : "false");
    els.voiceButton.disabled = phase === "stopping" || phase === "sending";
    els.voiceLabel.textContent = phase === "recording" ? TEXT.voiceStop
      : (phase === "stopping" || phase === "sending") ? TEXT.voiceWorkingButton : TEXT.voiceIdle;
    showVoiceStatus({ starting: TEXT.voiceStarting, recording: TEXT.voiceListening, stopping: TEXT.voiceWorking,
      sending: TEXT.voiceWorking }[phase] || TEXT.voiceHint);
    if (!active) els.voiceLevel.style.width = "0%";
  }

  function turnVoiceOff(message) {
    voice.off = true;
    els.voiceBar.hidden = true;
    hideConfirm();
    if (message) showError(message);
  }

  function micError(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") return TEXT.voiceDenied;
    if (name === "NotFoundError" || name === "OverconstrainedError" || name === "DevicesNotFoundError") return TEXT.voiceNoMic;
    return TEXT.voiceMicBusy;
  }

  function releaseMicrophone() {
    voice.timers.forEach((timer) => {
      clearTimeout(timer);
      clearInterval(timer);
    });
    voice.timers = [];
    if (voice.stream) voice.stream.getTracks().forEach((track) => track.stop());
    voice.stream = null;
    if (voice.audio) {
      try { voice.audio.close(); } catch (e) { /* already closed */ }
    }
    voice.audio = null;
  }

  // The meter, and the pause after speech that ends a recording (no pause detection without Web Audio: the
  // resident taps again, or the cap stops it).
  function watchLevel(stream) {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (typeof Context !== "function") return;
    try {
      const audio = new Context();
      voice.audio = audio;
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const analyser = audio.createAnalyser();
      analyser.fftSize = 2048;
      audio.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      let loudMs = 0;
      let quietMs = 0;
      let spoke = false;
      voice.timers.push(setInterval(() => {
        if (voice.phase !== "recording") return;
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (let i = 0; i < samples.length; i += 1) sum += samples[i] * samples[i];
        const rms = Math.sqrt(sum / samples.length);
        const dbfs = 20 * Math.log10(Math.max(rms, 1e-6));
        els.voiceLevel.style.width = `${Math.round(Math.min(1, Math.max(0, (dbfs + 60) / 60)) * 100)}%`;
        if (rms >= VOICE.speechRms) {
          loudMs += VOICE.tickMs;
          quietMs = 0;
          if (loudMs >= VOICE.minSpeechMs) spoke = true;
        } else {
          quietMs += VOICE.tickMs;
          if (!spoke) loudMs = 0;
          if (spoke && quietMs >= VOICE.pauseMs) stopRecording();
        }
      }, VOICE.tickMs));
    } catch (e) {
      // No meter; recording goes on.
    }
  }

  async function startRecording() {
    if (voice.off || voice.phase !== "idle") return;
    clearError();
    hideConfirm();
    if (!canRecord()) {
      showError(TEXT.voiceUnsupported);
      return;
    }
    voice.phase = "starting";
    renderVoice();
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      voice.phase = "idle";
      renderVoice();
      showError(micError(error));
      return;
    }
    if (voice.phase !== "starting") {  // cancelled while the browser asked for permission
      stream.getTracks().forEach((track) => track.stop());
      return;
    }
    let recorder;
    try {
      const type = VOICE.types.find((t) => typeof MediaRecorder.isTypeSupported !== "function"
        || MediaRecorder.isTypeSupported(t));
      recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
    } catch (error) {
      stream.getTracks().forEach((track) => track.stop());
      voice.phase = "idle";
      renderVoice();
      showError(TEXT.voiceUnsupported);
      return;
    }
    voice.stream = stream;
    voice.recorder = recorder;
    voice.chunks = [];
    recorder.addEventListener("dataavailable", (event) => {
      if (event.data && event.data.size) voice.chunks.push(event.data);
    });
    recorder.addEventListener("stop", () => finishRecording(recorder));
    recorder.start();
    voice.phase = "recording";
    voice.timers.push(setTimeout(stopRecording, VOICE.maxMs));
    watchLevel(stream);
    renderVoice();
  }

  function stopRecording() {
    if (voice.phase === "starting") {  // tapped again before the microphone opened: give up quietly
      voice.phase = "idle";
      renderVoice();
      return;
    }
    if (voice.phase !== "recording") return;
    voice.phase = "stopping";
    renderVoice();
    try {
      voice.recorder.stop();  // "stop" follows the last "dataavailable": finishRecording sends the clip
    } catch (error) {
      releaseMicrophone();
      voice.phase = "idle";
      renderVoice();
    }
  }

  function finishRecording(recorder) {
    releaseMicrophone();
    const type = (recorder.mimeType || (voice.chunks[0] && voice.chunks[0].type) || "audio/webm");
    const clip = new Blob(voice.chunks, { type });
    voice.chunks = [];
    voice.recorder = null;
    if (!clip.size) {
      voice.phase = "idle";
      renderVoice();
      showError(TEXT.voiceNothing);
      return;
    }
    sendRecording(clip);
  }

  async function sendRecording(clip) {
    voice.phase = "sending";
    renderVoice();
    const query = new URLSearchParams();
    if (state.sessionId) query.set("session_id", state.sessionId);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), VOICE.requestTimeoutMs);
    try {
      const response = await fetch(`${API}/asr${query.toString() ? `?${query}` : ""}`, {
        method: "POST",
        headers: { "Content-Type": clip.type || "audio/webm", Accept: "application/json" },
        body: clip,
        cache: "no-store",
        signal: controller.signal,
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      if (response.status === 503 && data && data.error && data.error.code === "voice_unavailable") {
        turnVoiceOff(errorMessage(503, data) || TEXT.voiceOff);  // switched off or no model: until a reload
        return;
      }
      if (!response.ok || !data || typeof data.text !== "string" || !data.text.trim()) {
        showError(errorMessage(response.status, data));
        return;
      }
      showConfirm(data);
    } catch (error) {
      showError(TEXT.voiceNetwork);
    } finally {
      clearTimeout(timer);
      voice.phase = "idle";
      renderVoice();
    }
  }

  function showConfirm(data) {
    const alternatives = (Array.isArray(data.alternatives) ? data.alternatives : [])
      .filter((item) => typeof item === "string" && item.trim() && item !== data.text).slice(0, 3);
    voice.heard = { text: data.text, alternatives };
    els.voiceHeard.textContent = data.text;
    els.voiceAlternatives.querySelectorAll("button").forEach((button) => button.remove());
    for (const item of alternatives) {
      const button = el("button", "voice-alternative", item);
      button.type = "button";
      button.dataset.text = item;
      els.voiceAlternatives.appendChild(button);
    }
    els.voiceAlternatives.hidden = !alternatives.length;
    els.voiceConfirm.hidden = false;
    els.voiceYes.focus({ preventScroll: true });
  }

  function hideConfirm() {
    voice.heard = null;
    els.voiceConfirm.hidden = true;
  }

  function confirmHeard(text, alternatives) {
    if (state.busy || !text) return;  // the previous message is still on its way: the strip stays
    hideConfirm();
    send(text, text, alternatives);
  }

  function setUpVoice() {
    els.voiceButton.prepend(icon("mic"));
    // Shown only when the server listens; an older server without the route answers 404 or 405: no button.
    request("GET", "/asr", undefined, HISTORY_TIMEOUT_MS).then((result) => {
      if (result.ok && result.data && result.data.enabled === true && !voice.off) {
        els.voiceBar.hidden = false;
        renderVoice();
      }
    }).catch(() => { /* offline: typing works */ });

    const button = els.voiceButton;
    // Hold to talk, or tap to start and tap again: a pointer press decides here, the click after it is ignored;
    // a keyboard's Enter or Space (a click without a pointer) toggles.
    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0 || button.disabled) return;
      voice.pointer = true;
      voice.pressedAt = Date.now();
      voice.stopPress = voice.phase === "recording" || voice.phase === "starting";
      if (voice.stopPress) stopRecording();
      else startRecording();
    });
    const release = () => {
      setTimeout(() => { voice.pointer = false; }, 0);  // after the click this press makes, if any
      if (voice.stopPress) {
        voice.stopPress = false;
        return;
      }
      if (voice.phase === "recording" && Date.now() - voice.pressedAt >= VOICE.holdMs) stopRecording();
    };
    button.addEventListener("pointerup", release);
    button.addEventListener("pointercancel", release);
    button.addEventListener("contextmenu", (event) => event.preventDefault());  // a long press on a phone
    button.addEventListener("click", () => {
      if (voice.pointer) {
        voice.pointer = false;
        return;
      }
      if (voice.phase === "recording" || voice.phase === "starting") stopRecording();
      else startRecording();
    });

    els.voiceYes.addEventListener("click", () => {
      if (voice.heard) confirmHeard(voice.heard.text, voice.heard.alternatives);
    });
    els.voiceAgain.addEventListener("click", () => {
      hideConfirm();
      startRecording();
    });
    els.voiceEdit.addEventListener("click", () => {
      if (!voice.heard) return;
      els.input.value = voice.heard.text;
      updateCount();
      hideConfirm();
      els.input.focus();
    });
    els.voiceAlternatives.addEventListener("click", (event) => {
      const target = event.target instanceof Element ? event.target.closest("button") : null;
      if (target && target.dataset.text) confirmHeard(target.dataset.text, []);
    });
  }

  // ------------------------------------------------------------------ large text

  function setLargeText(on, remember) {
    document.documentElement.classList.toggle("large-text", on);
    els.largeText.setAttribute("aria-checked", on ? "true" : "false");
    if (remember) {
      try { localStorage.setItem(LARGE_TEXT_KEY, on ? "1" : "0"); } catch (e) { /* private mode */ }
    }
  }

  // ------------------------------------------------------------------ the community (/?c=CODE)

  // Everything a resident starts belongs to a community: /?c=CODE names it, else the one chosen before on this
  // device; with several communities and neither, the page asks once. It goes with every chat request as
  // ``community`` (the server keeps a conversation in the community it started in).
  const COMMUNITY_KEY = "shequ.community";
  const community = { code: null };

  function setUpCommunity() {
    let stored = null;
    try { stored = localStorage.getItem(COMMUNITY_KEY); } catch (e) { /* private mode: asked each time */ }
    const named = (new URLSearchParams(window.location.search).get("c") || "").trim().slice(0, 32);
    // A link to another community starts a new conversation there, not the last one of this device.
    if (named && stored && named !== stored) forgetSession();
    community.code = named || stored;
    return named;
  }

  function rememberCommunity(code) {
    community.code = code;
    try { localStorage.setItem(COMMUNITY_KEY, code); } catch (e) { /* private mode */ }
    announceCommunity();
  }

  // bulletins.js shows this community's notices and warnings: it follows the chat's choice.
  function announceCommunity() {
    document.dispatchEvent(new CustomEvent("shequ:community", { detail: { code: community.code } }));
  }

  function askCommunity(list, question) {
    const message = addMessage("bot", question, { className: "community-ask" });
    const group = el("div", "reply-buttons");
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "选择社区");
    for (const item of list) {
      const button = el("button", "reply-button", item.label);
      button.type = "button";
      button.dataset.community = item.code;
      group.appendChild(button);
    }
    message.appendChild(group);
  }

  async function checkCommunity(named) {
    let list = null;
    try {
      const result = await request("GET", "/communities");
      if (result.ok && result.data && Array.isArray(result.data.communities)) list = result.data.communities;
    } catch (error) { /* offline: the server checks the code with the first message */ }
    if (!list) return;
    const known = (code) => list.some((item) => item.code === code);
    if (named && !known(named)) {
      community.code = null;
      askCommunity(list, `没有找到编号为“${named}”的社区。请选择您所在的社区：`);
    } else if (named) {
      rememberCommunity(named);
    } else if (community.code && known(community.code)) {
      // chosen before on this device
    } else if (list.length > 1) {
      community.code = null;
      askCommunity(list, "您在哪个社区？请选一个，以后就不用再选了。");
    } else {
      community.code = null;  // one community: nothing to ask, the server uses it
      announceCommunity();
    }
  }

  function chooseCommunity(button) {
    rememberCommunity(button.dataset.community);
    const message = button.closest(".msg");
    if (message) message.remove();
    addMessage("bot", `好的，您在${button.textContent}。请问有什么可以帮您？`);
    els.input.focus();
  }

  function communityRefused(data) {
    if (!data || !data.error || data.error.code !== "unknown_community") return false;
    try { localStorage.removeItem(COMMUNITY_KEY); } catch (e) { /* private mode */ }
    checkCommunity(community.code || "?");
    return true;
  }

  // ------------------------------------------------------------------ wiring

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    send(els.input.value);
  });

  els.input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms a Chinese IME candidate does nothing.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      send(els.input.value);
    }
  });

  els.input.addEventListener("input", updateCount);

  els.messages.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("button") : null;
    if (!target) return;
    if (target.dataset.payload === NOTICES_PAYLOAD) {
      document.dispatchEvent(new CustomEvent("shequ:notices-open"));  // the list of bulletins.js, not a message
    } else if (target.dataset.payload !== undefined) {
      send(target.dataset.payload, target.dataset.title || target.textContent);
    } else if (target.dataset.rating !== undefined) {
      sendFeedback(target);
    } else if (target.dataset.community !== undefined) {
      chooseCommunity(target);
    }
  });

  els.human.addEventListener("click", () => send(els.human.dataset.payload, els.human.dataset.title));

  els.newChat.addEventListener("click", newConversation);

  document.addEventListener("visibilitychange", onShown);
  window.addEventListener("pageshow", (event) => { if (event.persisted) onShown(); });

  els.largeText.addEventListener("click", () => {
    setLargeText(!document.documentElement.classList.contains("large-text"), true);
  });

  setLargeText(document.documentElement.classList.contains("large-text"), false);
  updateCount();
  setUpVoice();
  const named = setUpCommunity();
  restore().finally(() => checkCommunity(named));
})();
