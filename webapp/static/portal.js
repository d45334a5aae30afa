/* jixiao portal: small progressive enhancements; every page works without them. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // A filter box inside long facets: hides values that do not contain the typed text,
  // keeping the parents of a match and everything under a matching place.
  document.querySelectorAll("input.facet-find").forEach(function (input) {
    var list = document.getElementById(input.dataset.target);
    if (!list) return;
    input.hidden = false;
    var contains = function (item, needle) {
      return (item.dataset.label || "").toLowerCase().indexOf(needle) >= 0;
    };
    var status = document.getElementById(input.getAttribute("aria-describedby"));
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      list.querySelectorAll("li.fv").forEach(function (item) {
        var childMatch = Array.prototype.some.call(
          item.querySelectorAll("li.fv"),
          function (child) { return contains(child, needle); }
        );
        var underMatch = false;
        for (var up = item.parentElement.closest("li.fv"); up; up = up.parentElement.closest("li.fv")) {
          if (contains(up, needle)) { underMatch = true; break; }
        }
        item.hidden = !(!needle || contains(item, needle) || childMatch || underMatch);
        if (needle && childMatch) {
          var details = item.querySelector("details");
          if (details) details.open = true;
        }
      });
      if (status) {
        var shown = Array.prototype.filter.call(
          list.querySelectorAll("li.fv"), function (item) { return !item.closest("[hidden]"); }
        ).length;
        status.textContent = !needle ? "" : shown ? "显示 " + shown + " 项" : "无匹配";
      }
    });
  });

  // A filter chosen or removed from the keyboard reloads the page; focus then returns to
  // that filter group instead of the top, without scrolling (mouse clicks are left alone).
  var KEY = "jixiao-focus";
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.fl, a.chip");
    if (!link || event.detail !== 0) return;  // detail 0: activated by Enter, not a pointer
    var facet = link.closest("[data-facet]");
    try {
      sessionStorage.setItem(KEY, JSON.stringify({
        field: link.dataset.field || "", value: link.dataset.value || "",
        facet: facet ? facet.dataset.facet : "", chip: link.classList.contains("chip")
      }));
    } catch (e) { /* storage off: focus starts at the top, as without script */ }
  });
  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(KEY) || "null"); sessionStorage.removeItem(KEY); } catch (e) {}
  if (saved) {
    // a removed chip: the chips left (or the clear link); a facet value: itself, now
    // chosen or not, else the first value of its group
    var target = saved.chip ? document.querySelector("a.chip, a.chip-clear") : null;
    document.querySelectorAll("a.fl").forEach(function (a) {
      if (!target && a.dataset.field === saved.field && a.dataset.value === saved.value) target = a;
    });
    document.querySelectorAll("[data-facet] a.fl").forEach(function (a) {
      if (!target && a.closest("[data-facet]").dataset.facet === saved.facet) target = a;
    });
    if (target) target.focus({ preventScroll: true });
  }

  // The mode switch applies at once when clicked (the 检索 button does the same without
  // script). Arrow keys only move the choice, so a keyboard user can pass the options
  // and apply one with Enter.
  document.querySelectorAll("form.search fieldset.modes").forEach(function (modes) {
    var byKeyboard = false;
    modes.addEventListener("keydown", function () { byKeyboard = true; });
    modes.addEventListener("pointerdown", function () { byKeyboard = false; });
    modes.addEventListener("change", function (event) {
      if (byKeyboard) return;
      var form = event.target.form;
      form.requestSubmit ? form.requestSubmit() : form.submit();
    });
  });
});

// A page shown again from the back/forward cache keeps its controls as they were left (a
// mode clicked just before leaving): put them back to what the page's URL says.
window.addEventListener("pageshow", function (event) {
  if (!event.persisted) return;
  document.querySelectorAll("form.search").forEach(function (form) { form.reset(); });
  document.querySelectorAll("input.facet-find").forEach(function (input) {
    if (input.value) { input.value = ""; input.dispatchEvent(new Event("input")); }
  });
});
