// Orchestration: providers, releases (upload), deployment families (the seed's figure 10: name,
// strategies, release, firewall, domains), their nodes with start/stop/restart/delete, and a
// deploy dialog whose list follows each node through its steps as the server pushes them.
import { api } from '../api.js';
import { badge, el, formDialog, showError, table, toast } from '../ui.js';

let root, store, selectedFamily = sessionStorage.getItem('numbat-orch-family') || null, progress = null, refresh = null;
const PROVIDER_FIELDS = {
  physical: [['hosts', 'Hosts (address or address:port, comma-separated)'], ['directory', 'Directory on the hosts (default numbat)'], ['private_key', 'Ed25519 private key (OpenSSH; empty: the server user’s own SSH)', 'textarea']],
  ec2: [['region', 'Region'], ['endpoint', 'Endpoint (for EC2-compatible clouds)'], ['access_key_id', 'Access key id'], ['secret_access_key', 'Secret access key', 'password']],
  openstack: [['auth_url', 'Keystone URL'], ['username', 'User'], ['password', 'Password', 'password'], ['project_name', 'Project'], ['domain_name', 'Domain (Default)'],
    ['region', 'Region'], ['network', 'Network'], ['floating_ip_pool', 'Floating IP network (clouds without public addresses)'], ['ssh_port', 'SSH port']],
  libcloud: [['driver', 'Libcloud driver (ec2, gce, openstack, dummy, ...)'], ['key', 'Key'], ['secret', 'Secret', 'password'], ['driver_options', 'Driver options (JSON object)'], ['ssh_port', 'SSH port']],
};

async function addProvider() {
  const type = el('select', { name: 'type', id: 'provider-type' }, Object.keys(PROVIDER_FIELDS).map((t) => el('option', { value: t }, t)));
  const name = el('input', { name: 'name', required: true, id: 'provider-name' });
  const groups = {};
  const error = el('p.error', { hidden: true, role: 'alert' });
  for (const [kind, fields] of Object.entries(PROVIDER_FIELDS)) {
    groups[kind] = el('div', { dataset: { kind } }, fields.map(([field, label, input]) =>
      el('label', {}, label, input === 'textarea' ? el('textarea', { name: field, rows: 4 }) : el('input', { name: field, type: input || 'text', id: `provider-${field}` }))));
  }
  const show = () => { for (const [kind, group] of Object.entries(groups)) group.hidden = kind !== type.value; };
  type.addEventListener('change', show);
  show();
  const form = el('form', { method: 'dialog' }, el('h2', {}, 'Add a provider'), el('label', {}, 'Type', type), el('label', {}, 'Name', name),
    Object.values(groups), error, el('div.row', {}, el('button', { type: 'submit', id: 'provider-submit' }, 'Add'), el('button.secondary', { type: 'button', onclick: () => dialog.close() }, 'Cancel')));
  const dialog = el('dialog', {}, form);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { type: type.value, name: name.value.trim() };
    for (const input of groups[type.value].querySelectorAll('input, textarea')) {
      const value = input.value.trim();
      if (!value) continue;
      if (input.name === 'hosts') body.hosts = value.split(',').map((h) => h.trim()).filter(Boolean);
      else if (input.name === 'ssh_port') body.ssh_port = Number(value);
      else if (input.name === 'driver_options') {
        try { body.driver_options = JSON.parse(value); } catch { showError(new Error('Driver options must be a JSON object.'), error); return; }
      } else body[input.name] = value;
    }
    try {
      const made = await api('POST', '/api/orch/providers', body);
      dialog.close();
      if (made.kind === 'physical' && !body.private_key) toast('Provider added', "No key given: the server logs in with OpenSSH as its own user (keys, ssh-agent, ~/.ssh/config).", 'info', 20);
      draw();
    } catch (e) { showError(e, error); }
  });
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
}

async function uploadRelease() {
  const values = await formDialog('Upload a release', [
    { name: 'file', label: 'Archive (.tar.gz from rebar3 tar or mix release)', type: 'file', required: true },
    { name: 'name', label: 'Name', required: true },
    { name: 'start_cmd', label: 'Start command', value: 'bin/APP daemon' },
    { name: 'stop_cmd', label: 'Stop command', value: 'bin/APP stop' },
    { name: 'cookie', label: 'Cookie', type: 'password', required: true },
    { name: 'templates', label: 'Templates: paths whose {{ node_name }} is replaced (comma-separated)', value: 'releases/VSN/vm.args' },
  ], { submit: 'Upload' });
  if (!values || !values.file) return;
  const query = new URLSearchParams({ name: values.name, start_cmd: values.start_cmd, stop_cmd: values.stop_cmd, cookie: values.cookie });
  const templates = values.templates.split(',').map((t) => t.trim()).filter(Boolean);
  if (templates.length) query.set('node_name_templates', templates.join(','));
  try {
    const made = await api('POST', '/api/orch/releases?' + query, values.file, { contentType: 'application/gzip' });
    toast('Release uploaded', `${made.release} ${made.version}`, 'info', 4);
    draw();
  } catch (e) { toast('The upload failed', e.message); }
}

async function createFamily(releases) {
  const values = await formDialog('New node family', [
    { name: 'name', label: 'Name', required: true },
    { name: 'selection', label: 'Node selection', type: 'select', options: [{ value: 'random', label: 'random' }, { value: 'round_robin', label: 'round robin by provider' }] },
    { name: 'strategy', label: 'Bootstrap strategy', type: 'select', options: [{ value: 'custom', label: 'custom command' }, { value: 'distributed_erlang', label: 'distributed Erlang' }] },
    { name: 'cmd', label: 'Bootstrap command (custom)', value: 'bin/bootstrap' },
    { name: 'release', label: 'Release', type: 'select', options: releases.map((r) => ({ value: r.uuid, label: `${r.name} (${r.release} ${r.version})` })) },
    { name: 'firewall', label: 'Firewall rules (protocol:from:to, comma-separated)', value: 'tcp:4369:4369,tcp:9100:9199' },
  ], { submit: 'Create', describe: 'The family is made first, then its release and firewall are set.' });
  if (!values) return;
  try {
    const body = { name: values.name, bootstrap_node_selection: values.selection, bootstrap_strategy: values.strategy };
    if (values.strategy === 'custom') body.bootstrap_strategy_opts = [{ cmd: values.cmd }];
    const family = await api('POST', '/api/topo/node_families', body);
    if (values.release) await api('POST', `/api/orch/node_families/${family.id}/release`, { release: values.release });
    const rules = values.firewall.split(',').map((r) => r.trim()).filter(Boolean).map((r) => {
      const [protocol, from, to] = r.split(':');
      return { protocol, port_from: Number(from), port_to: Number(to || from) };
    });
    if (rules.length) await api('POST', `/api/orch/node_families/${family.id}/firewall`, rules);
    selectedFamily = family.id;
    draw();
  } catch (e) { toast('Creating the family failed', e.message); draw(); }
}

async function addDomain(family, providers) {
  const values = await formDialog('Add a domain', [
    { name: 'provider', label: 'Provider', type: 'select', options: providers.map((p) => ({ value: p.uuid, label: `${p.name} (${p.kind})` })) },
    { name: 'ssh_user', label: 'SSH user', value: 'root', required: true },
    { name: 'vdisk', label: 'Image (clouds)' },
    { name: 'hw_profile', label: 'Size (clouds)' },
  ], { submit: 'Add' });
  if (!values) return;
  try {
    const domain = await api('POST', `/api/orch/node_families/${family}/domains`, values);
    if (domain.warnings) toast('Domain added', domain.warnings.join('; '), 'info', 10);
    draw();
  } catch (e) { toast('Adding the domain failed', e.message); }
}

async function deploy(family, domains, providers) {
  const options = domains.map((d) => {
    const provider = providers.find((p) => p.uuid.toLowerCase() === String(d.provider).toLowerCase());
    return { value: d.provider, label: provider ? `${provider.name} (${provider.kind})` : d.provider };
  });
  const values = await formDialog('Deploy nodes', [
    { name: 'provider', label: 'Domain', type: 'select', options },
    { name: 'amount', label: 'How many nodes', type: 'number', value: '1', required: true },
    { name: 'autostart', label: 'Start them', type: 'checkbox', value: true },
  ], { submit: 'Deploy' });
  if (!values) return;
  try {
    const answer = await api('POST', `/api/orch/node_families/${family}/nodes`, { provider: values.provider, amount: Number(values.amount), autostart: values.autostart });
    progress = new Map(answer.nodes.map((id) => [id.toLowerCase(), { name: id, step: 'queued', state: 'UNINIT' }]));
    drawProgress();
  } catch (e) { toast('The deployment was refused', e.message); }
}

function drawProgress() {
  const box = root && root.querySelector('#deploy-progress');
  if (!box || !progress) return;
  const done = [...progress.values()].filter((p) => p.step === 'done').length;
  const failed = [...progress.values()].filter((p) => p.step === 'failed').length;
  box.replaceChildren(el('h3', {}, `Deployment: ${done} of ${progress.size} done${failed ? `, ${failed} failed` : ''}`),
    el('ul.progress', {}, [...progress.entries()].map(([id, p]) => el('li', { dataset: { node: id, step: p.step } }, badge(p.state), ' ', p.name, ' ', el('span.muted', {}, p.step), p.message ? el('span.error', {}, ' ' + p.message) : null))));
}

async function nodeAction(id, action) {
  try {
    if (action === 'delete') {
      if (!confirm('Delete this node: stop it, remove its files and destroy its instance?')) return;
      await api('DELETE', `/api/orch/nodes/${id}`);
    } else {
      await api('POST', `/api/orch/nodes/${id}/${action}`);
    }
    draw();
  } catch (e) { toast(`${action} failed`, e.message); }
}

async function familyPanel(id, providers, releases) {
  const [plan, nodes] = await Promise.all([api('GET', `/api/orch/node_families/${id}`), api('GET', `/api/orch/node_families/${id}/nodes`)]);
  const release = releases.find((r) => r.uuid.toLowerCase() === String(plan.release || '').toLowerCase());
  const providerName = (pid) => (providers.find((p) => p.uuid.toLowerCase() === String(pid).toLowerCase()) || { name: pid }).name;
  return el('section.card', { id: 'family-panel' },
    el('h3', {}, plan.name),
    el('dl.info', {}, el('dt', {}, 'Release'), el('dd', {}, release ? `${release.name} (${release.release} ${release.version})` : 'none'),
      el('dt', {}, 'Firewall'), el('dd', {}, plan.firewall.map((r) => `${r.protocol} ${r.port_from}-${r.port_to} from ${r.source}`).join(', ') || 'none')),
    el('h3', {}, 'Domains'),
    table(['Provider', 'SSH user', 'Image', 'Size', 'Notes'], plan.domains.map((d) => el('tr', {}, el('td', {}, providerName(d.provider)), el('td', {}, d.ssh_user),
      el('td', {}, d.vdisk), el('td', {}, d.hw_profile), el('td.muted', {}, (d.warnings || []).join('; '))))), 
    el('p', {}, el('button.secondary', { type: 'button', id: 'add-domain', onclick: () => addDomain(id, providers) }, 'Add domain'), ' ',
      el('button', { type: 'button', id: 'deploy', disabled: !plan.domains.length, onclick: () => deploy(id, plan.domains, providers) }, 'Deploy nodes'), ' ',
      el('button.danger', { type: 'button', onclick: async () => {
        if (!confirm(`Delete ${plan.name} with its domains?`)) return;
        try { await api('DELETE', `/api/orch/node_families/${id}`); selectedFamily = null; draw(); } catch (e) { toast('Deleting the family failed', e.message); }
      } }, 'Delete family')),
    el('div', { id: 'deploy-progress' }),
    el('h3', {}, 'Nodes'),
    table(['Node', 'State', 'Step', 'Provider', 'Address', ''], nodes.items.map((n) => el('tr', { dataset: { node: n.id, status: n.status } },
      el('td', {}, n.name), el('td', {}, badge(n.status)), el('td', {}, n.step, n.message ? el('div.error', {}, n.message) : null), el('td', {}, providerName(n.provider)),
      el('td', {}, n.address || ''),
      el('td', {}, ['start', 'stop', 'restart', 'delete'].map((a) => el('button.secondary', { type: 'button', dataset: { action: a }, onclick: () => nodeAction(n.id, a) }, a))))),
      { empty: 'No nodes deployed.' }));
}

async function draw() {
  if (!root) return;
  const error = el('p.error', { hidden: true });
  try {
    const [providers, releases] = await Promise.all([api('GET', '/api/orch/providers'), api('GET', '/api/orch/releases')]);
    const families = [...store.families.values()].filter((f) => f.kind === 'deployment');
    const familyList = el('ul', { id: 'families' }, families.map((f) => el('li', {}, el('a', { href: '#/orchestration', dataset: { family: f.id },
      onclick: (e) => { e.preventDefault(); selectedFamily = f.id; sessionStorage.setItem('numbat-orch-family', f.id); draw(); } }, f.id === selectedFamily ? el('strong', {}, f.name) : f.name))));
    const panel = selectedFamily && families.some((f) => f.id === selectedFamily) ? await familyPanel(selectedFamily, providers.items, releases.items) : el('p.muted', {}, 'Choose or create a family.');
    root.replaceChildren(el('h2', {}, 'Orchestration'), error,
      el('div.row', {},
        el('section.card', {}, el('h3', {}, 'Providers'),
          table(['Name', 'Kind', 'Where', ''], providers.items.map((p) => el('tr', {}, el('td', {}, p.name), el('td', {}, p.kind),
            el('td', {}, (p.hosts || []).map((h) => h.address).join(', ') || p.region || p.driver || p.auth_url || ''),
            el('td', {}, el('button.secondary', { type: 'button', onclick: async () => {
              try { await api('DELETE', `/api/orch/providers/${p.uuid}`); draw(); } catch (e) { toast('Removing the provider failed', e.message); }
            } }, 'remove'))))),
          el('p', {}, el('button', { type: 'button', id: 'add-provider', onclick: addProvider }, 'Add provider'))),
        el('section.card', {}, el('h3', {}, 'Releases'),
          table(['Name', 'Release', 'Size', 'SHA-256'], releases.items.map((r) => el('tr', {}, el('td', {}, r.name), el('td', {}, `${r.release} ${r.version}`),
            el('td', {}, `${(r.size / 1048576).toFixed(1)} MiB`), el('td.muted', {}, String(r.sha256 || '').slice(0, 12))))),
          el('p', {}, el('button', { type: 'button', id: 'upload-release', onclick: uploadRelease }, 'Upload release')))),
      el('div.row', {},
        el('section.card', { style: 'flex: 0 0 260px; min-width: 220px' }, el('h3', {}, 'Node families'), familyList,
          el('p', {}, el('button', { type: 'button', id: 'new-family', onclick: () => createFamily(releases.items) }, 'New family'))),
        panel));
    drawProgress();
  } catch (e) { showError(e, error); root.replaceChildren(el('h2', {}, 'Orchestration'), error); }
}

export default {
  mount(container, s) { root = container; store = s; draw(); },
  unmount() { root = null; },
  onEvent(event) {
    if (!root) return;
    if (event.topic === 'deployment' && event.deployment) {
      const d = event.deployment;
      const id = String(d.node_id).toLowerCase();
      if (progress && progress.has(id)) {
        progress.set(id, { name: d.node_name || id, step: d.step, state: d.state, message: d.step === 'failed' ? d.message : '' });
        drawProgress();
      }
    }
    if (event.topic === 'deployment' || event.topic === 'family' || (event.topic === 'node' && event.node && event.node.family_id === selectedFamily)) {
      clearTimeout(refresh);
      refresh = setTimeout(draw, 300);
    }
  },
};
