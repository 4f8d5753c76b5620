// The customer 360's usage charts: one bar chart per subscription (used so far, forecast for the period and
// the allowance per metric), drawn from the JSON the page carries. No animation when the reader asks for less.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("usage-charts");
    if (!source || typeof Chart === "undefined") return;
    var charts = JSON.parse(source.textContent || "[]");
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var num = function (v) { return v === null ? null : Number(v); };
    charts.forEach(function (c) {
      var canvas = document.getElementById(c.id);
      if (!canvas) return;
      var datasets = [
        { label: "Used so far", data: c.used.map(num), backgroundColor: "#2454d6" },
        { label: "Forecast for the period", data: c.forecast.map(num), backgroundColor: "#8fb0ff" }
      ];
      if (c.allowance.some(function (v) { return v !== null; })) {
        datasets.push({ label: "Allowance", data: c.allowance.map(num), backgroundColor: "#a86400" });
      }
      new Chart(canvas, {
        type: "bar",
        data: { labels: c.labels, datasets: datasets },
        options: { responsive: true, maintainAspectRatio: false, animation: still ? false : undefined,
          scales: { y: { beginAtZero: true } } }
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
