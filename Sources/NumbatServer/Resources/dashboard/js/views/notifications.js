// Notifications: a filterable table of log events, newest first, with new ones added live.
// (The popup for errors is the shell's, so it shows on every tab.)
import { api } from '../api.js';
import { badge, el, showError, table, time } from '../ui.js';

const SEVERITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];
let root, store, filters = { severity: '', q: '', node: '' }, rows, next = null;

function row(n) {
  const metadata = n.metadata && Object.keys(n.metadata).length ? JSON.stringify(n.metadata) : '';
  return el('tr', { dataset: { id: n.id } }, el('td', {}, time(n.time)), el('td', {}, badge(n.severity)), el('td', {}, n.node_name || 'Numbat'),
    el('td.message', { title: metadata }, n.message));
}

function matches(n) {
  if (filters.node && n.node !== filters.node) return false;
  if (filters.severity && SEVERITIES.indexOf(n.severity) > SEVERITIES.indexOf(filters.severity)) return false;
  return !filters.q || n.message.toLowerCase().includes(filters.q.toLowerCase());
}

async function load(more = false) {
  const query = new URLSearchParams({ limit: '100' });
  if (filters.severity) query.set('severity', filters.severity);
  if (filters.q) query.set('q', filters.q);
  if (filters.node) query.set('node', filters.node);
  if (more && next !== null) query.set('before', next);
  const page = await api('GET', '/api/notifications?' + query);
  next = page.next;
  return page.notifications.map(row);
}

async function draw() {
  const error = el('p.error', { hidden: true });
  const severity = el('select', { id: 'notification-severity' }, el('option', { value: '' }, 'any'), SEVERITIES.map((s) => el('option', { value: s, selected: s === filters.severity }, `${s} and worse`)));
  const text = el('input', { type: 'search', placeholder: 'text', value: filters.q, id: 'notification-text' });
  const node = el('select', { id: 'notification-node' }, el('option', { value: '' }, 'all nodes'),
    [...store.nodes.values()].map((n) => el('option', { value: n.id, selected: n.id === filters.node }, n.name)));
  const apply = () => { filters = { severity: severity.value, q: text.value.trim(), node: node.value }; draw(); };
  severity.addEventListener('change', apply); node.addEventListener('change', apply); text.addEventListener('change', apply);
  const older = el('button.secondary', { type: 'button', onclick: async () => {
    try { rows.append(...await load(true)); older.hidden = next === null; } catch (e) { showError(e, error); }
  } }, 'Older');
  let body;
  try {
    body = table(['Time', 'Severity', 'Node', 'Message'], await load(), { empty: 'No notifications match.' });
  } catch (e) { showError(e, error); body = el('div'); }
  rows = body.querySelector('tbody');
  body.id = 'notifications-table';
  older.hidden = next === null;
  root.replaceChildren(el('h2', {}, 'Notifications'),
    el('form.inline', {}, el('label', {}, 'Severity', severity), el('label', {}, 'Node', node), el('label', {}, 'Text', text)), error, body, older);
}

export default {
  mount(container, s) { root = container; store = s; draw(); },
  unmount() { root = null; },
  onEvent(event) {
    if (!root || event.type !== 'notification' || !rows || !matches(event.notification)) return;
    const empty = rows.querySelector('td.muted');
    if (empty) empty.parentElement.remove();
    rows.prepend(row(event.notification));
    while (rows.children.length > 500) rows.lastChild.remove();
  },
};
