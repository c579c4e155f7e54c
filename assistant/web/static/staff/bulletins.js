// 灾害预警 form: 「全选」 ticks every community box (progressive enhancement: the server treats all=1 as every
// community anyway, so the form works without this file).
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var all = document.querySelector("[data-select-all]");
  if (!all) { return; }
  var boxes = document.querySelectorAll("#warning-communities input[name='communities']");
  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
  });
  boxes.forEach(function (b) {
    b.addEventListener("change", function () {
      if (!b.checked) { all.checked = false; }
    });
  });
});
