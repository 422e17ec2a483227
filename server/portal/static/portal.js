// Floreyn portal: small enhancements; every page works without this file.
// A payment request's page asks the server every second whether it has been paid and
// says so without a reload (the element has aria-live, so a screen reader reads it too).
(function () {
  "use strict";
  var POLL_MS = 1000;          // "done within a second or two"
  var MAX_POLLS = 60 * 60;     // an hour of polling at most, then the Refresh link is there
  var el = document.getElementById("status");
  if (!el || !el.dataset.poll || el.dataset.state !== "open") { return; }
  var polls = 0;
  function poll() {
    polls += 1;
    fetch(el.dataset.poll, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (data && data.status !== el.dataset.state) {
          el.dataset.state = data.status;
          el.textContent = data.text;
          el.className = "status status-" + data.status;
        }
        if ((!data || data.status === "open") && polls < MAX_POLLS) { setTimeout(poll, POLL_MS); }
      })
      .catch(function () { if (polls < MAX_POLLS) { setTimeout(poll, POLL_MS * 3); } });
  }
  setTimeout(poll, POLL_MS);
})();
