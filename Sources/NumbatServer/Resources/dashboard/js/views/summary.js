// Overview, the landing page: how the system is at a glance. Nodes by state, active alarms by
// severity, the latest errors, and the busiest nodes by their latest metrics, each linking to
// the tab with the detail. With no node yet, the form to add the first one.
import { api } from '../api.js';
import { addForm } from './topology.js';
import { badge, el, number, showError, table, time } from '../ui.js';

const STATES = ['UP', 'DOWN', 'ERROR', 'STOPPED', 'UNINIT'];
const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'indeterminate'];
const ERRORS = 'error';
/** Pages of active alarms read at most: the overview counts, the Alarms tab lists. */
const ALARM_PAGES = 5;

let root, store, unsubscribe, refresh = null, timer = null, target = null;

/** Selects a node and opens `hash` on it (the tree's selection alone opens its Topology page). */
function open(id, hash) {
  target = hash;
  store.select(id);
}

/** A count with its label, linking to where the detail is. */
function tile(count, label, { href, kind = '', id } = {}) {
  return el('a.tile' + (kind ? '.' + kind : '') + (count ? '' : '.zero'), { href: href || '#', dataset: { count: String(count) }, id },
    el('span.count', {}, String(count)), el('span.label', {}, label));
}

function nodesCard() {
  const nodes = [...store.nodes.values()];
  const counts = new Map(STATES.map((s) => [s, 0]));
  for (const n of nodes) counts.set(n.state, (counts.get(n.state) || 0) + 1);
  const tiles = [...counts].filter(([state, count]) => count || state === 'UP' || state === 'DOWN')
    .map(([state, count]) => tile(count, state, { href: '#/topology', kind: 'state-' + state }));
  return el('section.card', { id: 'summary-nodes', dataset: { total: String(nodes.length) } },
    el('h3', {}, `Nodes (${nodes.length})`), el('div.tiles', {}, tiles),
    nodes.length ? null : el('p.muted', {}, 'No managed node yet: add one below.'));
}

async function activeAlarms() {
  const alarms = [];
  let before = null;
  for (let page = 0; page < ALARM_PAGES; page++) {
    const answer = await api('GET', `/api/alarms?state=active&limit=1000${before !== null ? '&before=' + before : ''}`);
    alarms.push(...answer.alarms);
    if (answer.next === null || answer.next === undefined) return { alarms, complete: true };
    before = answer.next;
  }
  return { alarms, complete: false };
}

async function alarmsCard() {
  const card = el('section.card', { id: 'summary-alarms' }, el('h3', {}, 'Active alarms'));
  try {
    const { alarms, complete } = await activeAlarms();
    const counts = new Map(SEVERITIES.map((s) => [s, 0]));
    for (const a of alarms) counts.set(a.severity, (counts.get(a.severity) || 0) + 1);
    card.dataset.total = String(alarms.length);
    card.append(...[el('div.tiles', {}, [...counts].map(([severity, count]) => tile(count, severity, { href: '#/alarms', kind: 'severity-' + severity }))),
      complete ? null : el('p.muted', {}, `At least ${alarms.length}: see the Alarms tab.`),
      alarms.length ? null : el('p.muted', {}, 'No active alarms.')].filter(Boolean));
  } catch (e) { card.append(showErrorElement(e)); }
  return card;
}

async function errorsCard() {
  const card = el('section.card', { id: 'summary-errors' }, el('h3', {}, el('a', { href: '#/notifications' }, 'Recent errors')));
  try {
    const page = await api('GET', `/api/notifications?severity=${ERRORS}&limit=8`);
    card.append(table(['Time', 'Severity', 'Node', 'Message'], page.notifications.map((n) =>
      el('tr', { dataset: { id: n.id } }, el('td', {}, time(n.time)), el('td', {}, badge(n.severity)), el('td', {}, n.node_name || 'Numbat'),
        el('td.message', {}, n.message.length > 200 ? n.message.slice(0, 200) + '…' : n.message))), { empty: 'No errors logged.' }));
  } catch (e) { card.append(showErrorElement(e)); }
  return card;
}

const TOP_LABELS = { scheduler_utilization: 'CPU (scheduler utilisation)', memory_total: 'Memory', message_queue_max: 'Longest message queue', run_queue: 'Run queue' };

function formatTop(value, unit) {
  return unit === 'ratio' ? `${(value * 100).toFixed(1)} %` : number(value, unit);
}

async function busiestCard() {
  const card = el('section.card', { id: 'summary-busiest' }, el('h3', {}, 'Busiest nodes'));
  try {
    const answer = await api('GET', '/api/metrics/top?limit=5');
    const rankings = answer.rankings.map((r) => el('div.ranking', { dataset: { metric: r.metric } },
      el('strong', { title: r.description || '' }, TOP_LABELS[r.metric] || r.metric),
      r.nodes.length ? el('ol', {}, r.nodes.map((n) => el('li', { dataset: { node: n.node } }, el('span.entry', {},
        el('a', { href: '#/metrics', onclick: (event) => { event.preventDefault(); open(n.node, '#/metrics'); } }, n.node_name), ' ', el('span.value', {}, formatTop(n.value, r.unit))))))
        : el('p.muted', {}, 'Not collected yet.')));
    card.append(el('div.rankings', {}, rankings));
  } catch (e) { card.append(showErrorElement(e)); }
  return card;
}

function showErrorElement(error) {
  const p = el('p.error');
  showError(error, p);
  return p;
}

/** Fills the cards; the page around them (and the add-node form being typed in) stays. */
async function draw() {
  if (!root) return;
  const cards = await Promise.all([alarmsCard(), errorsCard(), busiestCard()]);
  if (!root) return;
  for (const card of [nodesCard(), ...cards]) {
    const old = root.querySelector('#' + card.id);
    if (old) old.replaceWith(card);
  }
  root.dataset.loaded = 'true';
}

function skeleton() {
  const slot = (id, title) => el('section.card', { id }, el('h3', {}, title), el('p.muted', {}, 'Loading…'));
  root.replaceChildren(el('h2', {}, 'Overview'),
    el('div.row', {}, nodesCard(), slot('summary-alarms', 'Active alarms')),
    el('div.row', {}, slot('summary-busiest', 'Busiest nodes'), slot('summary-errors', 'Recent errors')),
    el('section.card', { id: 'summary-add' }, el('h3', {}, 'Add a node'), addForm(store)));
}

/** Redraws once per burst of changes. */
function later(delay = 500) {
  clearTimeout(refresh);
  refresh = setTimeout(() => draw().catch(() => {}), delay);
}

export default {
  mount(container, s) {
    root = container; store = s;
    unsubscribe = store.subscribe((change) => {
      if (!root) return;
      // A node picked in the tree (or one just added): its page.
      if (change === 'selection' && store.selected) { location.hash = target || '#/topology'; target = null; return; }
      const old = root.querySelector('#summary-nodes');
      if (old) old.replaceWith(nodesCard());
      if (change === 'structure') later();
    });
    delete root.dataset.loaded;
    skeleton();
    draw().catch((e) => showError(e, root.querySelector('#summary-alarms')));
    // The busiest nodes change with every collection.
    timer = setInterval(() => later(0), 30000);
  },
  unmount() { unsubscribe(); clearTimeout(refresh); clearInterval(timer); delete root.dataset.loaded; root = null; },
  onEvent(event) {
    if (!root) return;
    if (event.topic === 'alarm' || (event.type === 'notification' && event.notification && ['emergency', 'alert', 'critical', 'error'].includes(event.notification.severity))) later();
  },
};
