/* Progressive help for patient pages. Everything works without it: the server
   evaluates display conditions and validates. With it, conditional questions
   appear and disappear at once, sliders appear for visual analogue scales, and a
   second tap on a send button does nothing.

   The script guesses nothing: each box to re-evaluate carries data-when, its
   conditions from the server, either already decided (true/false) or a typed
   comparison {q, o, v} on a question of this page; each question they test
   carries data-read, how the server reads it. The readings below are those of
   surveys/questionnaires/values.py (parse, typed, compare), written again here;
   tests/test_condition_agreement.py runs both on the same cases in Chromium. */
(function () {
  "use strict";
  var form = document.getElementById("answers");
  if (!form) return;
  var shown = form.querySelector("input[name=shown]");
  var SPACES = "[ \\t\\n\\r\\f\\v\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]";
  var TRIM = new RegExp("^" + SPACES + "+|" + SPACES + "+$", "g"), ALL_SPACES = new RegExp(SPACES, "g");
  var NUMBER = /^([+-]?)([0-9]*)(?:[.,]([0-9]*))?$/, ISO = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
  var DAY_FIRST = /^([0-9]{1,2})[\/.\-]([0-9]{1,2})[\/.\-]([0-9]{4})$/, TIME = /^([0-9]{1,2})[:hH]([0-9]{2})(?::([0-9]{2}))?$/;

  function clean(raw) { return raw.replace(/\u0000/g, "").replace(/\r\n?/g, "\n").replace(TRIM, ""); }
  function number(text, r) {
    var m = NUMBER.exec(text.replace(ALL_SPACES, ""));
    if (!m || !(m[2] || m[3])) return null;
    var whole = m[2] || "0", fraction = m[3] || "";
    if (whole.replace(/^0+/, "").length > 15) return null;
    if (r.i && /[1-9]/.test(fraction)) return null;
    var n = r.i ? parseInt(whole, 10) : parseFloat(whole + "." + (fraction || "0"));
    if (m[1] === "-") n = -n;
    // As values.parse: a decimal whose double reaches 16 digits (999999999999999.99 is 1e15) is refused.
    if (Math.abs(n) >= 1e15) return null;
    if ((r.lo !== undefined && n < r.lo) || (r.hi !== undefined && n > r.hi)) return null;
    return n;
  }
  function date(text) {
    var m = ISO.exec(text), y, mo, d;
    if (m) { y = +m[1]; mo = +m[2]; d = +m[3]; } else {
      m = DAY_FIRST.exec(text);
      if (!m) return null;
      d = +m[1]; mo = +m[2]; y = +m[3];
    }
    var last = [31, (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0 ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    return y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= last[mo - 1] ? [y, mo, d] : null;
  }
  function time(text) {
    var m = TIME.exec(text);
    if (!m || +m[1] > 23 || +m[2] > 59 || +(m[3] || 0) > 59) return null;
    return +m[1] * 3600 + +m[2] * 60 + +(m[3] || 0);
  }
  // The answer of a question box as the server would store and compare it: [] when unanswered or invalid.
  function read(box) {
    var r = JSON.parse(box.getAttribute("data-read")), inputs = box.querySelectorAll("[name]"), codes = [], posted = [];
    for (var i = 0; i < inputs.length; i++) {
      var el = inputs[i], choice = el.type === "radio" || el.type === "checkbox";
      codes.push(el.value);
      if (choice && !el.checked) continue;
      var v = clean(el.value);
      if (v !== "") posted.push(v);
    }
    if (!posted.length) return [];
    if (r.k === "code" || r.k === "bool") {
      for (i = 0; i < posted.length; i++) if (codes.indexOf(posted[i]) < 0) return [];
      return r.k === "bool" ? [posted[0] === "true"] : posted;
    }
    var text = posted[0];
    var value = r.k === "num" ? number(text, r) : r.k === "date" ? date(text) : r.k === "time" ? time(text)
      : (r.n && Array.from(text).length > r.n ? null : text);
    return value === null ? [] : [value];
  }
  function order(k, a, b) {
    if (k === "date") {
      for (var i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
      return a.length === b.length ? 0 : null;
    }
    if (k === "num" || k === "time") return a < b ? -1 : a > b ? 1 : 0;
    return a === b ? 0 : null;
  }
  var WANTED = { "=": [0], "<": [-1], ">": [1], "<=": [-1, 0], ">=": [1, 0] };
  function compare(k, vals, op, v) {
    if (op === "exists") return (vals.length > 0) === (v === null ? true : v);
    if (op === "!=") return v === null || !vals.some(function (a) { return order(k, a, v) === 0; });
    if (v === null || !WANTED[op] || (op !== "=" && k !== "num" && k !== "date" && k !== "time")) return false;
    return vals.some(function (a) { return WANTED[op].indexOf(order(k, a, v)) >= 0; });
  }
  function refresh() {
    var answers = {}, kinds = {}, ids = [], boxes = form.querySelectorAll("[data-link]");
    // Document order: a condition only tests questions before it, decided by then.
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i], link = box.getAttribute("data-link"), rule = box.getAttribute("data-when");
      // A box whose plan is [{b: "server"}] depends on a FHIRPath expression or a calculated value,
      // which only the server evaluates (conditions.SERVER_DECIDED): it stays as the server rendered it,
      // and the server decides again when the page is sent.
      var plan = rule ? JSON.parse(rule) : null;
      if (plan && !(plan.length && plan[0].b === "server")) {
        box.hidden = !plan.every(function (clause) {
          var results = clause.c.map(function (c) {
            if (typeof c === "boolean") return c;
            return compare(kinds[c.q], answers[c.q] || [], c.o, c.v);
          });
          return clause.b === "any" ? results.some(Boolean) : results.every(Boolean);
        });
      }
      if (box.hasAttribute("data-read")) {
        kinds[link] = JSON.parse(box.getAttribute("data-read")).k;
        answers[link] = box.hidden ? [] : read(box);
      }
      if (!box.hidden) ids.push(link);
    }
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
    var buttons = document.querySelectorAll("button");
    // Disable after the browser has read which button was pressed.
    setTimeout(function () { for (var b = 0; b < buttons.length; b++) buttons[b].disabled = true; }, 0);
  });
  var summary = document.getElementById("errors");
  if (summary) summary.focus();
  refresh();
})();
