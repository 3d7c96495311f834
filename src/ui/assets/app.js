// kith ui: the little the pages need beyond HTML. Every page works without
// it; with it, search answers as you type, "/" jumps to search, and open
// pages follow changes made anywhere (the CLI, a phone, a teammate).
"use strict";

(function () {
  // "/" focuses the search box, unless the user is already typing.
  document.addEventListener("keydown", function (e) {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("people-q") || document.getElementById("q");
    if (box) {
      e.preventDefault();
      box.focus();
      box.select();
    }
  });

  // Search as you type: the results part of /people, fetched for the
  // query so far; the newest answer wins.
  var seq = 0;
  function search(input) {
    var target = document.querySelector(input.getAttribute("data-search-target"));
    if (!target) return;
    var form = document.querySelector("form.filters");
    var params = new URLSearchParams(form ? new FormData(form) : undefined);
    params.set("q", input.value);
    params.delete("after");
    var mine = ++seq;
    var url = "/people?" + params.toString();
    fetch(url + "&partial=true", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (mine !== seq) return;
        target.innerHTML = html;
        history.replaceState(null, "", url);
        document.body.setAttribute("data-searched", input.value);
      })
      .catch(function () {});
  }
  var timer = null;
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t || !t.hasAttribute || !t.hasAttribute("data-search-target")) return;
    var other = t.id === "q" ? document.getElementById("people-q") : document.getElementById("q");
    if (other) other.value = t.value;
    clearTimeout(timer);
    timer = setTimeout(function () { search(t); }, 60);
  });

  // Live: when the ledger changes, fetch this page again and swap in the
  // parts marked data-live. A part holding the focus waits until it is
  // left, so nobody's typing is thrown away.
  var pending = false;
  function refresh() {
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        var deferred = false;
        document.querySelectorAll("[data-live][id]").forEach(function (part) {
          var next = fresh.getElementById(part.id);
          if (!next) return;
          if (part.contains(document.activeElement) && document.activeElement !== document.body) {
            deferred = true;
            return;
          }
          if (part.innerHTML !== next.innerHTML) part.innerHTML = next.innerHTML;
        });
        pending = deferred;
        var status = document.getElementById("live-status");
        if (status) status.textContent = "Updated";
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () {});
  }
  document.addEventListener("focusout", function () {
    if (pending) setTimeout(refresh, 0);
  });
  if (window.EventSource && document.querySelector("[data-live]")) {
    var events = new EventSource("/events");
    events.addEventListener("change", refresh);
  }
})();
