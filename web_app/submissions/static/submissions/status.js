// While a submission is pending, ask its status endpoint every second and update the page in place.
(function () {
  "use strict";
  var POLL_MILLISECONDS = 1000;
  // Stop asking after an hour; a reload starts again.
  var MAX_POLLS = 3600;

  function show(id, text) {
    var element = document.getElementById(id);
    element.textContent = text;
    return element;
  }

  function render(status) {
    var badge = show("status", status.status_display);
    badge.className = "status status-" + status.status;
    var message = document.getElementById("status-message");
    if (status.status === "pending") {
      show("waited", status.waited);
      return false;
    }
    // A result came, so a worker answered: the no-worker banner is no longer true.
    var banner = document.getElementById("no-worker-banner");
    if (banner) banner.remove();
    document.getElementById("took-row").hidden = false;
    show("took", status.took);
    if (status.status === "done") {
      show("result", status.result);
      document.getElementById("result-row").hidden = false;
      message.textContent = "Written to the results file.";
    } else {
      show("error", status.error);
      document.getElementById("error-row").hidden = false;
      message.textContent = "The task failed; nothing was written to the results file.";
    }
    return true;
  }

  function start() {
    var article = document.getElementById("submission");
    var url = article.getAttribute("data-status-url");
    var polls = 0;

    function poll() {
      polls += 1;
      fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("status " + response.status);
          return response.json();
        })
        .then(function (status) {
          if (!render(status) && polls < MAX_POLLS) setTimeout(poll, POLL_MILLISECONDS);
        })
        .catch(function () {
          // The server may be restarting: keep asking, within the same bound.
          if (polls < MAX_POLLS) setTimeout(poll, POLL_MILLISECONDS);
        });
    }

    setTimeout(poll, POLL_MILLISECONDS);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
