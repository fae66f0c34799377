// Times are rendered in UTC by the server; show them in the reader's time zone, UTC on hover.
// <time datetime="ISO" data-local>            -> "2026-12-02 07:13" (local)
// <time datetime="ISO" data-local="relative"> -> "3 h ago" (local absolute time on hover)
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function local(d) {
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function ago(d) {
    var s = Math.round((Date.now() - d.getTime()) / 1000);
    var future = s < 0; s = Math.abs(s);
    var text = s < 60 ? s + " s" : s < 3600 ? Math.round(s / 60) + " min" :
      s < 172800 ? Math.round(s / 3600) + " h" : Math.round(s / 86400) + " days";
    return future ? "in " + text : text + " ago";
  }
  function render(root) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      var utc = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
      if (el.dataset.local === "relative") {
        el.textContent = ago(d);
        el.title = local(d) + " " + zone + " · " + utc;
      } else {
        el.textContent = local(d);
        el.title = utc;
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { render(document); });
  document.addEventListener("htmx:afterSwap", function (e) { render(e.target); });
})();
