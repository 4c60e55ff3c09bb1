/* tfpretrain fairness report: inlined into the HTML by tfpretrain/reporting/report/page.py.
 *
 * Re-renders every metric chart (SVG) and table from the embedded JSON (#report-data) at the selected decision
 * threshold. Mirrors report.py's server-side renderer (same geometry, same number formatting), which draws the
 * default threshold for readers without JavaScript. Data text only ever reaches the page through textContent /
 * setAttribute, never innerHTML. Honours "#threshold=0.75" / "?threshold=0.75" on load and keeps the fragment in
 * step with the selector. Sets <body data-rendered="1" data-threshold="..."> when done (tests read it).
 */
(function () {
  "use strict";
  var body = document.body;
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var G = data.geometry;
  var C = data.colors;
  var SVG_NS = document.querySelector("svg").namespaceURI; // the legend's inline SVG: no namespace URL literal here
  var metricsByName = {};
  data.metrics.forEach(function (m) { metricsByName[m.name] = m; });
  var sliceInfo = {};
  data.slices.forEach(function (s) { sliceInfo[s.name] = s; });
  var index = {};
  data.rows.forEach(function (row, i) {
    index[row.slice + "\u0000" + row.metric + "\u0000" + data.derived[i].t] = i;
  });
  var sortState = {};
  var current = data.default_threshold;

  // ----------------------------------------------------------------------------------------------- formatting
  function fixed(value, digits) {
    var text = value.toFixed(digits);
    if (/^-[0.]*$/.test(text)) text = text.slice(1);
    return text;
  }
  function groupThousands(text) {
    var sign = text.charAt(0) === "-" ? "-" : "";
    var digits = text.replace(/^-/, "");
    return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }
  function isCount(metric) { return !!(metricsByName[metric] && metricsByName[metric].count); }
  function formatValue(value, metric, digits) {
    if (value === null || value === undefined) return "n/a";
    if (isCount(metric)) return groupThousands(fixed(value, 0));
    return fixed(value, digits);
  }
  function formatGap(gap, metric) {
    if (gap === null || gap === undefined) return "n/a";
    var text = formatValue(Math.abs(gap), metric, 4);
    if (!text.replace(/[0.,]/g, "")) return text;
    return (gap > 0 ? "+" : "-") + text;
  }
  function chartTitle(metric, t) {
    var label = metricsByName[metric].label;
    return t < 0 ? label : label + " at threshold " + data.thresholds[t].label;
  }
  function nText(n) { return n === null || n === undefined ? "unknown" : groupThousands(String(n)); }
  function barText(bar, metric) {
    var parts = [bar.slice + ": " + formatValue(bar.value, metric, 4)];
    if (bar.ci_low !== null && bar.ci_low !== undefined && bar.ci_high !== null && bar.ci_high !== undefined) {
      parts.push("(" + data.ci_level + " CI " + formatValue(bar.ci_low, metric, 4) + " to " +
                 formatValue(bar.ci_high, metric, 4) + ")");
    }
    parts.push("n=" + nText(bar.n));
    if (bar.flag !== "overall" && bar.gap !== null && bar.gap !== undefined && !isCount(metric)) {
      parts.push("gap to overall " + formatGap(bar.gap, metric));
    }
    if (bar.flag === "fail") {
      parts.push("EXCEEDS THE GATE LIMIT" + (bar.limit !== null && bar.limit !== undefined ? " of " + fixed(bar.limit, 4) : ""));
    } else if (bar.flag === "small") {
      parts.push("SMALL SLICE: estimate unreliable");
    }
    return parts.join(" ");
  }
  function statusText(flag, limit) {
    if (flag === "overall") return "reference";
    if (flag === "fail") return "exceeds gate limit" + (limit === null || limit === undefined ? "" : " (" + fixed(limit, 4) + ")");
    if (flag === "small") return "small slice (n < " + data.min_slice_size + ")";
    if (flag === "undefined") return "undefined";
    return "";
  }

  // ------------------------------------------------------------------------------------------------ the model
  function niceStep(span) {
    var raw = span / 5.0;
    var exp = 0;
    var power = 1.0;
    while (power * 10 <= raw) { exp += 1; power = Math.pow(10, exp); }
    while (power > raw) { exp -= 1; power = exp >= 0 ? Math.pow(10, exp) : 1.0 / Math.pow(10, -exp); }
    var fraction = raw / power;
    var nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10;
    return nice * power;
  }
  function axis(values) {
    var lo = 0.0, hi = 0.0;
    values.forEach(function (v) {
      if (v === null || v === undefined) return;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    });
    if (hi - lo <= 0) hi = lo + 1.0;
    var step = niceStep(hi - lo);
    var loI = Math.floor(lo / step + 1e-9);
    var hiI = Math.ceil(hi / step - 1e-9);
    return [loI * step, hiI * step, step];
  }
  function stepDigits(step) {
    var digits = 0;
    while (digits < 12 && Math.abs(step * Math.pow(10, digits) - Math.round(step * Math.pow(10, digits))) > 1e-6) digits += 1;
    return digits;
  }
  function lookup(sliceName, metric, t) {
    var i = index[sliceName + "\u0000" + metric + "\u0000" + t];
    return i === undefined ? null : i;
  }
  function chartModel(metric, t) {
    var bars = [];
    data.slices.forEach(function (s) {
      var i = lookup(s.name, metric, t);
      if (i === null) return;
      var row = data.rows[i], d = data.derived[i];
      bars.push({ slice: s.name, value: row.value, ci_low: nz(row.ci_low), ci_high: nz(row.ci_high), n: d.n,
                  gap: d.gap, flag: d.flag, limit: d.limit });
    });
    var oi = lookup(data.overall_label, metric, t);
    var overall = oi === null ? null : data.rows[oi].value;
    var values = [overall];
    bars.forEach(function (b) { values.push(b.value, b.ci_low, b.ci_high); });
    var ax = axis(values);
    return { metric: metric, t: t, bars: bars, overall: overall, lo: ax[0], hi: ax[1], step: ax[2],
             limit: metricsByName[metric].limit };
  }
  function nz(v) { return v === undefined ? null : v; }

  // ---------------------------------------------------------------------------------------------------- SVG
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function c(x) { return fixed(x, 2); }
  function len(s) { return Array.from(s).length; }

  function renderChart(model, uid) {
    var metric = model.metric, bars = model.bars;
    var longest = 1;
    bars.forEach(function (b) {
      sliceInfo[b.slice].lines.forEach(function (l) { longest = Math.max(longest, len(l)); });
      if (b.n !== null && b.n !== undefined) longest = Math.max(longest, len("\u26a0 n=" + groupThousands(String(b.n))));
    });
    var slot = Math.min(G.slot_max, Math.max(G.slot_min, Math.round(longest * G.char_w + 14)));
    var nLines = 1;
    bars.forEach(function (b) { nLines = Math.max(nLines, sliceInfo[b.slice].lines.length); });
    var plotW = Math.max(bars.length, 1) * slot;
    var width = G.left + plotW + G.right;
    var labelTop = G.top + G.plot_h + 8;
    var height = labelTop + (nLines + 1) * G.line_h + 10;
    var lo = model.lo, hi = model.hi, step = model.step;
    function y(v) { return G.top + G.plot_h * (hi - v) / (hi - lo); }
    var title = chartTitle(metric, model.t);
    var root = svg("svg", {
      "class": "chart", width: width, height: height, viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-labelledby": uid + "-title " + uid + "-desc", "data-metric": metric,
      "data-threshold": model.t < 0 ? "" : data.thresholds[model.t].label
    });
    root.appendChild(svg("title", { id: uid + "-title" }, title));
    var desc = "Bar chart of " + title.toLowerCase() + " by slice";
    if (model.overall !== null) desc += "; overall " + formatValue(model.overall, metric, 4);
    desc += ". " + bars.slice(0, 60).map(function (b) { return barText(b, metric); }).join("; ");
    root.appendChild(svg("desc", { id: uid + "-desc" }, desc));
    var defs = svg("defs");
    var pattern = svg("pattern", { id: uid + "-hatch", patternUnits: "userSpaceOnUse", width: 6, height: 6,
                                   patternTransform: "rotate(45)" });
    pattern.appendChild(svg("rect", { width: 6, height: 6, fill: "#ffffff" }));
    pattern.appendChild(svg("rect", { width: 3, height: 6, fill: C.small }));
    defs.appendChild(pattern);
    root.appendChild(defs);
    root.appendChild(svg("text", { "class": "chart-title", x: G.left, y: 18 }, title));

    var count = isCount(metric);
    var digits = count ? 0 : stepDigits(step);
    var axisG = svg("g", { "class": "axis" });
    for (var i = Math.round(lo / step); i <= Math.round(hi / step); i++) {
      var v = i * step, yy = y(v);
      axisG.appendChild(svg("line", { x1: G.left, y1: c(yy), x2: G.left + plotW, y2: c(yy),
                                      stroke: i ? C.grid : C.ink, "stroke-width": 1 }));
      axisG.appendChild(svg("text", { x: G.left - 6, y: c(yy + 4), "text-anchor": "end" },
                            count ? groupThousands(fixed(v, 0)) : fixed(v, digits)));
    }
    axisG.appendChild(svg("line", { x1: G.left, y1: G.top, x2: G.left, y2: G.top + G.plot_h, stroke: C.ink,
                                    "stroke-width": 1 }));
    root.appendChild(axisG);

    var base = y(Math.min(Math.max(0.0, lo), hi));
    bars.forEach(function (bar, k) {
      var cx = G.left + (k + 0.5) * slot;
      var bw = slot * G.bar_frac;
      var flag = bar.flag || "slice";
      var g = svg("g", { "class": "bar-group flag-" + flag, "data-slice": bar.slice });
      g.appendChild(svg("title", {}, barText(bar, metric)));
      var topY = base;
      if (bar.value !== null && bar.value !== undefined) {
        var vy = y(bar.value);
        topY = Math.min(vy, base);
        var fill = C.slice, stroke = "none", sw = 0;
        if (flag === "small") { fill = "url(#" + uid + "-hatch)"; stroke = C.small; sw = 1.5; }
        else if (flag === "fail") { fill = C.fail; stroke = C.ink; sw = 2; }
        else if (flag === "overall") { fill = C.overall; }
        g.appendChild(svg("rect", { "class": "bar", x: c(cx - bw / 2), y: c(topY), width: c(bw),
                                    height: c(Math.abs(vy - base)), fill: fill, stroke: stroke, "stroke-width": sw,
                                    "data-value": String(bar.value) }));
        if (bar.ci_low !== null && bar.ci_high !== null) {
          var y1 = y(bar.ci_high), y2 = y(bar.ci_low);
          topY = Math.min(topY, y1);
          var ci = svg("g", { "class": "ci", stroke: C.ink, "stroke-width": 1.5 });
          ci.appendChild(svg("line", { x1: c(cx), y1: c(y1), x2: c(cx), y2: c(y2) }));
          ci.appendChild(svg("line", { x1: c(cx - 5), y1: c(y1), x2: c(cx + 5), y2: c(y1) }));
          ci.appendChild(svg("line", { x1: c(cx - 5), y1: c(y2), x2: c(cx + 5), y2: c(y2) }));
          g.appendChild(ci);
        }
      }
      g.appendChild(svg("text", { "class": flag === "fail" ? "bar-value fail-value" : "bar-value", x: c(cx),
                                  y: c(topY - 5), "text-anchor": "middle" }, formatValue(bar.value, metric, 3)));
      sliceInfo[bar.slice].lines.forEach(function (line, j) {
        g.appendChild(svg("text", { "class": "slice-label", x: c(cx), y: c(labelTop + (j + 1) * G.line_h - 2),
                                    "text-anchor": "middle" }, line));
      });
      var n = bar.n === null || bar.n === undefined ? "n=?" : "n=" + groupThousands(String(bar.n));
      if (flag === "small") n = "\u26a0 " + n;
      g.appendChild(svg("text", { "class": flag === "small" ? "n-label warn" : "n-label", x: c(cx),
                                  y: c(labelTop + (nLines + 1) * G.line_h - 2), "text-anchor": "middle" }, n));
      root.appendChild(g);
    });
    if (model.overall !== null) {
      var oy = y(model.overall), x2 = G.left + plotW + 4;
      var og = svg("g", { "class": "overall-line" });
      og.appendChild(svg("line", { x1: G.left, y1: c(oy), x2: x2, y2: c(oy), stroke: C.ink, "stroke-width": 1.5,
                                   "stroke-dasharray": "6 4" }));
      og.appendChild(svg("text", { x: x2 + 4, y: c(oy + 4) }, "overall " + formatValue(model.overall, metric, 3)));
      root.appendChild(og);
    }
    if (!bars.length) {
      root.appendChild(svg("text", { x: G.left + 8, y: G.top + G.plot_h / 2 }, "no values for this metric"));
    }
    return root;
  }

  // -------------------------------------------------------------------------------------------------- tables
  function h(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  var HEAD = [["Slice", "text"], ["n", "num"], ["Value", "num"], [data.ci_level + " CI", "num"],
              ["Gap to overall", "num"], ["Status", "text"]];

  function renderTable(model, uid) {
    var metric = model.metric;
    var table = h("table", { "class": "metric-table", id: uid + "-table" });
    table.appendChild(h("caption", {}, chartTitle(metric, model.t) + " per slice"));
    var thead = h("thead"), tr = h("tr");
    HEAD.forEach(function (col) {
      var th = h("th", { scope: "col", "data-kind": col[1], "aria-sort": "none" });
      var button = h("button", { type: "button" }, col[0]);
      button.appendChild(h("span", { "class": "sort-mark", "aria-hidden": "true" }));
      th.appendChild(button);
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = h("tbody");
    model.bars.forEach(function (bar) {
      var flag = bar.flag;
      var ci = bar.ci_low === null || bar.ci_high === null ? "" :
        "[" + formatValue(bar.ci_low, metric, 4) + ", " + formatValue(bar.ci_high, metric, 4) + "]";
      var status = statusText(flag, bar.limit);
      var noGap = flag === "overall" || isCount(metric);
      var cells = [
        [bar.slice, bar.slice],
        [bar.n === null || bar.n === undefined ? "" : groupThousands(String(bar.n)), bar.n],
        [formatValue(bar.value, metric, 4), bar.value],
        [ci, bar.ci_low],
        [noGap ? "" : formatGap(bar.gap, metric), noGap ? null : bar.gap],
        [status, status]
      ];
      var row = h("tr", { "class": "flag-" + (flag || "slice") });
      cells.forEach(function (cell, k) {
        var td = h(k === 0 ? "th" : "td", k === 0 ? { scope: "row" } : {}, cell[0]);
        if (cell[1] !== null && cell[1] !== undefined) td.setAttribute("data-sort", String(cell[1]));
        row.appendChild(td);
      });
      tbody.appendChild(row);
    });
    table.appendChild(tbody);
    return table;
  }

  function sortTable(table, col, dir) {
    var ths = table.tHead.rows[0].cells;
    for (var k = 0; k < ths.length; k++) ths[k].setAttribute("aria-sort", k === col ? dir : "none");
    var kind = ths[col].getAttribute("data-kind");
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    var pinned = rows.filter(function (r) { return r.className === "flag-overall"; });
    var rest = rows.filter(function (r) { return r.className !== "flag-overall"; });
    var sign = dir === "descending" ? -1 : 1;
    function key(r) {
      var raw = r.cells[col].getAttribute("data-sort");
      if (raw === null || raw === "") return null;
      return kind === "num" ? parseFloat(raw) : raw.toLowerCase();
    }
    rest.sort(function (a, b) {
      var ka = key(a), kb = key(b);
      if (ka === kb) return 0;
      if (ka === null) return 1; // missing values last, whatever the direction
      if (kb === null) return -1;
      return (ka < kb ? -1 : 1) * sign;
    });
    pinned.concat(rest).forEach(function (r) { tbody.appendChild(r); });
  }

  function wireTable(table, uid) {
    var ths = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(ths, function (th, col) {
      th.querySelector("button").addEventListener("click", function () {
        var state = sortState[uid];
        var dir = state && state.col === col && state.dir === "ascending" ? "descending" : "ascending";
        sortState[uid] = { col: col, dir: dir };
        sortTable(table, col, dir);
      });
    });
    var state = sortState[uid];
    if (state) sortTable(table, state.col, state.dir);
  }

  // ------------------------------------------------------------------------------------------------- render
  function render(t) {
    current = t;
    var sections = document.querySelectorAll("section.metric");
    Array.prototype.forEach.call(sections, function (section) {
      var metric = section.getAttribute("data-metric");
      var uid = section.getAttribute("data-uid");
      var m = metricsByName[metric];
      var tt = m.thresholded ? t : -1;
      var model = chartModel(metric, tt);
      var chartBox = section.querySelector("[data-role=chart]");
      chartBox.replaceChildren(renderChart(model, uid));
      var tableBox = section.querySelector("[data-role=table]");
      var table = renderTable(model, uid);
      tableBox.replaceChildren(table);
      wireTable(table, uid);
      var badge = section.querySelector("[data-role=threshold-badge]");
      if (badge && tt >= 0) badge.textContent = "threshold " + data.thresholds[tt].label;
      var summary = section.querySelector("details.table-box > summary");
      if (summary) summary.textContent = "Table: " + chartTitle(metric, tt) + " per slice";
    });
    var select = document.getElementById("threshold-select");
    if (select && t !== null && t >= 0) select.value = String(t);
    body.setAttribute("data-threshold", t === null || t < 0 ? "" : data.thresholds[t].label);
    body.setAttribute("data-rendered", "1");
  }

  function requested() {
    var match = /(?:^|[#?&])threshold=([^&#]*)/.exec(location.hash) || /(?:^|[?&])threshold=([^&#]*)/.exec(location.search);
    if (!match) return null;
    var value = parseFloat(decodeURIComponent(match[1]));
    for (var k = 0; k < data.thresholds.length; k++) {
      if (Math.abs(data.thresholds[k].value - value) <= 1e-6) return k;
    }
    setStatus("Threshold " + match[1] + " is not in this report; showing " +
              (data.default_threshold === null ? "threshold-free metrics" : data.thresholds[data.default_threshold].label) + ".");
    return data.default_threshold;
  }
  function setStatus(text) {
    var status = document.getElementById("threshold-status");
    if (status) status.textContent = text;
  }
  function remember(t) {
    var hash = "#threshold=" + data.thresholds[t].label;
    if (location.hash === hash) return;
    try {
      history.replaceState(null, "", hash);
    } catch (e) {
      location.replace(hash); // file:// documents may refuse replaceState
    }
  }

  try {
    var select = document.getElementById("threshold-select");
    if (select) {
      select.addEventListener("change", function () {
        var t = parseInt(select.value, 10);
        setStatus("");
        render(t);
        remember(t);
      });
    }
    window.addEventListener("hashchange", function () {
      var t = requested();
      if (t !== null && t !== current) render(t);
    });
    var first = requested();
    render(first === null ? data.default_threshold : first);
  } catch (err) {
    body.setAttribute("data-rendered", "error");
    throw err;
  }
})();
