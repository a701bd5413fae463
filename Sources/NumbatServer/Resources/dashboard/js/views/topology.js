// Topology: the selected node's information, adding nodes (with discovery), removing them,
// and the graph of connections, whose nodes can be dragged.
import { api } from '../api.js';
import { badge, el, showError, time, toast } from '../ui.js';

const LEVELS = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'info', 'debug'];
const levels = new Map();
let root, store, unsubscribe, refreshGraph = () => {}, graphTimer = null, graphOpen = sessionStorage.getItem('numbat-graph') !== 'closed';

function info() {
  const node = store.selectedNode;
  if (!node) return el('section.card', { id: 'node-info' }, el('h3', {}, 'Node'), el('p.muted', {}, 'Select a node in the tree.'));
  const family = node.family_id && store.families.get(node.family_id);
  const rows = [
    ['Name', node.name], ['State', badge(node.state)], ['Host', node.host], ['Port', node.port ? `${node.port} (no EPMD)` : 'from EPMD'], ['OTP release', node.otp_release || '–'],
    ['Family', family ? family.name : '–'], ['Discovered from', node.discovered_from || '–'],
    ['Last error', node.last_error || '–'], ['Added', time(node.added_at)], ['State since', time(node.state_changed_at)],
  ];
  const error = el('p.error', { hidden: true });
  // The least severe log level the node sends as notifications (seed 4.2.3); read, then set.
  const level = el('select', { id: 'node-log-level', disabled: true, title: 'The least severe log level collected from this node' },
    LEVELS.map((name) => el('option', { value: name }, name)));
  // Read once per node (the card is redrawn on every state change of any node).
  const known = levels.get(node.id);
  if (known) { level.value = known; level.disabled = false; } else {
    api('GET', `/api/notifications/nodes/${node.id}/level`).then((answer) => { levels.set(node.id, answer.level); level.value = answer.level; level.disabled = false; })
      .catch((e) => showError(e, error));
  }
  level.addEventListener('change', async () => {
    level.disabled = true;
    try {
      const answer = await api('PUT', `/api/notifications/nodes/${node.id}/level`, { level: level.value });
      level.value = answer.level;
      levels.set(node.id, answer.level);
      toast('Notification level', `${node.name}: ${answer.level} and more severe`, 'info', 3);
    } catch (e) { showError(e, error); } finally { level.disabled = false; }
  });
  rows.push(['Notification level', level]);
  return el('section.card', { id: 'node-info' }, el('h3', {}, node.name),
    el('dl.info', {}, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
    el('p', {}, el('button.danger', { id: 'remove-node', onclick: async () => {
      if (!confirm(`Stop managing ${node.name}? The node keeps running.`)) return;
      try { await api('DELETE', `/api/topo/nodes/${node.id}`); store.select(null); } catch (e) { showError(e, error); }
    } }, 'Remove node')), error);
}

/** The form to add a node (also on the Overview while there is none). */
export function addForm(nodes) {
  const error = el('p.error', { hidden: true, role: 'alert' });
  const name = el('input', { name: 'node', placeholder: 'app@10.0.0.2', required: true, id: 'add-node-name' });
  const cookie = el('input', { name: 'cookie', type: 'password', placeholder: 'cookie', required: true, id: 'add-node-cookie' });
  // A node that runs without EPMD (-erl_epmd_port, ERL_DIST_PORT) is reached on its port.
  const port = el('input', { name: 'port', type: 'number', min: 1, max: 65535, placeholder: 'EPMD', id: 'add-node-port',
    title: 'Only for a node that runs without EPMD: its distribution port' });
  const discover = el('input', { type: 'checkbox', name: 'discover', checked: true, id: 'add-node-discover' });
  // A node on TLS distribution (-proto_dist inet_tls): the PEM files Numbat connects with.
  const pem = (id, what) => el('input', { type: 'file', id: `add-node-tls-${id}`, accept: '.pem,.crt,.key', title: what });
  const tls = { certificate: pem('cert', 'The certificate Numbat presents'), key: pem('key', 'Its private key'),
    ca: pem('ca', "The CA the node's certificate must chain to") };
  const tlsFields = el('details', { id: 'add-node-tls' }, el('summary', {}, 'TLS distribution'),
    el('label', {}, 'Certificate', tls.certificate), el('label', {}, 'Key', tls.key), el('label', {}, 'CA', tls.ca));
  const button = el('button', { type: 'submit', id: 'add-node-submit' }, 'Add node');
  const form = el('form.inline', { id: 'add-node' }, el('label', {}, 'Node name', name), el('label', {}, 'Cookie', cookie),
    el('label', {}, 'Port (no EPMD)', port), el('label', {}, 'Discover connected nodes', discover), tlsFields, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.hidden = true;
    button.disabled = true;
    try {
      const body = { node: name.value.trim(), cookie: cookie.value, discover: discover.checked };
      if (port.value) body.port = Number(port.value);
      const chosen = Object.values(tls).filter((input) => input.files.length);
      if (chosen.length && chosen.length < 3) throw new Error('TLS distribution needs all three files: certificate, key and CA');
      if (chosen.length) {
        body.tls = {};
        for (const [field, input] of Object.entries(tls)) body.tls[field] = await input.files[0].text();
      }
      const answer = await api('POST', '/api/actions/add-node', body);
      const more = answer.discovered && answer.discovered.length ? ` and ${answer.discovered.length} connected node(s)` : '';
      toast('Node added', `${answer.node.name}${more}`, 'info', 4);
      nodes.select(answer.node.id);
      name.value = ''; cookie.value = ''; port.value = '';
      for (const input of Object.values(tls)) input.value = '';
    } catch (e) { showError(e, error); } finally { button.disabled = false; }
  });
  return el('div', {}, form, error);
}

/** A force layout of the managed nodes and their peers; drag a node to move it. */
async function graph(container) {
  const data = await api('GET', '/api/topo/graph');
  const width = 900, height = 420;
  const nodes = data.nodes.map((n, i) => ({ ...n, x: width / 2 + Math.cos(i) * 150, y: height / 2 + Math.sin(i) * 150, vx: 0, vy: 0 }));
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const edges = data.edges.map((e) => [byName.get(e.from), byName.get(e.to)]).filter(([a, b]) => a && b);
  for (let step = 0; step < 300; step++) {
    for (const a of nodes) for (const b of nodes) {
      if (a === b) continue;
      const dx = a.x - b.x, dy = a.y - b.y, d2 = Math.max(dx * dx + dy * dy, 100);
      a.vx += dx / d2 * 400; a.vy += dy / d2 * 400;
    }
    for (const [a, b] of edges) {
      const dx = b.x - a.x, dy = b.y - a.y;
      a.vx += dx * 0.01; a.vy += dy * 0.01; b.vx -= dx * 0.01; b.vy -= dy * 0.01;
    }
    for (const n of nodes) {
      n.vx += (width / 2 - n.x) * 0.002; n.vy += (height / 2 - n.y) * 0.002;
      n.x = Math.min(width - 30, Math.max(30, n.x + n.vx)); n.y = Math.min(height - 20, Math.max(20, n.y + n.vy));
      n.vx *= 0.6; n.vy *= 0.6;
    }
  }
  const NS = 'http://www.w3.org/2000/svg';
  const make = (tag, attrs) => { const e = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v); return e; };
  const box = make('svg', { class: 'graph', viewBox: `0 0 ${width} ${height}`, id: 'node-graph' });
  const lines = edges.map(([a, b]) => { const l = make('line', {}); box.append(l); return [l, a, b]; });
  const colours = { UP: '#1f9d55', DOWN: '#d64545', ERROR: '#d64545', STOPPED: '#8a94a6' };
  const drawLines = () => lines.forEach(([l, a, b]) => { l.setAttribute('x1', a.x); l.setAttribute('y1', a.y); l.setAttribute('x2', b.x); l.setAttribute('y2', b.y); });
  for (const n of nodes) {
    const g = make('g', { transform: `translate(${n.x},${n.y})`, 'data-name': n.name });
    const circle = make('circle', { r: 9, fill: n.managed ? (colours[n.state] || '#b4bcc9') : '#fff', stroke: n.managed ? '#fff' : '#8a94a6' });
    const text = make('text', { x: 12, y: 4 });
    text.textContent = n.name;
    g.append(circle, text);
    n.circle = circle;
    circle.addEventListener('pointerdown', (event) => {
      circle.setPointerCapture(event.pointerId);
      const move = (e) => {
        const rect = box.getBoundingClientRect();
        n.x = (e.clientX - rect.left) / rect.width * width; n.y = (e.clientY - rect.top) / rect.height * height;
        g.setAttribute('transform', `translate(${n.x},${n.y})`);
        drawLines();
      };
      circle.addEventListener('pointermove', move);
      circle.addEventListener('pointerup', () => circle.removeEventListener('pointermove', move), { once: true });
    });
    circle.addEventListener('dblclick', () => n.id && store.select(n.id));
    box.append(g);
  }
  drawLines();
  const notes = await partitions(byName, lines).catch(() => []);
  container.replaceChildren(box, el('p.muted', {}, `${nodes.length} nodes, ${edges.length} connections. Drag to move; double-click to select. Hollow: a peer Numbat does not manage. Ringed in colour: the sides of a split family; red line: a busy distribution link.`), ...notes);
}

const sideColours = ['#2b6cb0', '#d69e2e', '#805ad5', '#dd6b20', '#319795'];

/** Each family's connectivity (GET .../connectivity): the sides of a split family ringed each
 *  in its colour and named under the graph; a distribution link at its busy limit drawn red. */
async function partitions(byName, lines) {
  const { families } = await api('GET', '/api/topo/node_families');
  const views = await Promise.all(families.filter((f) => f.nodes.length > 1)
    .map((f) => api('GET', `/api/topo/node_families/${f.id}/connectivity`).catch(() => null)));
  const notes = [];
  for (const view of views.filter(Boolean)) {
    const busy = new Set(view.links.filter((l) => l.busy).flatMap((l) => [`${l.from} ${l.to}`, `${l.to} ${l.from}`]));
    for (const [line, a, b] of lines) if (busy.has(`${a.name} ${b.name}`)) line.classList.add('busy');
    if (!view.split) continue;
    view.sides.forEach((side, i) => side.forEach((name) => {
      const circle = byName.get(name)?.circle;
      if (circle) { circle.setAttribute('stroke', sideColours[i % sideColours.length]); circle.classList.add('side'); }
    }));
    notes.push(el('p.partition', { 'data-family': view.family },
      `${view.name} is split: ${view.sides.map((s, i) => `side ${i + 1}: ${s.join(', ')}`).join('; ')}`));
  }
  return notes;
}

function graphCard() {
  const body = el('div');
  const toggle = el('button.secondary', { type: 'button', id: 'graph-toggle' }, graphOpen ? 'Close graph' : 'Open graph');
  const card = el('section.card', {}, el('h3', {}, 'Node graph ', toggle), body);
  const refresh = () => {
    if (!graphOpen) { body.replaceChildren(); return; }
    graph(body).catch((e) => showError(e, body));
  };
  refreshGraph = refresh;
  toggle.addEventListener('click', () => {
    graphOpen = !graphOpen;
    sessionStorage.setItem('numbat-graph', graphOpen ? 'open' : 'closed');
    toggle.textContent = graphOpen ? 'Close graph' : 'Open graph';
    refresh();
  });
  refresh();
  return card;
}

function draw() {
  root.replaceChildren(el('h2', {}, 'Topology'), el('div.row', {}, info(), el('section.card', {}, el('h3', {}, 'Add a node'), addForm(store))), graphCard());
}

export default {
  mount(container, s) {
    root = container; store = s;
    unsubscribe = store.subscribe((change) => {
      if (change === 'selection' || change === 'state') { const old = root.querySelector('#node-info'); if (old) old.replaceWith(info()); }
      // Nodes came, went or changed state: redraw the graph, once per burst.
      if (change !== 'selection') { clearTimeout(graphTimer); graphTimer = setTimeout(() => root && refreshGraph(), 500); }
    });
    draw();
  },
  unmount() { unsubscribe(); root = null; },
};
