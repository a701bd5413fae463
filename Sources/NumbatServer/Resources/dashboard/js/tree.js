// The node tree on every page: families and their nodes with live state. Rows are kept by node
// id and updated in place, and structural changes are drawn once per animation frame, so a
// thousand nodes and a burst of state changes do not freeze the page.
import { el } from './ui.js';

export class NodeTree {
  constructor(container, filterInput, store) {
    this.container = container;
    this.store = store;
    this.rows = new Map();
    this.filter = '';
    this.open = new Set(JSON.parse(sessionStorage.getItem('numbat-open-families') || '[]'));
    this.scheduled = false;
    filterInput.addEventListener('input', () => { this.filter = filterInput.value.trim().toLowerCase(); this.schedule(); });
    store.subscribe((change) => change === 'state' ? this.updateStates() : this.schedule());
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.render(); });
  }

  render() {
    const { nodes, families, selected } = this.store;
    const groups = new Map();
    for (const family of families.values()) groups.set(family.id, { family, nodes: [] });
    const loose = [];
    for (const node of nodes.values()) {
      if (this.filter && !node.name.toLowerCase().includes(this.filter)) continue;
      const group = node.family_id && groups.get(node.family_id);
      (group ? group.nodes : loose).push(node);
    }
    const fragment = document.createDocumentFragment();
    this.rows.clear();
    const sorted = [...groups.values()].sort((a, b) => a.family.name.localeCompare(b.family.name));
    if (loose.length) sorted.push({ family: { id: '', name: 'Other nodes' }, nodes: loose });
    for (const { family, nodes: members } of sorted) {
      if (this.filter && !members.length) continue;
      members.sort((a, b) => a.name.localeCompare(b.name));
      const up = members.filter((n) => n.state === 'UP').length;
      const details = el('details', { open: this.filter || this.open.has(family.id) || sorted.length === 1, dataset: { family: family.id } },
        el('summary', {}, family.name, ' ', el('span.count', {}, `${up}/${members.length} up`)));
      details.addEventListener('toggle', () => {
        if (details.open) this.open.add(family.id); else this.open.delete(family.id);
        sessionStorage.setItem('numbat-open-families', JSON.stringify([...this.open]));
      });
      for (const node of members) {
        const row = el('div.tree-node.state-' + node.state, {
          role: 'treeitem', title: `${node.name} (${node.state})`, dataset: { node: node.id, name: node.name, state: node.state },
          onclick: () => this.store.select(node.id),
        }, el('span.dot'), el('span', {}, node.name));
        if (node.id === selected) row.classList.add('selected');
        this.rows.set(node.id, row);
        details.append(row);
      }
      fragment.append(details);
    }
    if (!fragment.childNodes.length) fragment.append(el('p.muted', {}, this.filter ? 'No node matches.' : 'No nodes yet: add one on the Topology tab.'));
    this.container.replaceChildren(fragment);
  }

  /** State changes only: recolour the rows, no redraw. */
  updateStates() {
    for (const [id, row] of this.rows) {
      const node = this.store.nodes.get(id);
      if (!node) continue;
      if (row.dataset.state !== node.state) {
        row.className = 'tree-node state-' + node.state + (id === this.store.selected ? ' selected' : '');
        row.dataset.state = node.state;
        row.title = `${node.name} (${node.state})`;
      }
      row.classList.toggle('selected', id === this.store.selected);
    }
  }
}
