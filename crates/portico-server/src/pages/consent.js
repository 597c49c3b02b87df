// Portico consent page, progressive enhancement only: when a scope box is ticked or unticked, ask the
// server for the same page with action=preview and swap in its counts. Without this script the
// "Update preview" button does the same with a full page load; nothing else depends on it.
(function () {
  "use strict";
  var form = document.querySelector("form.consent-form");
  var counts = document.getElementById("preview-counts");
  if (!form || !counts || !window.fetch || !window.DOMParser || !window.URLSearchParams) return;
  var latest = 0;
  form.addEventListener("change", function (event) {
    if (!event.target.matches('input[name="scope"]')) return;
    var mine = ++latest;
    var body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    counts.setAttribute("aria-busy", "true");
    fetch(form.action, { method: "POST", body: body, credentials: "same-origin", redirect: "error" })
      .then(function (response) {
        if (!response.ok) throw new Error("preview failed");
        return response.text();
      })
      .then(function (html) {
        // An answer to an older change must not overwrite a newer one.
        if (mine !== latest) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("preview-counts");
        if (fresh) counts.innerHTML = fresh.innerHTML;
      })
      .catch(function () {
        // Leave the old counts; the Update preview button still works.
      })
      .finally(function () {
        if (mine === latest) counts.removeAttribute("aria-busy");
      });
  });
})();
