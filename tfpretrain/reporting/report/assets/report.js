/* tfpretrain fairness report: inlined by tfpretrain/reporting/report/page.py. Every chart and table is already in
 * the page, one per threshold; this script only shows the selected threshold's (the `hidden` attribute of every
 * element with data-at-threshold), keeps "#threshold=0.75" in the URL in step with the selector, and sorts a
 * metric table when a column header is clicked (the overall row stays first; missing values sort last).
 */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var labels = data.thresholds.map(function (t) { return t.label; });
  var select = document.getElementById("threshold-select");
  var status = document.getElementById("threshold-status");

  function show(k) {
    var label = labels[k];
    document.querySelectorAll("[data-at-threshold]").forEach(function (el) {
      el.hidden = el.getAttribute("data-at-threshold") !== label;
    });
    if (select) select.value = String(k);
    document.body.setAttribute("data-threshold", label);
  }

  function requested() {
    var match = /(?:^|[#?&])threshold=([^&#]*)/.exec(location.hash) ||
                /(?:^|[?&])threshold=([^&#]*)/.exec(location.search);
    if (!match) return null;
    var value = parseFloat(decodeURIComponent(match[1]));
    for (var k = 0; k < data.thresholds.length; k++) {
      if (Math.abs(data.thresholds[k].value - value) <= 1e-6) return k;
    }
    if (status) {
      status.textContent = "Threshold " + decodeURIComponent(match[1]) + " is not in this report; showing " +
        (data.default_threshold === null ? "threshold-free metrics" : labels[data.default_threshold]) + ".";
    }
    return data.default_threshold;
  }

  function remember(k) {
    var hash = "#threshold=" + labels[k];
    if (location.hash === hash) return;
    try {
      history.replaceState(null, "", hash);
    } catch (e) {
      location.replace(hash); // file:// documents may refuse replaceState
    }
  }

  function sortTable(table, col, dir) {
    var ths = table.tHead.rows[0].cells;
    for (var k = 0; k < ths.length; k++) ths[k].setAttribute("aria-sort", k === col ? dir : "none");
    var numeric = ths[col].getAttribute("data-kind") === "num";
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var pinned = rows.filter(function (r) { return r.className === "flag-overall"; });
    var rest = rows.filter(function (r) { return r.className !== "flag-overall"; });
    var sign = dir === "descending" ? -1 : 1;
    function key(r) {
      var raw = r.cells[col].getAttribute("data-sort");
      if (raw === null || raw === "") return null;
      return numeric ? parseFloat(raw) : raw.toLowerCase();
    }
    rest.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      if (ka === kb) return 0;
      if (ka === null) return 1;
      if (kb === null) return -1;
      return (ka < kb ? -1 : 1) * sign;
    });
    pinned.concat(rest).forEach(function (r) { tbody.appendChild(r); });
  }

  document.querySelectorAll("section.metric table.metric-table").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.querySelector("button").addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
        sortTable(table, col, dir);
      });
    });
  });
  if (select) {
    select.addEventListener("change", function () {
      var k = parseInt(select.value, 10);
      if (status) status.textContent = "";
      show(k);
      remember(k);
    });
  }
  window.addEventListener("hashchange", function () {
    var k = requested();
    if (k !== null) show(k);
  });
  var first = requested();
  if (first !== null) show(first);
})();
