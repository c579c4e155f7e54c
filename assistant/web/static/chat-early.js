// Loaded without defer from <head>, so it runs before the first paint: a resident who chose large text
// never sees the page jump. A file, not inline script, because the page's CSP allows script from 'self' only.
try {
  if (localStorage.getItem("shequ.largeText") === "1") {
    document.documentElement.classList.add("large-text");
  }
} catch (e) { /* storage blocked: normal text */ }
