/* 社区小助手 web chat: community notices and warnings (issue 17).
 *
 * Polls GET /api/v1/bulletins?community=CODE every poll_seconds (from the answer, 2 s by default) with the last
 * ETag in If-None-Match, so an unchanged board costs a 304 and no body. Shows:
 * - a banner across the top for each warning in force, in its level's colours (from the JSON; contrast ≥ 7:1
 *   is the server's choice), a new one announced with role="alert", a cancelled one removed;
 * - a strip above the conversation with the newest notice (aria-live polite) and 「全部通知」, which opens a
 *   list with each notice's dates in large text (a <dialog>: Escape and the 关闭 button close it).
 * The community is the chat's: /?c=CODE or the one chosen before (localStorage), and chat.js announces a
 * change with the ``shequ:community`` event. Server text goes in with textContent only, never as HTML.
 */
(() => {
  "use strict";

  const API = "/api/v1/bulletins";
  const COMMUNITY_KEY = "shequ.community";
  const CODE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
  const COLOR = /^#[0-9A-Fa-f]{6}$/;
  const IMAGE_URL = /^\/api\/v1\/(?:bulletins\/)?notices\/\d+\/image$/;
  const POLL_DEFAULT_S = 2;
  const POLL_MIN_S = 1;
  const POLL_MAX_S = 60;
  const RETRY_MAX_S = 30;  // after network errors the poll slows down to this, then comes back at once
  const REQUEST_TIMEOUT_MS = 10000;
  const FALLBACK_COLORS = { background: "#A50000", text: "#FFFFFF" };

  const $ = (id) => document.getElementById(id);
  const els = {
    warnings: $("warnings"),
    strip: $("notice-strip"),
    latest: $("notice-latest"),
    count: $("notice-count"),
    open: $("notices-open"),
    dialog: $("notice-dialog"),
    list: $("notice-list"),
    close: $("notice-close"),
  };
  if (!els.warnings || !els.strip) return;

  const state = {
    code: initialCode(),
    etag: null,
    board: null,
    timer: null,
    pollSeconds: POLL_DEFAULT_S,
    failures: 0,
    refused: false,  // the server does not know this community: wait for the chat to choose another
    generation: 0,  // bumped on a community change: an answer for the old community is dropped
  };

  function initialCode() {
    const named = (new URLSearchParams(window.location.search).get("c") || "").trim().slice(0, 32);
    if (named) return named;  // an unknown or malformed code gets 422: chat.js asks the resident to choose
    try {
      const stored = localStorage.getItem(COMMUNITY_KEY);
      return stored && CODE.test(stored) ? stored : null;
    } catch (e) {
      return null;
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const str = (value) => (typeof value === "string" ? value : "");

  // ------------------------------------------------------------------ warnings

  function colorsOf(warning) {
    const colors = warning.colors || {};
    return {
      background: COLOR.test(str(colors.background)) ? colors.background : FALLBACK_COLORS.background,
      text: COLOR.test(str(colors.text)) ? colors.text : FALLBACK_COLORS.text,
    };
  }

  function warningNode(warning, announce) {
    const node = el("div", "warning-banner");
    // role="alert" only for a warning that arrived while the page was open: one already in force when the page
    // loads is read with the page, not shouted over it.
    if (announce) node.setAttribute("role", "alert");
    node.dataset.warningId = String(warning.id);
    node.dataset.level = str(warning.level);
    const colors = colorsOf(warning);
    node.style.backgroundColor = colors.background;
    node.style.color = colors.text;
    node.style.borderColor = colors.text;
    const title = str(warning.title) || str(warning.headline) || "预警";
    node.appendChild(el("p", "warning-title", title));
    // The banner text starts with the title (「暴雨橙色预警：……」): said once, in the title line.
    let text = str(warning.banner_text) || str(warning.headline);
    if (text.startsWith(`${title}：`)) text = text.slice(title.length + 1);
    if (text) node.appendChild(el("p", "warning-text", text));
    const said = (part) => text.includes(part.replace(/[。.！!]+$/, ""));
    const advice = str(warning.instruction);
    if (advice && !said(advice)) node.appendChild(el("p", "warning-advice", advice));
    const point = str(warning.assembly_point);
    if (point && !said(point)) node.appendChild(el("p", "warning-advice", `集合地点：${point}`));
    return node;
  }

  function renderWarnings(warnings, announce) {
    const wanted = warnings.filter((w) => w && w.banner !== false && (typeof w.id === "number" || typeof w.id === "string"));
    const keep = new Set(wanted.map((w) => String(w.id)));
    for (const node of Array.from(els.warnings.children)) {
      if (!keep.has(node.dataset.warningId)) node.remove();
    }
    const existing = new Map(Array.from(els.warnings.children).map((node) => [node.dataset.warningId, node]));
    let previous = null;
    for (const warning of wanted) {  // most severe first, as the server orders them
      let node = existing.get(String(warning.id));
      if (!node) node = warningNode(warning, announce);
      const after = previous ? previous.nextSibling : els.warnings.firstChild;
      if (node !== after) els.warnings.insertBefore(node, after);
      previous = node;
    }
    els.warnings.hidden = wanted.length === 0;
  }

  // ------------------------------------------------------------------ notices

  function renderStrip(notices) {
    if (!notices.length) {
      els.strip.hidden = true;
      els.latest.textContent = "";
      els.count.textContent = "";
      if (els.dialog.open) renderList(notices);
      return;
    }
    const newest = notices[0];
    const dates = str(newest.dates_text);
    const text = dates ? `${str(newest.title)}（${dates}）` : str(newest.title);
    if (els.latest.textContent !== text) els.latest.textContent = text;  // polite: read when it changes only
    els.count.textContent = notices.length > 1 ? `共${notices.length}条` : "";
    els.strip.hidden = false;
    if (els.dialog.open) renderList(notices);
  }

  function renderList(notices) {
    els.list.replaceChildren();
    if (!notices.length) {
      els.list.appendChild(el("li", "notice-empty", "目前没有社区通知。"));
      return;
    }
    for (const notice of notices) {
      const item = el("li", "notice-item");
      item.dataset.noticeId = String(notice.id);
      item.appendChild(el("h3", "notice-title", str(notice.title)));
      const meta = [str(notice.category), str(notice.audience_label)].filter(Boolean).join(" · ");
      if (meta) item.appendChild(el("p", "notice-meta", meta));
      if (str(notice.dates_text)) item.appendChild(el("p", "notice-dates", `时间：${notice.dates_text}`));
      const body = el("p", "notice-body", str(notice.body));
      item.appendChild(body);
      if (IMAGE_URL.test(str(notice.image_url))) {
        const image = el("img", "notice-image");
        image.src = notice.image_url;
        image.alt = `${str(notice.title)}的附图`;
        image.loading = "lazy";
        item.appendChild(image);
      }
      els.list.appendChild(item);
    }
  }

  function openList() {
    renderList(state.board && Array.isArray(state.board.notices) ? state.board.notices : []);
    if (typeof els.dialog.showModal === "function") {
      if (!els.dialog.open) els.dialog.showModal();
    } else {
      els.dialog.setAttribute("open", "");
    }
    els.close.focus();
  }

  function closeList() {
    if (typeof els.dialog.close === "function") els.dialog.close();
    else els.dialog.removeAttribute("open");
    if (!els.strip.hidden) els.open.focus();
  }

  // ------------------------------------------------------------------ polling

  function render(board, announce) {
    state.board = board;
    renderWarnings(Array.isArray(board.warnings) ? board.warnings : [], announce);
    renderStrip(Array.isArray(board.notices) ? board.notices : []);
  }

  function clear() {
    state.board = null;
    state.etag = null;
    renderWarnings([], false);
    renderStrip([]);
  }

  function schedule(seconds) {
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, Math.round(seconds * 1000));
  }

  async function poll() {
    if (state.refused) return;
    const generation = state.generation;
    const query = state.code ? `?community=${encodeURIComponent(state.code)}` : "";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    let next = state.pollSeconds;
    try {
      const headers = { Accept: "application/json" };
      if (state.etag) headers["If-None-Match"] = state.etag;
      const response = await fetch(API + query, { headers, cache: "no-store", signal: controller.signal });
      if (generation !== state.generation) return;  // the community changed meanwhile: its own poll runs
      state.failures = 0;
      if (response.status === 304) {
        // unchanged
      } else if (response.ok) {
        const board = await response.json();
        if (generation !== state.generation) return;
        const first = state.board === null;
        state.etag = response.headers.get("ETag");
        const seconds = Number(board.poll_seconds);
        if (Number.isFinite(seconds)) state.pollSeconds = Math.min(Math.max(seconds, POLL_MIN_S), POLL_MAX_S);
        next = state.pollSeconds;
        render(board, !first);
      } else if (response.status === 422) {
        state.refused = true;  // unknown community: chat.js asks the resident, then tells us the new one
        clear();
        return;
      }
    } catch (error) {
      state.failures += 1;  // offline or the server restarting: slow down, keep what is shown
      next = Math.min(state.pollSeconds * 2 ** state.failures, RETRY_MAX_S);
    } finally {
      clearTimeout(timer);
    }
    if (generation === state.generation) schedule(next);
  }

  function setCommunity(code) {
    const wanted = typeof code === "string" && CODE.test(code) ? code : null;
    if (wanted === state.code && !state.refused) return;
    state.code = wanted;
    state.refused = false;
    state.generation += 1;
    clear();
    poll();
  }

  // ------------------------------------------------------------------ wiring

  document.addEventListener("shequ:community", (event) => setCommunity(event.detail && event.detail.code));
  document.addEventListener("shequ:notices-open", openList);
  els.open.addEventListener("click", openList);
  els.close.addEventListener("click", closeList);
  els.dialog.addEventListener("click", (event) => { if (event.target === els.dialog) closeList(); });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !state.refused) poll();  // back on a phone: now, not later
  });

  window.shequBulletins = { openList, poll };  // for the browser tests
  poll();
})();
