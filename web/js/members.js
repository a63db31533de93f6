// The User filter: a search box (an ARIA combobox) suggesting the org's team members from the server
// (GET /members: every member the log has seen, by part of their name or id) from the first keystroke,
// on any view. Only a member the server found is ever applied: a name that matched nobody is said so,
// and the filter stays as it was.
import { el } from './format.js';

const TYPING_PAUSE_MS = 120;  // one request per pause in typing, not per key

export function createMemberSearch(input, listbox, message, api, onPick) {
  const names = new Map();  // id -> name, from the server's answers and the rows read
  let current = '';
  let shown = [];  // [{id, name}]
  let active = -1;
  let asked = null;  // {text, answer: Promise<[{id, name}]>, controller}: the search for the box's text
  let timer = 0;

  function nameOf(id) { return names.get(id) || id; }

  function say(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  function render() {
    listbox.replaceChildren(...shown.map(({ id, name }, index) => el('li', {
      role: 'option', id: `member-${index}`, 'aria-selected': String(index === active), dataset: { user: id },
    }, name, el('small', {}, id))));
    listbox.hidden = shown.length === 0;
    input.setAttribute('aria-expanded', String(shown.length > 0));
    if (active >= 0) input.setAttribute('aria-activedescendant', `member-${active}`);
    else input.removeAttribute('aria-activedescendant');
  }

  /** The server's members for `text` (one request per text; a newer text aborts the older one). */
  function search(text) {
    if (asked && asked.text === text) return asked.answer;
    asked?.controller.abort();
    const controller = new AbortController();
    const answer = api.members(text, controller.signal).then((found) => {
      for (const { id, name } of found) names.set(id, name);
      return found;
    });
    asked = { text, answer, controller };
    return answer;
  }

  async function suggest() {
    clearTimeout(timer);
    const text = input.value.trim();
    say('');
    try {
      const found = await search(text);
      if (input.value.trim() !== text || document.activeElement !== input) return;  // typed on, or left
      shown = found;
      active = -1;
      render();
      if (!found.length && text) say(`No team member matches “${text}”.`);
    } catch (error) {
      if (error.name !== 'AbortError') say(`Team members cannot be searched now: ${error.message}`);
    }
  }

  function closeList() { shown = []; active = -1; render(); }

  function show(id) {
    current = id;
    input.value = id ? nameOf(id) : '';
    if (id && !names.has(id)) {  // a link's user: name them once the server says who it is
      search(id).then((found) => {
        if (current === id && document.activeElement !== input && names.has(id)) input.value = nameOf(id);
      }, () => {});
    }
  }

  function pick(id) {
    closeList();
    say('');
    show(id);
    onPick(id);
  }

  /** Enter without a chosen option: the typed name or id if the server found exactly that member (or only one). */
  async function pickTyped() {
    const typed = input.value.trim();
    if (!typed) return pick('');
    let found;
    try {
      found = await search(typed);
    } catch (error) {
      if (error.name !== 'AbortError') say(`Team members cannot be searched now: ${error.message}`);
      return undefined;
    }
    if (input.value.trim() !== typed) return undefined;  // typed on meanwhile
    const folded = typed.toLowerCase();
    const exact = found.filter(({ id, name }) => id === typed || name.toLowerCase() === folded);
    if (exact.length === 1) return pick(exact[0].id);
    if (found.length === 1) return pick(found[0].id);
    shown = found;
    active = -1;
    render();
    // Never applied as if it were an id: the filter stays as it was (several found: the list asks which).
    if (!found.length) say(`No team member matches “${typed}”. The filter is unchanged.`);
    return undefined;
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, TYPING_PAUSE_MS);
  });
  input.addEventListener('focus', () => suggest());
  input.addEventListener('blur', () => { clearTimeout(timer); closeList(); say(''); show(current); });
  input.addEventListener('search', () => { if (!input.value && current) pick(''); });  // the box's own clear button
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      if (!shown.length) { suggest(); event.preventDefault(); return; }
      const step = event.key === 'ArrowDown' ? 1 : -1;
      active = Math.max(0, Math.min(shown.length - 1, active + step));
      render();
      event.preventDefault();
    } else if (event.key === 'Enter') {
      event.preventDefault();  // not the form's submit
      clearTimeout(timer);
      if (active >= 0) pick(shown[active].id);
      else pickTyped();
    } else if (event.key === 'Escape' && (shown.length || !message.hidden)) {
      closeList();
      say('');
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
    /** Learn the names of the team members acting in these entries (no request). */
    remember(items) {
      for (const item of items) {
        if (item.actor && item.actor.kind === 'user') names.set(item.actor.id, item.actor.name || item.actor.id);
      }
      if (document.activeElement !== input) show(current);  // a name learnt for the filtered id
    },
    show,
    nameOf,
  };
}
