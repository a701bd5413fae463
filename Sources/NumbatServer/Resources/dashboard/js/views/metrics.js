// Metrics: history of chosen metrics for chosen nodes (several in one chart), a family's
// stacked chart, Folsom/Exometer histograms, and a Live tab fed every second.
import { api, webSocketURL } from '../api.js';
import { barChart, lineChart } from '../chart.js';
import { el, number, showError } from '../ui.js';

let root, store, unsubscribe, shown = null, catalog = [], mode = sessionStorage.getItem('numbat-metrics-mode') || 'history', live = null;
// Opens on memory and processes: what a first look at a node wants.
const chosen = { metrics: JSON.parse(sessionStorage.getItem('numbat-metrics') || '["memory_total","process_count"]'), range: '1h' };

/** The node the tab shows without being told: the one selected in the tree, else the first UP
 * node by name, else the first node. */
function defaultNode() {
  if (store.selectedNode) return store.selectedNode;
  const nodes = [...store.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  return nodes.find((n) => n.state === 'UP') || nodes[0] || null;
}

/** One chart per unit (bytes and processes on one axis would flatten the smaller). */
function charts(series) {
  const units = [...new Set(series.map((s) => s.unit || ''))];
  if (units.length < 2) return [lineChart(series)];
  return units.flatMap((unit) => [el('p.chart-title', {}, unit || 'no unit'), lineChart(series.filter((s) => (s.unit || '') === unit))]);
}

const toPoints = (points) => points.map((p) => ({ t: Date.parse(p.t), v: p.v }));

function metricPicker(onChange) {
  const select = el('select', { multiple: true, size: 8, id: 'metric-picker', 'aria-label': 'Metrics' },
    catalog.map((m) => el('option', { value: m.name, selected: chosen.metrics.includes(m.name), title: m.description }, `${m.name} (${m.unit})`)));
  select.addEventListener('change', () => {
    chosen.metrics = [...select.selectedOptions].map((o) => o.value);
    sessionStorage.setItem('numbat-metrics', JSON.stringify(chosen.metrics));
    onChange();
  });
  return el('label', {}, 'Metrics (ctrl-click for several)', select);
}

function nodePicker(onChange) {
  const nodes = [...store.nodes.values()].sort((a, b) => a.name.localeCompare(b.name)).slice(0, 2000);
  const first = defaultNode();
  const select = el('select', { multiple: true, size: 8, id: 'node-picker', 'aria-label': 'Nodes' },
    nodes.map((n) => el('option', { value: n.id, selected: first && n.id === first.id }, `${n.name} (${n.state})`)));
  select.addEventListener('change', onChange);
  return [el('label', {}, 'Nodes', select), () => [...select.selectedOptions].map((o) => o.value)];
}

async function history(body) {
  const chart = el('div', { id: 'metric-chart' });
  const range = el('select', { id: 'metric-range' }, ['15m', '1h', '6h', '1d', '1w'].map((r) => el('option', { value: r, selected: r === chosen.range }, `last ${r}`)));
  const [nodes, selectedNodes] = nodePicker(() => draw());
  const draw = async () => {
    const ids = selectedNodes();
    if (!ids.length) {
      chart.replaceChildren(el('p.muted', {}, store.nodes.size ? 'Choose a node (or select one in the tree).' : 'No managed node yet: add one on the Overview or Topology tab.'));
      return;
    }
    if (!chosen.metrics.length) { chart.replaceChildren(el('p.muted', {}, 'Choose a metric.')); return; }
    try {
      const answers = await Promise.all(ids.map((id) => api('GET', `/api/metrics/nodes/${id}/series?metrics=${chosen.metrics.join(',')}&from=${chosen.range}`)));
      const series = answers.flatMap((a) => a.series).map((s) => ({ name: ids.length > 1 ? `${s.node_name} ${s.metric}` : s.metric, unit: s.unit, points: toPoints(s.points) }));
      const resolutions = [...new Set(answers.flatMap((a) => (a.parts || []).map((p) => p.step_seconds || p.resolution_seconds)))];
      const detail = resolutions.map((r) => (r ? `${r / 60} min averages` : 'raw')).join(', then ');
      chart.replaceChildren(...charts(series), el('p.muted', { id: 'metric-points' }, `${series.reduce((n, s) => n + s.points.length, 0)} points${detail ? ` (${detail})` : ''}`));
    } catch (e) { showError(e, chart); }
  };
  range.addEventListener('change', () => { chosen.range = range.value; draw(); });
  const again = el('button.secondary', { type: 'button', id: 'metric-refresh', onclick: () => draw() }, 'Refresh');
  body.replaceChildren(el('div.row', {}, el('div', {}, el('form.inline', {}, nodes, metricPicker(() => draw()), el('label', {}, 'Range', range), again))), chart);
  await draw();
}

async function family(body) {
  const families = [...store.families.values()];
  const chart = el('div', { id: 'family-chart' });
  const familySelect = el('select', { id: 'family-picker' }, families.map((f) => el('option', { value: f.id }, f.name)));
  const metric = el('select', { id: 'family-metric' }, catalog.map((m) => el('option', { value: m.name, selected: m.name === (chosen.metrics[0] || 'memory_total') }, m.name)));
  const draw = async () => {
    if (!familySelect.value) { chart.replaceChildren(el('p.muted', {}, 'No families yet.')); return; }
    try {
      const answer = await api('GET', `/api/metrics/families/${familySelect.value}/series?metric=${metric.value}&from=${chosen.range}`);
      chart.replaceChildren(lineChart(answer.series.map((s) => ({ name: s.node_name, unit: s.unit, points: toPoints(s.points) })), { stacked: true }));
    } catch (e) { showError(e, chart); }
  };
  familySelect.addEventListener('change', draw);
  metric.addEventListener('change', draw);
  body.replaceChildren(el('form.inline', {}, el('label', {}, 'Family', familySelect), el('label', {}, 'Metric (stacked over the nodes)', metric)), chart);
  await draw();
}

async function histograms(body) {
  const node = defaultNode();
  if (!node) { body.replaceChildren(el('p.muted', {}, 'Select a node in the tree.')); return; }
  const answer = await api('GET', `/api/metrics/nodes/${node.id}`);
  const entries = Object.entries(answer.histograms || {});
  const custom = answer.metrics.filter((m) => m.group === 'folsom' || m.group === 'exometer');
  body.replaceChildren(
    el('h3', {}, `Histograms of ${node.name}`),
    entries.length ? entries.map(([name, buckets]) => el('section.card', {}, el('strong', {}, name), barChart(buckets)))
      : el('p.muted', {}, 'This node has no Folsom or Exometer histograms.'),
    el('h3', {}, 'Folsom and Exometer metrics'),
    custom.length ? el('table', {}, el('tbody', {}, custom.map((m) => el('tr', {}, el('td', {}, m.name), el('td', {}, number(m.value, m.unit))))))
      : el('p.muted', {}, 'None.'));
}

function liveView(body) {
  const node = defaultNode();
  if (!node) { body.replaceChildren(el('p.muted', {}, 'Select a node in the tree.')); return; }
  const names = chosen.metrics.length ? chosen.metrics : ['memory_total'];
  const series = new Map(names.map((n) => [n, []]));
  const chart = el('div', { id: 'live-chart' });
  const status = el('p.muted', {}, 'Connecting…');
  body.replaceChildren(el('h3', {}, `Live: ${node.name}`), el('form.inline', {}, metricPicker(() => liveView(body))), chart, status);
  if (live) live.close();
  live = new WebSocket(webSocketURL('/api/metrics/live', { node: node.id, metrics: names.join(',') }));
  live.onmessage = (message) => {
    const sample = JSON.parse(message.data);
    if (sample.error) { status.textContent = sample.error; return; }
    const t = Date.parse(sample.t) || Date.now();
    for (const name of names) {
      const points = series.get(name);
      if (sample.values && sample.values[name] !== undefined && sample.values[name] !== null) points.push({ t, v: sample.values[name] });
      if (points.length > 120) points.shift();
    }
    const unit = (name) => (catalog.find((m) => m.name === name) || {}).unit;
    chart.replaceChildren(...charts(names.map((name) => ({ name, unit: unit(name), points: series.get(name) }))));
    status.textContent = `updated ${new Date(t).toLocaleTimeString()}`;
  };
  live.onclose = () => { status.textContent = 'The live stream closed.'; };
}

async function draw() {
  shown = defaultNode();
  if (live && mode !== 'live') { live.close(); live = null; }
  const body = el('div');
  const tabs = el('div.tabs-inline', {}, [['history', 'History'], ['family', 'Family (stacked)'], ['histograms', 'Histograms'], ['live', 'Live']].map(([key, label]) =>
    el('button', { type: 'button', class: key === mode ? 'active' : '', dataset: { mode: key }, onclick: () => { mode = key; sessionStorage.setItem('numbat-metrics-mode', key); draw(); } }, label)));
  root.replaceChildren(el('h2', {}, 'Metrics'), tabs, body);
  try {
    if (!catalog.length) catalog = (await api('GET', '/api/metrics/catalog')).metrics;
    if (mode === 'history') await history(body);
    else if (mode === 'family') await family(body);
    else if (mode === 'histograms') await histograms(body);
    else liveView(body);
  } catch (e) { showError(e, body); }
}

export default {
  mount(container, s) {
    root = container; store = s;
    // A first node arriving while the tab had none to show also redraws it.
    unsubscribe = store.subscribe((change) => { if (root && (change === 'selection' || (change === 'structure' && !shown))) draw(); });
    draw();
  },
  unmount() { unsubscribe(); if (live) { live.close(); live = null; } root = null; },
};
