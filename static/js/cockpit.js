"use strict";

// Draw every <canvas class="chart"> of the results pages from its data attributes
// (labels and series as JSON); the table beside each chart holds the same figures.
const COLOURS = ["#2f6fdf", "#f0a202", "#d1495b", "#2a9d8f"];

function drawChart(canvas) {
  const labels = JSON.parse(canvas.dataset.labels || "[]");
  const series = JSON.parse(canvas.dataset.series || "[]");
  const cents = canvas.dataset.cents === "1";
  const stacked = canvas.dataset.stacked === "1";
  const percent = canvas.dataset.percent === "1";
  const y = { stacked, beginAtZero: true };
  if (percent) {
    // a rate: the axis runs from 0 to 100 %, not from 0 to the highest bar
    Object.assign(y, { min: 0, max: 100, ticks: { callback: (value) => `${value} %` } });
  }
  const datasets = series.map((serie, index) => ({
    label: serie.label,
    data: cents ? serie.data.map((value) => value / 100) : serie.data,
    backgroundColor: COLOURS[index % COLOURS.length],
    borderColor: COLOURS[index % COLOURS.length],
    spanGaps: true,
  }));
  // eslint-disable-next-line no-undef
  new Chart(canvas, {
    type: canvas.dataset.chart || "bar",
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      locale: "fr-FR",
      scales: { x: { stacked }, y },
    },
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (typeof Chart === "undefined") {
    return;
  }
  document.querySelectorAll("canvas.chart").forEach(drawChart);
});
