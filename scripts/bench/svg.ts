// A line plot as a standalone SVG file: a few series of (x, y) points, axes
// with round ticks, a legend. Small enough to write by hand, so the benchmark
// needs no plotting library. Every point is a <circle> with a <title>, which
// shows its value on hover and lets a test read the points back.

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Series {
  readonly name: string;
  readonly points: readonly Point[];
}

export interface Plot {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** log2 spreads 1, 4, 8, 16, 32 evenly; linear is the default. */
  readonly xScale?: 'linear' | 'log2';
  /** How a y value is written on the axis and in the point titles. */
  readonly formatY?: (y: number) => string;
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { left: 70, right: 180, top: 40, bottom: 55 };
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Round tick values from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten, at most 6 of them. */
export function ticks(max: number): number[] {
  if (!(max > 0)) return [0, 1];
  const rough = max / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => max / s <= 5) ?? 10 * power;
  const values: number[] = [];
  for (let value = 0; value < max + step / 2 && values.length < 7; value += step) values.push(Number(value.toPrecision(12)));
  if (values[values.length - 1]! < max) values.push(Number((values[values.length - 1]! + step).toPrecision(12)));
  return values;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function renderSvg(plot: Plot): string {
  const points = plot.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = [...new Set(points.map((p) => p.x))].sort((a, b) => a - b);
  const log = plot.xScale === 'log2';
  const xValue = (x: number) => (log ? Math.log2(x) : x);
  // A log axis starts at its first value: a little room either side keeps the end points off the axes.
  const room = log ? 0.25 : 0;
  const xMin = log ? xValue(xs[0] ?? 1) - room : 0;
  const xMax = Math.max(xValue(xs[xs.length - 1] ?? 1) + room, xMin + 1);
  const yTicks = ticks(Math.max(0, ...points.map((p) => p.y)));
  const yMax = yTicks[yTicks.length - 1]!;
  const innerWidth = WIDTH - MARGIN.left - MARGIN.right;
  const innerHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const px = (x: number) => MARGIN.left + ((xValue(x) - xMin) / (xMax - xMin)) * innerWidth;
  const py = (y: number) => MARGIN.top + innerHeight - (y / yMax) * innerHeight;
  const formatY = plot.formatY ?? ((y: number) => String(y));
  const round = (n: number) => n.toFixed(1);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escapeXml(plot.title)}</text>`,
  ];
  for (const y of yTicks) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + innerWidth}" y1="${round(py(y))}" y2="${round(py(y))}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 6}" y="${round(py(y) + 4)}" text-anchor="end">${escapeXml(formatY(y))}</text>`,
    );
  }
  for (const x of xs) {
    out.push(`<text x="${round(px(x))}" y="${MARGIN.top + innerHeight + 18}" text-anchor="middle">${x}</text>`);
  }
  out.push(
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + innerWidth}" y1="${MARGIN.top + innerHeight}" y2="${MARGIN.top + innerHeight}" stroke="black"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + innerHeight}" stroke="black"/>`,
    `<text x="${MARGIN.left + innerWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(plot.xLabel)}</text>`,
    `<text transform="translate(18 ${MARGIN.top + innerHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(plot.yLabel)}</text>`,
  );
  plot.series.forEach((series, index) => {
    const colour = COLOURS[index % COLOURS.length]!;
    const drawn = series.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    if (drawn.length > 1) {
      const path = drawn.map((p) => `${round(px(p.x))},${round(py(p.y))}`).join(' ');
      out.push(`<polyline points="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    }
    for (const p of drawn) {
      out.push(
        `<circle cx="${round(px(p.x))}" cy="${round(py(p.y))}" r="4" fill="${colour}"><title>${escapeXml(series.name)}: x=${p.x}, y=${escapeXml(formatY(p.y))}</title></circle>`,
      );
    }
    const legendY = MARGIN.top + 10 + index * 20;
    const legendX = MARGIN.left + innerWidth + 16;
    out.push(
      `<line x1="${legendX}" x2="${legendX + 20}" y1="${legendY}" y2="${legendY}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${legendX + 26}" y="${legendY + 4}">${escapeXml(series.name)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
