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
  // query so far. One request at a time: while one is out, the newest
  // query waits, and is sent when the answer comes, so a fast typist
  // costs one request per answer, not one per key.
  var busy = false;
  var waiting = null;
  function search(input) {
    var target = document.querySelector(input.getAttribute("data-search-target"));
    if (!target) return;
    if (busy) { waiting = input; return; }
    busy = true;
    var form = document.querySelector("form.filters");
    var params = new URLSearchParams(form ? new FormData(form) : undefined);
    params.set("q", input.value);
    params.delete("after");
    var url = "/people?" + params.toString();
    var asked = input.value;
    fetch(url + "&partial=true", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        if (input.value === asked) {
          target.innerHTML = html;
          history.replaceState(null, "", url);
          document.body.setAttribute("data-searched", asked);
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        var next = waiting;
        waiting = null;
        if (next && next.value !== asked) search(next);
        else if (input.value !== asked) search(input);
      });
  }
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t || !t.hasAttribute || !t.hasAttribute("data-search-target")) return;
    var other = t.id === "q" ? document.getElementById("people-q") : document.getElementById("q");
    if (other) other.value = t.value;
    search(t);
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
  // One stream per page, closed when the page is left: a page kept in the
  // back/forward cache would otherwise hold its connection, and browsers
  // allow only six to one server, so the seventh page would hang.
  var events = null;
  function listen() {
    if (events || !window.EventSource || !document.querySelector("[data-live]")) return;
    events = new EventSource("/events");
    events.addEventListener("change", refresh);
  }
  window.addEventListener("pagehide", function () {
    if (events) { events.close(); events = null; }
  });
  window.addEventListener("pageshow", function (e) {
    listen();
    // Back from the cache: whatever changed meanwhile was not heard.
    if (e.persisted) refresh();
  });
  listen();
})();
