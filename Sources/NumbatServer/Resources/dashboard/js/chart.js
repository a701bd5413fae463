// Charts drawn as SVG: lines over a time axis (several series at once, or stacked), and bars
// for histograms; a tooltip follows the pointer.
import { el, number } from './ui.js';

const NS = 'http://www.w3.org/2000/svg';
export const COLORS = ['#2f6fdd', '#1f9d55', '#d08a1e', '#d64545', '#7b5cd6', '#1aa3a3', '#c2410c', '#64748b'];

function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

let tooltip;
function showTooltip(x, y, text) {
  if (!tooltip) { tooltip = el('div.tooltip'); document.body.append(tooltip); }
  tooltip.textContent = text;
  tooltip.style.left = `${x + 14}px`;
  tooltip.style.top = `${y + 14}px`;
  tooltip.hidden = false;
}
function hideTooltip() { if (tooltip) tooltip.hidden = true; }

function timeTicks(from, to, count) {
  const span = to - from;
  const steps = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400].map((s) => s * 1000);
  const step = steps.find((s) => span / s <= count) || steps[steps.length - 1];
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return ticks;
}

function label(t, span) {
  const d = new Date(t);
  return span > 2 * 86400000 ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: span < 600000 ? '2-digit' : undefined });
}

/**
 * series: [{name, unit, points: [{t: ms, v}]}]; options.stacked adds the series up.
 * Returns the <svg> (and a legend beside it in a wrapper).
 */
export function lineChart(series, { stacked = false, height = 260, unit } = {}) {
  const width = 900, pad = { left: 64, right: 12, top: 10, bottom: 24 };
  const box = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img' });
  const all = series.flatMap((s) => s.points);
  const wrapper = el('div.chart-box');
  if (!all.length) {
    wrapper.append(el('p.muted', {}, 'No data points yet.'));
    return wrapper;
  }
  // Stacked: each point's value on top of the ones before, matched by time.
  let drawn = series;
  if (stacked) {
    const base = new Map();
    drawn = series.map((s) => ({ ...s, points: s.points.map((p) => {
      const below = base.get(p.t) || 0;
      base.set(p.t, below + p.v);
      return { t: p.t, v: below + p.v, own: p.v };
    }) }));
  }
  const points = drawn.flatMap((s) => s.points);
  const from = Math.min(...points.map((p) => p.t)), to = Math.max(...points.map((p) => p.t), from + 1000);
  const high = Math.max(...points.map((p) => p.v), 0), low = Math.min(...points.map((p) => p.v), 0);
  const top = high === low ? high + 1 : high + (high - low) * 0.05;
  const x = (t) => pad.left + (t - from) / (to - from) * (width - pad.left - pad.right);
  const y = (v) => pad.top + (1 - (v - low) / (top - low)) * (height - pad.top - pad.bottom);
  const axis = svg('g', { class: 'axis' });
  for (let i = 0; i <= 4; i++) {
    const v = low + (top - low) * i / 4;
    axis.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v) }));
    axis.append(svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, number(v, unit || series[0].unit)));
  }
  for (const t of timeTicks(from, to, 8)) {
    axis.append(svg('text', { x: x(t), y: height - 6, 'text-anchor': 'middle' }, label(t, to - from)));
  }
  box.append(axis);
  drawn.forEach((s, index) => {
    const color = COLORS[index % COLORS.length];
    const path = s.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join('');
    if (stacked && s.points.length) {
      const previous = index ? drawn[index - 1].points : null;
      const bottom = s.points.slice().reverse().map((p) => {
        const under = previous ? (previous.find((q) => q.t === p.t) || { v: 0 }).v : 0;
        return `L${x(p.t).toFixed(1)},${y(under).toFixed(1)}`;
      }).join('');
      box.append(svg('path', { d: path + bottom + 'Z', fill: color, 'fill-opacity': 0.25, stroke: 'none' }));
    }
    box.append(svg('path', { class: 'series', d: path, stroke: color, 'data-series': s.name }));
  });
  const hover = svg('line', { class: 'hover-line', y1: pad.top, y2: height - pad.bottom, visibility: 'hidden' });
  box.append(hover);
  box.addEventListener('pointermove', (event) => {
    const rect = box.getBoundingClientRect();
    const px = (event.clientX - rect.left) / rect.width * width;
    const t = from + (px - pad.left) / (width - pad.left - pad.right) * (to - from);
    const lines = [new Date(t).toLocaleString()];
    drawn.forEach((s) => {
      if (!s.points.length) return;
      const nearest = s.points.reduce((a, b) => Math.abs(b.t - t) < Math.abs(a.t - t) ? b : a);
      lines.push(`${s.name}: ${number(stacked ? nearest.own : nearest.v, s.unit)}`);
    });
    hover.setAttribute('x1', px); hover.setAttribute('x2', px); hover.setAttribute('visibility', 'visible');
    showTooltip(event.clientX, event.clientY, lines.join('\n'));
  });
  box.addEventListener('pointerleave', () => { hover.setAttribute('visibility', 'hidden'); hideTooltip(); });
  wrapper.append(box, el('div.legend', {}, series.map((s, i) => el('span', { style: `--c:${COLORS[i % COLORS.length]}` }, s.name))));
  return wrapper;
}

/** buckets: [{upper_bound, count}] as bars. */
export function barChart(buckets, { height = 200 } = {}) {
  const width = 900, pad = { left: 56, right: 10, top: 10, bottom: 28 };
  const box = svg('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: 'none', role: 'img' });
  if (!buckets.length) return el('p.muted', {}, 'No buckets.');
  const high = Math.max(...buckets.map((b) => b.count), 1);
  const slot = (width - pad.left - pad.right) / buckets.length;
  buckets.forEach((b, i) => {
    const h = b.count / high * (height - pad.top - pad.bottom);
    const bar = svg('rect', { x: pad.left + i * slot + 2, y: height - pad.bottom - h, width: Math.max(slot - 4, 1), height: h, fill: COLORS[0] });
    bar.addEventListener('pointermove', (event) => showTooltip(event.clientX, event.clientY, `≤ ${number(b.upper_bound)}: ${number(b.count)}`));
    bar.addEventListener('pointerleave', hideTooltip);
    box.append(bar);
    if (buckets.length <= 24 || i % Math.ceil(buckets.length / 24) === 0) {
      box.append(svg('text', { x: pad.left + i * slot + slot / 2, y: height - 8, 'text-anchor': 'middle', class: 'axis' }, number(b.upper_bound)));
    }
  });
  return box;
}
