// Draws the insights charts from the page's own figures (the json_script element "insights-data", the same JSON
// the API answers). The tables next to each chart carry the same numbers for readers without JavaScript.
const Chart = window.Chart;
const figures = JSON.parse(document.getElementById("insights-data").textContent);
const css = getComputedStyle(document.documentElement);
const color = (name, fallback) => css.getPropertyValue(name).trim() || fallback;

const STATUS = [
  ["succeeded", "Succeeded", color("--ok", "#15803d")],
  ["failed", "Failed", color("--err", "#b91c1c")],
  ["cancelled", "Cancelled", "#a1a1aa"],
  ["denied", "Denied", color("--warn", "#b45309")],
  ["in_progress", "In progress", color("--accent", "#4f46e5")],
];
const DECISIONS = {
  approved: color("--ok", "#15803d"),
  denied: color("--err", "#b91c1c"),
  expired: "#a1a1aa",
  pending: color("--accent", "#4f46e5"),
};
const BASE = { responsive: true, maintainAspectRatio: false, animation: false };

function draw(canvas, config, values) {
  new Chart(canvas, { ...config, options: { ...BASE, ...(config.options || {}) } });
  canvas.dataset.values = JSON.stringify(values);
  canvas.dataset.drawn = "true";
}

function runsPerDay(canvas) {
  const days = figures.runs_per_day;
  const datasets = STATUS.map(([key, label, fill]) => ({ label, data: days.map((d) => d[key]), backgroundColor: fill }));
  const values = Object.fromEntries(STATUS.map(([key]) => [key, days.reduce((sum, d) => sum + d[key], 0)]));
  draw(canvas, {
    type: "bar",
    data: { labels: days.map((d) => d.day.slice(5)), datasets },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  }, values);
}

function approvals(canvas) {
  const counts = figures.approvals.by_decision;
  const keys = Object.keys(counts);
  draw(canvas, {
    type: "doughnut",
    data: { labels: keys, datasets: [{ data: keys.map((k) => counts[k]), backgroundColor: keys.map((k) => DECISIONS[k]) }] },
    options: { plugins: { legend: { position: "right" } } },
  }, counts);
}

function usage(canvas) {
  const rows = figures.usage[canvas.dataset.group] || [];
  const values = Object.fromEntries(rows.map((r) => [r.label, r.cost_usd]));
  draw(canvas, {
    type: "bar",
    data: {
      labels: rows.map((r) => r.label),
      datasets: [
        { label: "Cost (USD)", data: rows.map((r) => Number(r.cost_usd)), backgroundColor: color("--accent", "#4f46e5"), yAxisID: "cost" },
        { label: "Tokens", data: rows.map((r) => r.tokens), backgroundColor: "#a5b4fc", yAxisID: "tokens" },
      ],
    },
    options: {
      indexAxis: "x",
      scales: {
        cost: { type: "linear", position: "left", beginAtZero: true },
        tokens: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
      },
    },
  }, values);
}

function tools(canvas) {
  const rows = figures.tools;
  draw(canvas, {
    type: "bar",
    data: { labels: rows.map((r) => r.tool), datasets: [{ label: "Calls", data: rows.map((r) => r.calls), backgroundColor: color("--accent", "#4f46e5") }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  }, Object.fromEntries(rows.map((r) => [r.tool, r.calls])));
}

const CHARTS = { runs_per_day: runsPerDay, approvals, usage, tools };

document.documentElement.classList.add("js");
if (Chart) {
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    CHARTS[canvas.dataset.chart](canvas);
  }
}
