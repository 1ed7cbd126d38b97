// Versioner's dashboard: a little progressive enhancement, no dependencies.
// Regions marked `data-live` refresh themselves from their URL every `data-every` ms.
(function () {
  "use strict";
  function refresh(region) {
    var url = region.getAttribute("data-live");
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected || !response.ok) { return null; }
        return response.text();
      })
      .then(function (html) { if (html !== null) { region.innerHTML = html; } })
      .catch(function () { /* offline for a moment: the next tick tries again */ });
  }
  function start() {
    var regions = document.querySelectorAll("[data-live]");
    Array.prototype.forEach.call(regions, function (region) {
      var every = parseInt(region.getAttribute("data-every") || "3000", 10);
      setInterval(function () { if (!document.hidden) { refresh(region); } }, every);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else { start(); }
})();
