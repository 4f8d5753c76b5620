// The portal's usage charts: per subscription, each metric's use so far, its allowance and the usage expected
// by the period's end. Data comes from the page's JSON block; the table beside each chart has the same numbers.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("usage-data");
    if (!source || typeof Chart === "undefined") { return; }
    var data = JSON.parse(source.textContent);
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    data.charts.forEach(function (chart) {
      var canvas = document.querySelector('canvas[data-usage-chart="' + chart.id + '"]');
      if (!canvas) { return; }
      var num = function (values) { return values.map(Number); };
      new Chart(canvas, {
        type: "bar",
        data: {
          labels: chart.labels,
          datasets: [
            { label: data.labels.used, data: num(chart.used), backgroundColor: "#2454d6" },
            { label: data.labels.forecast, data: num(chart.forecast), backgroundColor: "#8fb0ff" },
            { label: data.labels.included, data: num(chart.included), backgroundColor: "#a9dcbc" }
          ]
        },
        options: {
          responsive: true, maintainAspectRatio: false, animation: still ? false : undefined,
          locale: document.documentElement.lang || "en",
          scales: { y: { beginAtZero: true } }
        }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
