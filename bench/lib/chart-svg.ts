/** Horizontal bar charts as a standalone SVG (no dependencies): one panel per metric, one bar per
 * target, value printed at the end of the bar. Missing values are drawn as "n/a". */

export interface Bar { label: string; value: number; highlight?: boolean }
export interface Panel { title: string; unit: string; bars: Bar[]; /** Lower is better (shown in the title). */ lowerIsBetter?: boolean; digits?: number }

const WIDTH = 760;
const LABEL_W = 120;
const VALUE_W = 110;
const BAR_H = 18;
const GAP = 6;
const PANEL_HEAD = 30;
const PANEL_GAP = 18;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number, digits: number): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (Math.abs(v) >= 1e4) return `${(v / 1e3).toFixed(0)} k`;
  return v.toFixed(digits);
}

export function barChartSvg(title: string, subtitle: string, panels: Panel[]): string {
  let y = 46;
  const parts: string[] = [];
  for (const panel of panels) {
    const max = Math.max(...panel.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), 1e-9);
    const span = WIDTH - LABEL_W - VALUE_W - 20;
    parts.push(`<text x="10" y="${y + 16}" class="panel">${esc(panel.title)} <tspan class="hint">(${esc(panel.unit)}; ${panel.lowerIsBetter ? 'lower is better' : 'higher is better'})</tspan></text>`);
    y += PANEL_HEAD;
    for (const bar of panel.bars) {
      const w = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * span) : 0;
      parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" class="label" text-anchor="end">${esc(bar.label)}</text>`);
      parts.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" class="${bar.highlight ? 'bar hi' : 'bar'}"/>`);
      parts.push(`<text x="${LABEL_W + w + 6}" y="${y + BAR_H - 5}" class="value">${fmt(bar.value, panel.digits ?? 2)}</text>`);
      y += BAR_H + GAP;
    }
    y += PANEL_GAP;
  }
  const height = y + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    '<style>.title{font-size:16px;font-weight:600;fill:#111}.sub{font-size:11px;fill:#555}.panel{font-size:13px;font-weight:600;fill:#222}.hint{font-weight:400;fill:#666;font-size:11px}.label{font-size:12px;fill:#222}.value{font-size:11px;fill:#333}.bar{fill:#8aa4c8}.hi{fill:#d9822b}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" class="title">${esc(title)}</text>`,
    `<text x="10" y="38" class="sub">${esc(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
