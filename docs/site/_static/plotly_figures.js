// Draws each plotly figure of the page with the site's own plotly.js, frames included, so the
// figure's slider and play button work without a kernel. A figure is a <div class="dinof-plotly">
// holding its JSON (data, layout, frames) in a <script type="application/json">.
document.addEventListener("DOMContentLoaded", () => {
  for (const div of document.querySelectorAll("div.dinof-plotly")) {
    const figure = JSON.parse(div.querySelector("script").textContent);
    Plotly.newPlot(div, {
      data: figure.data,
      layout: figure.layout,
      frames: figure.frames || [],
      config: { displaylogo: false },
    });
  }
});
