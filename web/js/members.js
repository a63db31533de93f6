// The User filter: a search box (an ARIA combobox) suggesting the team members seen in the
// entries loaded so far. The member directory belongs to another service, so the page only
// knows who has acted in what it has read; an id typed in full works for anyone.
import { el } from './format.js';

const MEMBER_ID = /^[A-Za-z0-9_.:@+=/-]{1,128}$/;

export function createMemberSearch(input, listbox, onPick) {
  const members = new Map();  // id -> name
  let current = '';
  let shown = [];
  let active = -1;

  function nameOf(id) { return members.get(id) || id; }

  function render() {
    listbox.replaceChildren(...shown.map(([id, name], index) => el('li', {
      role: 'option', id: `member-${index}`, 'aria-selected': String(index === active), dataset: { user: id },
    }, name, el('small', {}, id))));
    listbox.hidden = shown.length === 0;
    input.setAttribute('aria-expanded', String(shown.length > 0));
    if (active >= 0) input.setAttribute('aria-activedescendant', `member-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  function suggest() {
    const typed = input.value.trim().toLowerCase();
    shown = [...members].filter(([id, name]) => !typed || name.toLowerCase().includes(typed) || id.toLowerCase().includes(typed))
      .sort((a, b) => a[1].localeCompare(b[1]));
    active = -1;
    render();
  }

  function closeList() { shown = []; active = -1; render(); }

  function show(id) { current = id; input.value = id ? nameOf(id) : ''; }

  function pick(id) {
    closeList();
    show(id);
    onPick(id);
  }

  function pickTyped() {
    const typed = input.value.trim();
    if (!typed) return pick('');
    const exact = shown.find(([id, name]) => name.toLowerCase() === typed.toLowerCase() || id === typed);
    if (exact) return pick(exact[0]);
    if (shown.length === 1) return pick(shown[0][0]);
    if (MEMBER_ID.test(typed)) return pick(typed);  // a member not seen yet, by id
    return undefined;
  }

  input.addEventListener('input', suggest);
  input.addEventListener('focus', suggest);
  input.addEventListener('blur', () => { closeList(); show(current); });
  input.addEventListener('search', () => { if (!input.value && current) pick(''); });  // the box's own clear button
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (!shown.length) suggest();
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = Math.max(0, Math.min(shown.length - 1, active + step));
      render();
      event.preventDefault();
    } else if (event.key === 'Enter') {
      event.preventDefault();  // not the form's submit
      if (active >= 0) pick(shown[active][0]);
      else pickTyped();
    } else if (event.key === 'Escape' && shown.length) {
      closeList();
      event.stopPropagation();
    }
  });
  listbox.addEventListener('mousedown', (event) => {
    const option = event.target.closest('[role="option"]');
    if (!option) return;
    event.preventDefault();  // keep focus in the box
    pick(option.dataset.user);
  });

  return {
    /** Learn the team members acting in these entries. */
    remember(items) {
      for (const item of items) {
        if (item.actor && item.actor.kind === 'user') members.set(item.actor.id, item.actor.name || item.actor.id);
      }
      if (document.activeElement !== input) show(current);  // a name learnt for the filtered id
    },
    show,
    nameOf,
  };
}
