// How the dashboard writes numbers, bytes and times: its own module so the browser test can check
// every magnitude against the room the page gives it.

const integer = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });

/** Exact: 12, 3.4, 1,234,567 (tables and the small print under tiles). */
export const num = (n) => (n >= 100 || Number.isInteger(n) ? integer.format(n) : decimal.format(n));

/** A tile's big figure: exact up to 999,999, then 1.2M, 3.4B (a tile is ~140 px wide). */
export const tileNumber = (n) => (Math.abs(n) >= 1e6 ? compact.format(n) : num(n));

/** A chart's y-axis label: 9,999 then 10K, 1.2M (the axis leaves AXIS.size - gap - ticks px). */
export const axisNumber = (n) => (Math.abs(n) >= 1e4 ? compact.format(n) : num(n));

/** The y-axes: uPlot's default font, sized for the widest axisNumber. `right`: the room right of
 * the plot, half the widest clock label, since a tick at the right edge centres its time on it
 * (without it "03:06:35 PM" was cut to "03:06:35 P"). */
export const AXIS = {
  font: '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif',
  size: 56, gap: 5, ticks: 10, right: 30,
};

export function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : decimal.format(n)} ${units[i]}`;
}

/** 15:06:35: 24-hour, so a label is as short in every locale (no AM/PM). */
export const clock = (sec) => new Date(sec * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
export const percent = (part, whole) => (whole > 0 ? (100 * part) / whole : 0);
