// Tracing: the trace sessions (newest first), a form to start one on a node or a family, and one
// session's events, with new ones added live as the server streams them (topic trace).
import { api } from '../api.js';
import { badge, el, formDialog, showError, table, time } from '../ui.js';

let root, store, sessions = new Map(), selected = null, eventRows = null, shown = new Set();

function parts(session) {
  return session.nodes.map((p) => `${p.node_name}: ${p.kept}${p.end_reason ? ' (' + p.end_reason + ')' : ''}`).join(', ');
}

function sessionRow(session) {
  const stop = session.state === 'running'
    ? el('button.secondary.stop', { type: 'button', onclick: async (event) => {
      event.stopPropagation();
      try { update(await api('DELETE', `/api/trace/sessions/${session.id}`)); } catch (e) { showError(e); }
    } }, 'Stop')
    : null;
  return el('tr', { dataset: { id: session.id, state: session.state }, onclick: () => select(session.id) },
    el('td', {}, time(session.started_at)), el('td', {}, session.kind), el('td', {}, session.target),
    el('td', {}, badge(session.state)), el('td', {}, parts(session)), el('td', {}, stop));
}

function eventRow(event) {
  const node = store.nodes.get(event.node);
  return el('tr', { dataset: { id: event.id } }, el('td', {}, time(event.time)), el('td', {}, node ? node.name : event.node),
    el('td', {}, event.pid), el('td', {}, event.kind), el('td.message', {}, event.text));
}

function addEvents(events) {
  if (!eventRows) return;
  const empty = eventRows.querySelector('td.muted');
  for (const event of events) {
    if (shown.has(event.id)) continue;
    shown.add(event.id);
    if (empty && empty.parentElement) empty.parentElement.remove();
    eventRows.append(eventRow(event));
  }
}

function update(session) {
  // A session only moves on: the answer to its start (running) can arrive after the event
  // that says it ended (a hot function reaches max_count in milliseconds).
  const known = sessions.get(session.id);
  if (known && known.state !== 'running' && session.state === 'running') return;
  sessions.set(session.id, session);
  const list = document.getElementById('trace-sessions');
  if (!list) return;
  const body = list.querySelector('tbody');
  const existing = body.querySelector(`tr[data-id="${session.id}"]`);
  if (existing) existing.replaceWith(sessionRow(session));
  else {
    const empty = body.querySelector('td.muted');
    if (empty) empty.parentElement.remove();
    body.prepend(sessionRow(session));
  }
  if (selected === session.id) {
    const heading = document.getElementById('trace-session-state');
    if (heading) heading.textContent = `${session.kind} ${session.target}: ${session.state}; ${parts(session)}`;
  }
}

async function select(id) {
  selected = id;
  shown = new Set();
  const pane = document.getElementById('trace-events');
  const session = sessions.get(id);
  const body = table(['Time', 'Node', 'Process', 'Kind', 'Event'], [], { empty: 'No events yet.' });
  body.id = 'trace-events-table';
  eventRows = body.querySelector('tbody');
  pane.replaceChildren(el('h3', { id: 'trace-session-state' }, session ? `${session.kind} ${session.target}: ${session.state}; ${parts(session)}` : id), body);
  try {
    let after = null;
    do {
      const page = await api('GET', `/api/trace/sessions/${id}/events?limit=1000` + (after !== null ? `&after=${after}` : ''));
      if (selected !== id) return;
      addEvents(page.events);
      after = page.next ?? null;
    } while (after !== null);
  } catch (e) { showError(e); }
}

async function start() {
  const targets = [...store.nodes.values()].filter((n) => n.state === 'UP').map((n) => ({ value: 'node:' + n.id, label: n.name }))
    .concat([...store.families.values()].map((f) => ({ value: 'family:' + f.id, label: 'family ' + f.name })));
  const values = await formDialog('Start a trace', [
    { name: 'target', label: 'On', type: 'select', options: targets, value: targets[0] && targets[0].value },
    { name: 'kind', label: 'Kind', type: 'select', options: ['call', 'messages', 'gc'].map((k) => ({ value: k, label: k })), value: 'call' },
    { name: 'mfa', label: 'Module:function/arity (calls)', placeholder: 'lists:seq/2' },
    { name: 'match_spec', label: 'Match spec (calls): return_trace, exception_trace, caller or Erlang syntax' },
    { name: 'process', label: 'Process (messages, gc): a pid or a registered name' },
    { name: 'max_count', label: 'Events per node at most', type: 'number', value: '100' },
    { name: 'max_rate', label: 'Events per second at most (more ends it)', type: 'number', value: '1000' },
    { name: 'duration_s', label: 'Seconds', type: 'number', value: '60' },
  ], { submit: 'Trace', describe: 'Bounded on each node by its own tracer; one session per node.' });
  if (!values) return;
  const [scope, id] = values.target.split(':');
  const body = { [scope]: id, kind: values.kind, max_count: Number(values.max_count), max_rate: Number(values.max_rate), duration_s: Number(values.duration_s) };
  for (const key of ['mfa', 'match_spec', 'process']) if (values[key].trim()) body[key] = values[key].trim();
  try {
    const session = await api('POST', '/api/trace/sessions', body);
    update(session);
    select(session.id);
  } catch (e) { showError(e); }
}

async function draw() {
  const error = el('p.error', { hidden: true });
  let list;
  try {
    const page = await api('GET', '/api/trace/sessions?limit=100');
    sessions = new Map(page.sessions.map((s) => [s.id, s]));
    list = table(['Started', 'Kind', 'Target', 'State', 'Nodes (events kept)', ''], page.sessions.map(sessionRow), { empty: 'No trace sessions yet.' });
  } catch (e) { showError(e, error); list = el('div'); }
  list.id = 'trace-sessions';
  root.replaceChildren(el('h2', {}, 'Tracing'), el('div.row', {}, el('button', { id: 'start-trace', type: 'button', onclick: start }, 'Start a trace')),
    error, list, el('section', { id: 'trace-events' }, el('p.muted', {}, 'Choose a session to see its events.')));
  if (selected && sessions.has(selected)) select(selected);
}

export default {
  mount(container, s) { root = container; store = s; draw(); },
  unmount() { root = null; eventRows = null; },
  onEvent(event) {
    if (!root) return;
    if (event.type === 'trace_session' && event.session) update(event.session);
    else if (event.type === 'trace_events' && event.session === selected) addEvents(event.events || []);
  },
};
