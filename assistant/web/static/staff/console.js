// Staff console: progressive enhancement only; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Take the editor straight to the first field that needs fixing.
  var invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) {
    invalid.focus();
    invalid.scrollIntoView({ block: "center" });
  }
  // Prevent double submission of slow actions (publishing rebuilds the search index).
  document.querySelectorAll("form[method='post']").forEach(function (form) {
    form.addEventListener("submit", function () {
      window.setTimeout(function () {
        form.querySelectorAll("button[type='submit']").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
});
