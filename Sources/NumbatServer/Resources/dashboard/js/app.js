// The dashboard's shell: sign-in, the live store of nodes and families, the tree, the tabs and
// the popups for errors as they arrive.
import { api, ApiError, connectEvents, session, setToken } from './api.js';
import { NodeTree } from './tree.js';
import { el, toast } from './ui.js';
import summary from './views/summary.js';
import topology from './views/topology.js';
import metrics from './views/metrics.js';
import notifications from './views/notifications.js';
import alarms from './views/alarms.js';
import alerts from './views/alerts.js';
import orchestration from './views/orchestration.js';
import tracing from './views/tracing.js';

const views = { summary, topology, metrics, notifications, alarms, alerts, tracing, orchestration };
const POPUP_SEVERITIES = new Set(['emergency', 'alert', 'critical', 'error']);

/** Nodes and families, kept current by the event stream. */
class Store {
  constructor() {
    this.nodes = new Map();
    this.families = new Map();
    this.selected = sessionStorage.getItem('numbat-selected') || null;
    this.listeners = [];
  }
  /** Calls `listener` with 'structure', 'state' or 'selection'; returns the unsubscribe. */
  subscribe(listener) {
    this.listeners.push(listener);
    return () => { this.listeners = this.listeners.filter((l) => l !== listener); };
  }
  notify(change) { for (const listener of this.listeners) listener(change); }
  async load() {
    const [nodes, families] = await Promise.all([api('GET', '/api/topo/nodes'), api('GET', '/api/topo/node_families')]);
    this.nodes = new Map(nodes.nodes.map((n) => [n.id, n]));
    this.families = new Map(families.families.filter((f) => !f.deleted).map((f) => [f.id, f]));
    this.notify('structure');
  }
  select(id) {
    this.selected = id;
    sessionStorage.setItem('numbat-selected', id || '');
    this.notify('state');
    this.notify('selection');
  }
  get selectedNode() { return this.selected ? this.nodes.get(this.selected) : null; }
  apply(event) {
    if (event.topic === 'node' && event.node) {
      const known = this.nodes.has(event.node.id);
      const before = known && this.nodes.get(event.node.id).family_id;
      this.nodes.set(event.node.id, event.node);
      this.notify(known && before === event.node.family_id ? 'state' : 'structure');
    } else if (event.type === 'node_removed') {
      this.nodes.delete(event.id);
      this.notify('structure');
    } else if (event.type === 'family_created') {
      this.families.set(event.family.id, event.family);
      this.notify('structure');
    } else if (event.type === 'family_removed') {
      this.families.delete(event.id);
      this.notify('structure');
    }
  }
}

const store = new Store();
let current = null;
let stopEvents = null;

function route() {
  // The landing page is the overview.
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1] || 'summary';
  const view = views[name] || views.summary;
  for (const link of document.querySelectorAll('#tabs a')) link.classList.toggle('active', link.dataset.tab === name);
  if (current && current.unmount) current.unmount();
  const container = document.getElementById('view');
  container.replaceChildren();
  current = view;
  view.mount(container, store);
}

function onEvent(event) {
  store.apply(event);
  if (event.type === 'notification' && event.notification && POPUP_SEVERITIES.has(event.notification.severity)) {
    const n = event.notification;
    toast(`${n.severity} on ${n.node_name || 'Numbat'}`, n.message.length > 300 ? n.message.slice(0, 300) + '…' : n.message, 'error', 6);
  }
  if (current && current.onEvent) current.onEvent(event);
}

async function signIn() {
  const dialog = document.getElementById('login');
  const form = document.getElementById('login-form');
  const input = document.getElementById('login-token');
  const error = document.getElementById('login-error');
  return new Promise((resolve) => {
    form.onsubmit = async (event) => {
      event.preventDefault();
      setToken(input.value.trim());
      try {
        await api('GET', '/api/topo/nodes');
        dialog.close();
        resolve();
      } catch (failure) {
        setToken('');
        error.textContent = failure.status === 401 ? 'That token is not valid.' : failure.message;
      }
    };
    if (!dialog.open) dialog.showModal();
    input.focus();
  });
}

async function start() {
  try {
    await api('GET', '/api/topo/nodes');
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    await signIn();
  }
  await store.load();
  new NodeTree(document.getElementById('tree'), document.getElementById('tree-filter'), store);
  store.notify('structure');
  const status = document.getElementById('connection');
  stopEvents = connectEvents(onEvent, (live) => {
    status.textContent = live ? 'live' : 'offline';
    status.className = 'connection ' + (live ? 'live' : 'offline');
    // Back online after a gap: reload what may have changed meanwhile.
    if (live) store.load().catch(() => {});
  });
  window.addEventListener('hashchange', route);
  route();
  // For the browser tests and the curious: the live store, from the console.
  window.numbat = { store };
  document.body.dataset.ready = 'true';
}

document.getElementById('logout').addEventListener('click', () => {
  setToken('');
  if (stopEvents) stopEvents();
  location.reload();
});

start().catch((error) => {
  document.getElementById('view').replaceChildren(el('p.error', { role: 'alert' }, `The dashboard could not start: ${error.message}`));
});

export { store, session };
