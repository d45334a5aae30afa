/* jixiao portal: small progressive enhancements; every page works without them. */
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // A filter box inside long facets: hides values that do not contain the typed text.
  document.querySelectorAll("input.facet-find").forEach(function (input) {
    var list = document.getElementById(input.dataset.target);
    if (!list) return;
    input.hidden = false;
    input.addEventListener("input", function () {
      var needle = input.value.trim().toLowerCase();
      list.querySelectorAll("li.fv").forEach(function (item) {
        var text = (item.dataset.label || "").toLowerCase();
        var childMatch = Array.prototype.some.call(
          item.querySelectorAll("li.fv"),
          function (child) { return (child.dataset.label || "").toLowerCase().indexOf(needle) >= 0; }
        );
        var match = !needle || text.indexOf(needle) >= 0 || childMatch;
        item.hidden = !match;
        if (needle && childMatch) {
          var details = item.querySelector("details");
          if (details) details.open = true;
        }
      });
    });
  });

  // The mode switch applies at once (the 检索 button does the same without script).
  document.querySelectorAll("form.search fieldset.modes input[type=radio]").forEach(function (radio) {
    radio.addEventListener("change", function () {
      radio.form.requestSubmit ? radio.form.requestSubmit() : radio.form.submit();
    });
  });
});
