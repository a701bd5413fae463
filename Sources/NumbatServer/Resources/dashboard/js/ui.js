// Small DOM helpers: elements, toasts, dialogs, tables, formatting.

/** el('button.secondary', {onclick}, 'text', child...) */
export function el(spec, attributes = {}, ...children) {
  const [tag, ...classes] = spec.split('.');
  const node = document.createElement(tag || 'div');
  if (classes.length) node.className = classes.join(' ');
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'value') node.value = value;
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function toast(title, text, kind = 'error', seconds = 6) {
  const box = el('div.toast.' + kind, { role: kind === 'error' ? 'alert' : 'status' }, el('strong', {}, title), text);
  document.getElementById('toasts').append(box);
  setTimeout(() => box.remove(), seconds * 1000);
  return box;
}

/** Shows an API error where the user is looking. */
export function showError(error, where) {
  const text = error && error.message ? error.message : String(error);
  if (where) { where.textContent = text; where.hidden = false; } else toast('Numbat', text);
}

/** A modal form: fields [{name, label, type, options, value, required}] -> values, or null. */
export function formDialog(title, fields, { submit = 'OK', describe } = {}) {
  return new Promise((resolve) => {
    const inputs = {};
    const error = el('p.error', { role: 'alert' });
    const form = el('form', { method: 'dialog' }, el('h2', {}, title), describe && el('p.muted', {}, describe),
      fields.map((field) => {
        let input;
        if (field.type === 'select') {
          input = el('select', { name: field.name }, field.options.map((o) => el('option', { value: o.value, selected: o.value === field.value }, o.label)));
        } else if (field.type === 'textarea') {
          input = el('textarea', { name: field.name, rows: 4 }, field.value || '');
        } else if (field.type === 'checkbox') {
          input = el('input', { type: 'checkbox', name: field.name, checked: !!field.value });
        } else {
          input = el('input', { type: field.type || 'text', name: field.name, value: field.value, required: field.required, placeholder: field.placeholder });
        }
        inputs[field.name] = input;
        return el('label', {}, field.label, input);
      }),
      error,
      el('div.row', {}, el('button', { type: 'submit' }, submit), el('button.secondary', { type: 'button', onclick: () => { dialog.close(); } }, 'Cancel')));
    const dialog = el('dialog', {}, form);
    let result = null;
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      result = {};
      for (const [name, input] of Object.entries(inputs)) {
        result[name] = input.type === 'checkbox' ? input.checked : input.type === 'file' ? input.files[0] : input.value;
      }
      dialog.close();
    });
    dialog.addEventListener('close', () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

export function table(columns, rows, { empty = 'Nothing yet.' } = {}) {
  return el('table', {},
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', {}, c)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td.muted', { colspan: columns.length }, empty))));
}

export function badge(text) {
  return el('span.badge.' + String(text).replace(/[^A-Za-z_-]/g, ''), {}, text);
}

export function time(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return isNaN(date) ? iso : date.toLocaleString();
}

export function number(value, unit = '') {
  if (value === null || value === undefined || isNaN(value)) return '–';
  if (unit === 'bytes') {
    const steps = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value, i = 0;
    while (Math.abs(v) >= 1024 && i < steps.length - 1) { v /= 1024; i++; }
    return `${v.toFixed(i ? 1 : 0)} ${steps[i]}`;
  }
  if (Math.abs(value) >= 1e6) return (value / 1e6).toFixed(1) + 'M';
  if (Math.abs(value) >= 1e4) return (value / 1e3).toFixed(1) + 'k';
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}
