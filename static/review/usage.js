// The staff usage chart: tokens per day (and priced cost) of the last days, drawn by uPlot.
import uPlot from "../vendor/uplot/uPlot.esm.js";

const series = JSON.parse(document.getElementById("usage-series").textContent);
const element = document.getElementById("usage-chart");
const days = series.days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
const options = {
  width: Math.max(320, element.clientWidth || 800),
  height: 260,
  series: [
    {},
    { label: "Tokens", stroke: "#2563eb", width: 2 },
    { label: "Cost (USD)", stroke: "#d97706", width: 2, scale: "usd" },
  ],
  axes: [{}, { label: "tokens" }, { side: 1, scale: "usd", label: "USD", grid: { show: false } }],
};
const chart = new uPlot(options, [days, series.tokens, series.cost_usd], element);
element.dataset.ready = "true";
window.addEventListener("resize", () => chart.setSize({ width: Math.max(320, element.clientWidth), height: 260 }));
