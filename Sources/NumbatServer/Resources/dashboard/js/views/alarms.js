// Alarms: the active ones with severity, acknowledging with a comment, and each alarm's history.
import { api } from '../api.js';
import { badge, el, formDialog, showError, table, time, toast } from '../ui.js';

let root, store, state = 'active', refresh = null;

async function acknowledge(alarm) {
  const values = await formDialog(`Acknowledge ${alarm.summary || alarm.key}`, [{ name: 'comment', label: 'Comment', value: '' }], { submit: 'Acknowledge' });
  if (!values) return;
  try {
    await api('POST', `/api/alarms/${alarm.id}/acknowledge`, { comment: values.comment });
    toast('Alarm acknowledged', alarm.summary || alarm.key, 'info', 3);
    draw();
  } catch (e) { toast('Acknowledging failed', e.message); }
}

async function showHistory(alarm, cell) {
  try {
    const full = await api('GET', `/api/alarms/${alarm.id}`);
    cell.replaceChildren(el('ul', {}, (full.history || []).map((h) =>
      el('li', {}, `${time(h.time)} ${h.kind}${h.actor ? ' by ' + h.actor : ''}${h.text ? ': ' + h.text : ''}`))));
  } catch (e) { showError(e, cell); }
}

function row(alarm) {
  const history = el('td', { colspan: 7 });
  const historyRow = el('tr', { hidden: true }, history);
  const main = el('tr', { dataset: { id: alarm.id, key: alarm.key, state: alarm.state } },
    el('td', {}, badge(alarm.severity)), el('td', {}, badge(alarm.state)), el('td', {}, alarm.node_name || ''),
    el('td', {}, el('strong', {}, alarm.summary || alarm.key), el('div.muted', {}, alarm.source)),
    el('td', {}, time(alarm.last_raised_at || alarm.raised_at)), el('td', {}, String(alarm.raise_count || 1)),
    el('td', {},
      alarm.state === 'new' ? el('button', { type: 'button', class: 'ack', onclick: () => acknowledge(alarm) }, 'Acknowledge') : null, ' ',
      el('button.secondary', { type: 'button', onclick: () => { historyRow.hidden = !historyRow.hidden; if (!historyRow.hidden) showHistory(alarm, history); } }, 'History')));
  return [main, historyRow];
}

async function draw() {
  if (!root) return;
  const error = el('p.error', { hidden: true });
  const picker = el('div.tabs-inline', {}, [['active', 'Active'], ['new', 'New'], ['acknowledged', 'Acknowledged'], ['cleared', 'Cleared'], ['', 'All']].map(([key, label]) =>
    el('button', { type: 'button', class: key === state ? 'active' : '', onclick: () => { state = key; draw(); } }, label)));
  let body = el('div');
  try {
    const node = store.selected ? `&node=${store.selected}` : '';
    const page = await api('GET', `/api/alarms?limit=200${state ? '&state=' + state : ''}${sessionStorage.getItem('numbat-alarms-all') ? '' : node}`);
    body = table(['Severity', 'State', 'Node', 'Alarm', 'Last raised', 'Times', ''], page.alarms.flatMap(row), { empty: 'No alarms.' });
    body.id = 'alarms-table';
  } catch (e) { showError(e, error); }
  const all = el('input', { type: 'checkbox', checked: !!sessionStorage.getItem('numbat-alarms-all') || !store.selected, onchange: (e) => {
    if (e.target.checked) sessionStorage.setItem('numbat-alarms-all', '1'); else sessionStorage.removeItem('numbat-alarms-all');
    draw();
  } });
  root.replaceChildren(el('h2', {}, 'Alarms'), picker, el('label', {}, el('span', {}, all, ' every node (else the selected one)')), error, body);
}

export default {
  mount(container, s) { root = container; store = s; draw(); },
  unmount() { root = null; },
  onEvent(event) {
    if (!root || event.topic !== 'alarm') return;
    clearTimeout(refresh);
    refresh = setTimeout(draw, 200);
  },
};
