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
    });
  });

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
