// Export job page: polls the job's JSON status and moves the progress bar; reloads the page when
// the job ends (the server renders the download link or the error). Without JavaScript the page
// refreshes itself (<noscript> meta refresh) and has a reload button.
(function () {
  "use strict";
  var box = document.getElementById("export-progress");
  if (!box || !window.fetch) return;
  var bar = document.getElementById("export-progress-bar");
  var text = document.getElementById("export-progress-text");
  var url = box.getAttribute("data-status-url");

  function show(state) {
    if (state.status !== "pending" && state.status !== "running") {
      window.location.reload();
      return false;
    }
    if (state.percent !== null) {
      bar.value = state.percent;
      bar.textContent = state.percent + " %";
      var detail = state.progress_total ? " (" + state.progress_done + " / " + state.progress_total + ")" : "";
      text.textContent = state.status_label + " — " + state.percent + " %" + detail;
    } else {
      bar.removeAttribute("value");
      text.textContent = state.status_label + "…";
    }
    return true;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) { if (state === null || show(state)) window.setTimeout(poll, 1500); })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 1000);
})();
