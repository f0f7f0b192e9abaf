import type { Target } from "./messages.js";
import type { BenchReport, BenchRow } from "./report.js";

// The results as one SVG, no dependencies: a column per RPC path; rows for calls/s, p99 latency and CPU per
// call, each with the service and both references, so the gap can be seen rather than read.

const COLORS = {
  series: "#16a34a",
  service: "#2563eb",
  floor: "#6b7280",
  db: "#ea580c",
  node: "#93c5fd",
  mariadb: "#fdba74",
};
const PANEL = { width: 430, height: 210, left: 62, right: 18, top: 34, bottom: 38 };
const FONT = 'font-family="system-ui, sans-serif"';

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const num = (value: number) => String(Number(value.toPrecision(3)));
const text = (x: number, y: number, body: string, attrs = "") =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT}${attrs.includes("font-size") ? "" : ' font-size="11"'} ${attrs}>${esc(body)}</text>`;

interface Series {
  readonly label: string;
  readonly color: string;
  readonly dash?: string;
  readonly values: readonly (number | null)[];
  readonly notes?: readonly (string | null)[];
}

/** Nice round axis ticks from 0 (linear) or across decades (log). */
function ticks(max: number, min: number, log: boolean): number[] {
  if (log) {
    const out: number[] = [];
    for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
    return out;
  }
  const step = 10 ** Math.floor(Math.log10(max / 4 || 1));
  const nice = [1, 2, 2.5, 5, 10].map((m) => m * step).find((s) => max / s <= 5) ?? step * 10;
  return Array.from({ length: Math.ceil(max / nice) + 1 }, (_, i) => i * nice);
}

function linePanel(
  x0: number,
  y0: number,
  title: string,
  xs: readonly number[],
  series: Series[],
  log: boolean,
  range: readonly [number, number],
) {
  const { width, height, left, right, top, bottom } = PANEL;
  const yTicks = ticks(range[1] * 1.15, range[0], log);
  const yMin = log ? (yTicks[0] ?? 1) : 0;
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const inset = 24; // keeps the end points and their notes off the axes
  const px = (i: number) =>
    x0 +
    left +
    inset +
    (xs.length === 1 ? (plotW - 2 * inset) / 2 : (i * (plotW - 2 * inset)) / (xs.length - 1));
  const py = (v: number) =>
    y0 +
    top +
    plotH -
    (log ? Math.log(v / yMin) / Math.log(yMax / yMin) : (v - yMin) / (yMax - yMin)) * plotH;
  const out = [text(x0 + left, y0 + 18, title, 'font-weight="600" font-size="13"')];
  for (const t of yTicks) {
    out.push(
      `<line x1="${x0 + left}" x2="${x0 + width - right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e7eb"/>`,
    );
    out.push(text(x0 + left - 6, py(t) + 4, num(t), 'text-anchor="end" fill="#6b7280"'));
  }
  xs.forEach((x, i) => {
    out.push(text(px(i), y0 + height - bottom + 16, String(x), 'text-anchor="middle" fill="#6b7280"'));
  });
  out.push(
    text(x0 + left + plotW / 2, y0 + height - 6, "calls in flight", 'text-anchor="middle" fill="#6b7280"'),
  );
  for (const s of series) {
    const points = s.values.map((v, i) => (v === null || !(v > 0) ? null : ([px(i), py(v)] as const)));
    const path = points
      .filter((p) => p !== null)
      .map(([x, y], i) => `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`)
      .join(" ");
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : "";
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    points.forEach((p, i) => {
      if (p === null) return;
      out.push(`<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3" fill="${s.color}"/>`);
      const note = s.notes?.[i];
      if (note)
        out.push(
          text(
            p[0],
            p[1] - 8,
            note,
            `text-anchor="middle" fill="${s.color}" font-size="10" stroke="white" stroke-width="3" paint-order="stroke"`,
          ),
        );
    });
  }
  return out.join("\n");
}

const cpuStack = (r: BenchRow) => [r.serverCpuUsPerCall ?? r.clientCpuUsPerCall, r.dbCpuUsPerCall ?? 0];
const cpuTotal = (r: BenchRow) => cpuStack(r).reduce((a, b) => a + (Number.isNaN(b) ? 0 : b), 0);

function cpuPanel(
  x0: number,
  y0: number,
  title: string,
  xs: readonly number[],
  bars: BenchRow[][],
  max: number,
) {
  const { width, height, left, right, top, bottom } = PANEL;
  const stack = cpuStack;
  const yTicks = ticks(max * 1.1, 0, false);
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const py = (v: number) => y0 + top + plotH - (v / yMax) * plotH;
  const out = [text(x0 + left, y0 + 18, title, 'font-weight="600" font-size="13"')];
  for (const t of yTicks) {
    out.push(
      `<line x1="${x0 + left}" x2="${x0 + width - right}" y1="${py(t)}" y2="${py(t)}" stroke="#e5e7eb"/>`,
    );
    out.push(text(x0 + left - 6, py(t) + 4, num(t), 'text-anchor="end" fill="#6b7280"'));
  }
  const group = plotW / xs.length;
  xs.forEach((x, i) => {
    const gx = x0 + left + i * group;
    out.push(
      text(gx + group / 2, y0 + height - bottom + 16, String(x), 'text-anchor="middle" fill="#6b7280"'),
    );
    const rows = bars[i] ?? [];
    const barW = Math.min(26, (group - 12) / Math.max(1, rows.length));
    rows.forEach((row, j) => {
      const bx = gx + (group - barW * rows.length) / 2 + j * barW;
      let base = 0;
      stack(row).forEach((v, k) => {
        if (!(v > 0)) return;
        const fill = k === 0 ? COLORS.node : COLORS.mariadb;
        out.push(
          `<rect x="${(bx + 1).toFixed(1)}" y="${py(base + v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(py(base) - py(base + v)).toFixed(1)}" fill="${fill}" stroke="${COLORS[row.kind]}" stroke-width="1.5"/>`,
        );
        base += v;
      });
      const tag = row.kind === "db" ? "db" : row.kind === "floor" ? "fl" : "svc";
      out.push(
        text(
          bx + barW / 2,
          py(base) - 3,
          tag,
          `text-anchor="middle" font-size="9" fill="${COLORS[row.kind]}"`,
        ),
      );
    });
  });
  out.push(
    text(x0 + left + plotW / 2, y0 + height - 6, "calls in flight", 'text-anchor="middle" fill="#6b7280"'),
  );
  return out.join("\n");
}

/** Draws a results report as a standalone SVG document. */
export function renderChart(report: BenchReport): string {
  const rows = report.rows;
  const paths = [...new Set(rows.filter((r) => r.kind !== "db").map((r) => r.path))] as Target[];
  const xs = [...new Set(rows.map((r) => r.concurrency))].sort((a, b) => a - b);
  const pick = (kind: BenchRow["kind"], path: Target | undefined, c: number) =>
    rows.find((r) => r.kind === kind && r.concurrency === c && (kind === "db" || r.path === path));
  // One scale per metric across the paths, so the columns compare at a glance.
  const range = (metric: (r: BenchRow) => number): [number, number] => {
    const values = rows.map(metric).filter((v) => v > 0);
    return [Math.min(1, ...values), Math.max(1e-3, ...values)];
  };
  const width = PANEL.width * Math.max(1, paths.length) + 20;
  const height = 3 * PANEL.height + 122;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>UpsertContact benchmark, ${esc(report.startedAt)}: calls per second, p99 latency and CPU per call of the service, the framework floor and the database limit</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    text(
      14,
      22,
      "UpsertContact: service vs framework floor vs database limit",
      'font-size="15" font-weight="700"',
    ),
    text(
      14,
      40,
      `${report.startedAt} · ${String(report.environment.cpus)} shared cores: compare the lines, not the absolute numbers`,
      'fill="#6b7280"',
    ),
  ];
  const legend: Array<[string, string, string?]> = [
    ["service", COLORS.service],
    ["framework floor (echo use case)", COLORS.floor, "5 3"],
    ["database limit (mysql2, no RPC)", COLORS.db, "2 3"],
    ["S* = 1/(1/floor + 1/db)", COLORS.series, "1 2"],
  ];
  legend.forEach(([label, color, dash], i) => {
    const lx = [14, 120, 350, 580][i] ?? 14;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="58" y2="58" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>`,
    );
    out.push(text(lx + 30, 62, label));
  });
  out.push(`<rect x="${14}" y="70" width="12" height="12" fill="${COLORS.node}"/>`);
  out.push(text(14 + 17, 80, "Node CPU"));
  out.push(`<rect x="${14 + 90}" y="70" width="12" height="12" fill="${COLORS.mariadb}"/>`);
  out.push(text(14 + 107, 80, "mariadbd CPU"));

  paths.forEach((path, col) => {
    const x0 = 10 + col * PANEL.width;
    const name = path === "grpc" ? "gRPC (grpc-js, one channel)" : "Connect JSON over HTTP/1.1 keep-alive";
    const series = (metric: (r: BenchRow) => number, notes = false): Series[] => [
      {
        label: "service",
        color: COLORS.service,
        values: xs.map((c) => pick("service", path, c)).map((r) => (r ? metric(r) : null)),
        ...(notes && {
          notes: xs.map((c) => {
            const ratio = pick("service", path, c)?.ratios.throughputVsSeries;
            return ratio === null || ratio === undefined ? null : `${ratio.toFixed(2)} of S*`;
          }),
        }),
      },
      {
        label: "floor",
        color: COLORS.floor,
        dash: "5 3",
        values: xs.map((c) => pick("floor", path, c)).map((r) => (r ? metric(r) : null)),
      },
      {
        label: "db",
        color: COLORS.db,
        dash: "2 3",
        values: xs.map((c) => pick("db", path, c)).map((r) => (r ? metric(r) : null)),
      },
      ...(notes
        ? [
            {
              label: "S*",
              color: COLORS.series,
              dash: "1 2",
              values: xs.map((c) => pick("service", path, c)?.ratios.seriesLimit ?? null),
            },
          ]
        : []),
    ];
    out.push(
      linePanel(
        x0,
        92,
        `${name}: calls/s`,
        xs,
        series((r) => r.callsPerSecond, true),
        false,
        range((r) => r.callsPerSecond),
      ),
    );
    out.push(
      linePanel(
        x0,
        92 + PANEL.height,
        "p99 latency, ms (log scale)",
        xs,
        series((r) => r.load.latencyMs.p99),
        true,
        range((r) => r.load.latencyMs.p99),
      ),
    );
    const bars = xs.map((c) =>
      [pick("db", path, c), pick("floor", path, c), pick("service", path, c)].filter(
        (r): r is BenchRow => !!r,
      ),
    );
    out.push(
      cpuPanel(
        x0,
        92 + 2 * PANEL.height,
        "CPU per call, µs (db: driver + mariadbd)",
        xs,
        bars,
        Math.max(1, ...rows.map(cpuTotal)),
      ),
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
