// Events per second over the last few minutes, drawn by hand on a canvas.

const SERIES = ["accepted", "done", "failed"];
const MAX_SAMPLES = 90;
const LINES_BY_LEADING_DIGIT = { 1: 2, 2: 4, 5: 5 };

function niceCeiling(value) {
  // 1, 2 or 5 times a power of ten, so that the grid lines fall on round numbers.
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 5, 10].find((factor) => factor * power >= value);
  return step * power;
}

function gridLines(peak) {
  return LINES_BY_LEADING_DIGIT[String(peak)[0]] || 2;
}

export class RateChart {
  constructor(canvas, intervalSeconds = 2) {
    this.canvas = canvas;
    this.intervalSeconds = intervalSeconds;
    this.samples = [];
    new ResizeObserver(() => this.draw()).observe(canvas);
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => this.draw());
  }

  push(rates) {
    this.samples.push(Object.fromEntries(SERIES.map((name) => [name, Number(rates[name] || 0)])));
    if (this.samples.length > MAX_SAMPLES) this.samples.shift();
    this.describe();
    this.draw();
  }

  describe() {
    const now = this.samples.at(-1);
    const parts = SERIES.map((name) => `${name} ${now[name].toFixed(1)} per second`);
    this.canvas.setAttribute("aria-label", `Events per second, latest reading: ${parts.join(", ")}`);
  }

  draw() {
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const style = getComputedStyle(document.documentElement);
    const color = (name) => style.getPropertyValue(`--${name}`).trim();
    const left = 34;
    const bottom = height - 18;
    const top = 8;
    const peak = niceCeiling(Math.max(0, ...this.samples.flatMap((s) => SERIES.map((n) => s[n]))));
    const y = (value) => bottom - (value / peak) * (bottom - top);
    const x = (index) => left + (index / (MAX_SAMPLES - 1)) * (width - left - 4);

    context.font = "11px system-ui, sans-serif";
    context.fillStyle = color("muted");
    context.strokeStyle = color("line");
    context.lineWidth = 1;
    const lines = gridLines(peak);
    for (let line = 0; line <= lines; line += 1) {
      const value = (peak * line) / lines;
      const at = Math.round(y(value)) + 0.5;
      context.beginPath();
      context.moveTo(left, at);
      context.lineTo(width - 4, at);
      context.stroke();
      context.textAlign = "right";
      context.textBaseline = "middle";
      context.fillText(value % 1 ? value.toFixed(1) : String(value), left - 6, at);
    }
    context.textAlign = "left";
    context.textBaseline = "alphabetic";
    const span = Math.round((MAX_SAMPLES * this.intervalSeconds) / 60);
    context.fillText(`last ${span} min`, left, height - 3);
    context.textAlign = "right";
    context.fillText("now", width - 4, height - 3);

    const offset = MAX_SAMPLES - this.samples.length;
    for (const name of SERIES) {
      context.strokeStyle = color(name);
      context.lineWidth = 2;
      context.beginPath();
      this.samples.forEach((sample, index) => {
        const method = index ? "lineTo" : "moveTo";
        context[method](x(offset + index), y(sample[name]));
      });
      context.stroke();
    }
  }
}
