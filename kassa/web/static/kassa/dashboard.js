/* The console dashboard's charts: drawn from the JSON the page carries (#dashboard-data), again after an
   htmx swap of the filtered figures. Amounts arrive as exact decimal text; they are parsed only to draw. */
(function () {
  "use strict";
  var charts = [];
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var lang = document.documentElement.lang || "en";

  function formatter(unit) {
    if (unit === "%") {
      return function (v) { return new Intl.NumberFormat(lang, { maximumFractionDigits: 2 }).format(v) + " %"; };
    }
    if (unit) {
      var money;
      try {
        money = new Intl.NumberFormat(lang, { style: "currency", currency: unit });
      } catch (e) {
        money = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
      }
      return function (v) { return money.format(v); };
    }
    var count = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
    return function (v) { return count.format(v); };
  }

  function number(text) {
    return text === null || text === undefined ? null : Number(text);
  }

  function draw(spec) {
    var canvas = document.getElementById("chart-" + spec.id);
    if (!canvas) { return; }
    var format = formatter(spec.unit);
    var value = spec.horizontal ? "x" : "y";
    var category = spec.horizontal ? "y" : "x";
    var datasets = spec.series.map(function (s) {
      var line = spec.kind === "line" || s.kind === "line";
      return {
        type: line ? "line" : "bar",
        label: s.label,
        data: s.values.map(number),
        backgroundColor: line ? s.color : s.color + "cc",
        borderColor: s.color,
        borderWidth: line ? 2 : 0,
        pointRadius: line ? 3 : 0,
        tension: 0.25,
        spanGaps: true,
        order: line ? 0 : 1,
        // stacked charts stack their bars only; a line (the MRR) stands on its own
        stack: spec.stacked ? (line ? "line-" + s.label : "bars") : undefined,
        borderRadius: line ? 0 : 3
      };
    });
    var scales = {};
    scales[value] = {
      beginAtZero: true,
      stacked: spec.stacked,
      ticks: { precision: spec.unit ? undefined : 0, callback: function (v) { return format(v); } },
      grid: { color: "#e9ecf3" }
    };
    scales[category] = { stacked: spec.stacked, grid: { display: false } };
    charts.push(new window.Chart(canvas, {
      type: spec.kind === "line" ? "line" : "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: spec.horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: reduced ? false : { duration: 400 },
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: spec.series.length > 1, position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (item) {
                var v = item.parsed[value];
                return item.dataset.label + ": " + (v === null ? "–" : format(v));
              }
            }
          }
        },
        scales: scales
      }
    }));
  }

  function drawAll() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
    var data = document.getElementById("dashboard-data");
    if (!data || !window.Chart) { return; }
    JSON.parse(data.textContent).forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", drawAll);
  // the filter form swaps #dashboard (outerHTML): draw the new figures once htmx has settled them
  document.body.addEventListener("htmx:afterSettle", function () {
    if (document.getElementById("dashboard")) { drawAll(); }
  });
})();
