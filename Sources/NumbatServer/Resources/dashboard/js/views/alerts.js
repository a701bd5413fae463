// Alerts: receivers (webhook, Alertmanager, email; secrets shown masked), rules, a receiver's
// test alert, and the delivery queue with each delivery's status, attempts and last error.
import { api } from '../api.js';
import { badge, el, formDialog, showError, table, time, toast } from '../ui.js';

let root, refresh = null, timer = null;

const list = (text) => (text || '').split(',').map((s) => s.trim()).filter(Boolean);

async function addReceiver() {
  const values = await formDialog('New alert receiver', [
    { name: 'name', label: 'Name', required: true },
    { name: 'kind', label: 'Kind', type: 'select', value: 'webhook', options: [
      { value: 'webhook', label: 'Webhook (signed JSON, Slack-compatible)' }, { value: 'alertmanager', label: 'Prometheus Alertmanager' },
      { value: 'email', label: 'Email (SMTP)' }] },
    { name: 'url', label: 'URL (webhook; Alertmanager base URL)', placeholder: 'https://hooks.example.org/numbat' },
    { name: 'secret', label: 'Secret (webhook HMAC key; SMTP password)', type: 'password' },
    { name: 'smtp_host', label: 'SMTP server' }, { name: 'smtp_port', label: 'SMTP port', value: '587' },
    { name: 'smtp_user', label: 'SMTP user' }, { name: 'from', label: 'From' },
    { name: 'to', label: 'To (comma-separated)' },
  ], { submit: 'Add receiver', describe: 'Secrets are sealed on the server and never shown again.' });
  if (!values) return;
  const body = { name: values.name, kind: values.kind };
  if (values.kind === 'email') {
    Object.assign(body, { smtp_host: values.smtp_host, smtp_port: Number(values.smtp_port || 587), from: values.from, to: list(values.to) });
    if (values.smtp_user) body.smtp_user = values.smtp_user;
  } else body.url = values.url;
  if (values.secret) body.secret = values.secret;
  try {
    await api('POST', '/api/alerts/receivers', body);
    toast('Receiver added', values.name, 'info', 3);
    draw();
  } catch (e) { toast('Adding the receiver failed', e.message); }
}

async function addRule(receivers) {
  const values = await formDialog('New alert rule', [
    { name: 'name', label: 'Name', required: true },
    { name: 'receivers', label: `Receivers (names, comma-separated: ${receivers.map((r) => r.name).join(', ')})`, required: true },
    { name: 'minimum_severity', label: 'Least severe sent', type: 'select', value: '', options: [{ value: '', label: 'any' },
      ...['critical', 'major', 'minor', 'warning', 'indeterminate'].map((s) => ({ value: s, label: s }))] },
    { name: 'keys', label: 'Alarm keys (comma-separated, * allowed; empty: any)' },
    { name: 'nodes', label: 'Nodes (comma-separated; empty: any)' },
    { name: 'minimum_duration_seconds', label: 'Minimum duration (s)', value: '0' },
    { name: 'repeat_interval_seconds', label: 'Repeat every (s; empty: never)' },
  ], { submit: 'Add rule' });
  if (!values) return;
  const ids = list(values.receivers).map((name) => (receivers.find((r) => r.name === name || r.id === name) || {}).id);
  if (ids.includes(undefined) || !ids.length) { toast('Adding the rule failed', 'name existing receivers'); return; }
  const body = { name: values.name, receivers: ids, keys: list(values.keys), nodes: list(values.nodes),
    minimum_duration_seconds: Number(values.minimum_duration_seconds || 0) };
  if (values.minimum_severity) body.minimum_severity = values.minimum_severity;
  if (values.repeat_interval_seconds) body.repeat_interval_seconds = Number(values.repeat_interval_seconds);
  try {
    await api('POST', '/api/alerts/rules', body);
    toast('Rule added', values.name, 'info', 3);
    draw();
  } catch (e) { toast('Adding the rule failed', e.message); }
}

async function remove(kind, item) {
  if (!confirm(`Remove ${kind} ${item.name}?`)) return;
  try {
    await api('DELETE', `/api/alerts/${kind}s/${item.id}`);
    draw();
  } catch (e) { toast(`Removing the ${kind} failed`, e.message); }
}

async function test(receiver) {
  try {
    const delivery = await api('POST', `/api/alerts/receivers/${receiver.id}/test`);
    if (delivery.status === 'delivered') toast('Test alert delivered', receiver.name, 'info', 4);
    else toast('Test alert not delivered', delivery.last_error || delivery.status);
    draw();
  } catch (e) { toast('Testing failed', e.message); }
}

async function draw() {
  if (!root) return;
  const error = el('p.error', { hidden: true });
  let receivers = [], rules = [], deliveries = [];
  try {
    [receivers, rules, deliveries] = await Promise.all([
      api('GET', '/api/alerts/receivers').then((r) => r.receivers), api('GET', '/api/alerts/rules').then((r) => r.rules),
      api('GET', '/api/alerts/deliveries?limit=100').then((r) => r.deliveries)]);
  } catch (e) { showError(e, error); }
  const names = Object.fromEntries(receivers.map((r) => [r.id, r.name]));
  const receiverTable = table(['Name', 'Kind', 'Where', 'Secret', ''], receivers.map((r) => el('tr', { dataset: { id: r.id } },
    el('td', {}, r.name), el('td', {}, r.kind),
    el('td', {}, r.kind === 'email' ? `${r.smtp_host}:${r.smtp_port} → ${(r.to || []).join(', ')}` : r.url || ''),
    el('td', {}, r.secret || '–'),
    el('td', {}, el('button', { type: 'button', class: 'test', onclick: () => test(r) }, 'Test'), ' ',
      el('button.secondary', { type: 'button', onclick: () => remove('receiver', r) }, 'Remove')))), { empty: 'No receivers.' });
  receiverTable.id = 'alert-receivers';
  const ruleTable = table(['Name', 'Severity', 'Keys', 'Nodes', 'Events', 'Min', 'Repeat', 'Receivers', ''], rules.map((r) => el('tr', { dataset: { id: r.id } },
    el('td', {}, r.name + (r.enabled ? '' : ' (off)')), el('td', {}, r.minimum_severity || 'any'), el('td', {}, r.keys.join(', ') || '*'),
    el('td', {}, r.nodes.join(', ') || '*'), el('td', {}, r.events.join(', ')), el('td', {}, `${r.minimum_duration_seconds}s`),
    el('td', {}, r.repeat_interval_seconds ? `${r.repeat_interval_seconds}s` : '–'), el('td', {}, r.receivers.map((id) => names[id] || id).join(', ')),
    el('td', {}, el('button.secondary', { type: 'button', onclick: () => remove('rule', r) }, 'Remove')))), { empty: 'No rules.' });
  ruleTable.id = 'alert-rules';
  const deliveryTable = table(['Alarm', 'Event', 'Receiver', 'Status', 'Attempts', 'Next / delivered', 'Last error'], deliveries.map((d) =>
    el('tr', { dataset: { id: d.id, status: d.status } },
      el('td', {}, d.notice.alarm.key + (d.alarm ? ` (#${d.alarm})` : '')), el('td', {}, d.notice.event), el('td', {}, names[d.receiver] || d.receiver),
      el('td', {}, badge(d.status)), el('td', {}, String(d.attempts)), el('td', {}, time(d.delivered_at || d.next_attempt_at)),
      el('td', {}, d.last_error || ''))), { empty: 'Nothing sent yet.' });
  deliveryTable.id = 'alert-deliveries';
  root.replaceChildren(el('h2', {}, 'Alerts'), error,
    el('h3', {}, 'Receivers'), el('p', {}, el('button', { type: 'button', id: 'add-receiver', onclick: addReceiver }, 'New receiver')), receiverTable,
    el('h3', {}, 'Rules'), el('p', {}, el('button', { type: 'button', id: 'add-rule', onclick: () => addRule(receivers) }, 'New rule')), ruleTable,
    el('h3', {}, 'Deliveries'), deliveryTable);
}

export default {
  mount(container) { root = container; draw(); timer = setInterval(draw, 5000); },
  unmount() { root = null; clearInterval(timer); },
  onEvent(event) {
    if (!root || event.topic !== 'alarm') return;
    clearTimeout(refresh);
    refresh = setTimeout(draw, 500);
  },
};
