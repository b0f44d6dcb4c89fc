/* Progressive help for patient pages. Everything works without it: the server
   evaluates display conditions and validates. With it, conditional questions
   appear and disappear at once, sliders appear for visual analogue scales, and a
   second tap on a send button does nothing. */
(function () {
  "use strict";
  var form = document.querySelector("main form[method=post]");
  if (!form) return;
  var shown = form.querySelector("input[name=shown]");
  var saved = {};
  try { saved = JSON.parse((document.getElementById("answers") || {}).textContent || "{}"); } catch (e) {}

  function valuesOf(link) {
    var out = [];
    var inputs = form.querySelectorAll("[name='" + link.replace(/'/g, "\\'") + "']");
    if (!inputs.length) { var v = saved[link]; return v === undefined || v === null ? [] : [].concat(v); }
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i];
      if ((el.type === "radio" || el.type === "checkbox") && !el.checked) continue;
      if (el.value.trim() !== "") out.push(el.value.trim());
    }
    return out;
  }
  function num(x) { var n = parseFloat(String(x).replace(",", ".")); return isNaN(n) ? String(x) : n; }
  function met(c, vals) {
    var expected = c.answerCoding ? c.answerCoding.code : Object.keys(c).filter(function (k) { return k.indexOf("answer") === 0; }).map(function (k) { return c[k]; })[0];
    if (c.operator === "exists") return (vals.length > 0) === !!expected;
    if (!vals.length) return false;
    var same = vals.some(function (v) { return String(v).toLowerCase() === String(expected).toLowerCase() || num(v) === num(expected); });
    if (c.operator === "=") return same;
    if (c.operator === "!=") return !same;
    var a = num(vals[0]), b = num(expected);
    return { "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b }[c.operator] || false;
  }
  function hidden(link) {
    var box = form.querySelector("[data-link='" + link.replace(/'/g, "\\'") + "']");
    return box ? box.hidden : false;
  }
  function refresh() {
    var boxes = form.querySelectorAll("[data-when]");
    for (var i = 0; i < boxes.length; i++) {
      var rule = JSON.parse(boxes[i].getAttribute("data-when"));
      var results = rule.c.map(function (c) { return met(c, hidden(c.question) ? [] : valuesOf(c.question)); });
      boxes[i].hidden = !(rule.b === "any" ? results.some(Boolean) : results.every(Boolean));
    }
    var ids = [], all = form.querySelectorAll("[data-link]");
    for (var j = 0; j < all.length; j++) if (!all[j].hidden) ids.push(all[j].getAttribute("data-link"));
    if (shown) shown.value = ids.join(" ");
  }
  form.addEventListener("input", refresh);
  form.addEventListener("change", refresh);

  var sliders = form.querySelectorAll("input.vas");
  for (var k = 0; k < sliders.length; k++) {
    (function (range) {
      var box = document.getElementById(range.getAttribute("data-for"));
      range.hidden = false;
      // A slider always has a value; only an actual move of it counts as an answer.
      if (box.value !== "") range.value = box.value; else range.value = range.min;
      range.addEventListener("input", function () { box.value = range.value; });
      box.addEventListener("input", function () { if (box.value !== "") range.value = box.value; });
    })(sliders[k]);
  }

  var sent = false;
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }
    sent = true;
    var buttons = form.querySelectorAll("button");
    // Disable after the browser has read which button was pressed.
    setTimeout(function () { for (var b = 0; b < buttons.length; b++) buttons[b].disabled = true; }, 0);
  });
  var summary = document.getElementById("errors");
  if (summary) summary.focus();
  refresh();
})();
