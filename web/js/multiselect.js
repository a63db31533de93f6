// A multi-select filter (Type, Status): a button naming the choice ("Type: BACKGROUND_JOB")
// that opens a group of checkboxes, with optional presets ("FAILED + WARNING").
import { el } from './format.js';

export function createMultiSelect(container, { label, name, values, presets = [], onChange, onOpen }) {
  const summary = el('span', {}, 'All');
  const button = el('button', { type: 'button', className: 'menu-button', id: `${name}-button`,
    'aria-expanded': 'false', 'aria-controls': `${name}-menu` }, `${label}: `, summary);
  const boxes = values.map((value) => el('input', { type: 'checkbox', name, value }));
  const menu = el('fieldset', { className: 'menu', id: `${name}-menu`, hidden: true },
    el('legend', {}, label),
    el('div', { className: 'options' }, ...boxes.map((box) => el('label', {}, box, box.value))),
    ...presets.map(([text, chosen]) => {
      const preset = el('button', { type: 'button', className: 'preset' }, text);
      preset.addEventListener('click', () => onChange(chosen));
      return preset;
    }));
  container.replaceChildren(button, menu);

  function toggle(open = menu.hidden) {
    menu.hidden = !open;
    button.setAttribute('aria-expanded', String(open));
    if (open) {
      onOpen();
      boxes[0]?.focus();
    }
  }

  button.addEventListener('click', () => toggle());
  menu.addEventListener('change', () => onChange(boxes.filter((box) => box.checked).map((box) => box.value)));
  menu.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    toggle(false);
    button.focus();
    event.stopPropagation();
  });

  return {
    /** Check what is chosen and name it on the button. */
    show(chosen) {
      for (const box of boxes) box.checked = chosen.includes(box.value);
      summary.textContent = chosen.length === 0 ? 'All' : chosen.length <= 2 ? chosen.join(' + ') : `${chosen.length} selected`;
    },
    close() { if (!menu.hidden) toggle(false); },
  };
}
