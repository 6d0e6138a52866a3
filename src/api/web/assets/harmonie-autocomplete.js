/*
 * <harmonie-autocomplete>: a code field for forms, served by Harmonie.
 * No dependency, no build step. Load it once per page:
 *
 *   <script src="https://harmonie.example/assets/harmonie-autocomplete.js" defer></script>
 *   <harmonie-autocomplete system="cim10" name="diagnostic" label="Diagnostic"></harmonie-autocomplete>
 *
 * Attributes: system, name, label, placeholder, level, level-only, limit,
 * debounce, min-chars, endpoint, value, required, show-path, show-system.
 * Events: harmonie-select (detail: the result), harmonie-clear,
 * harmonie-results (detail: query, count, took_us), change.
 * The full description is in Harmonie's README.
 *
 * Follows the WAI-ARIA 1.2 combobox pattern with a listbox popup: the text
 * input keeps focus, arrows move the active option (aria-activedescendant),
 * Enter selects it, Escape closes the list (a second Escape clears the
 * field). The chosen code goes into a hidden input named `name`, so a plain
 * form submission sends it. Requests are debounced, and a new request
 * aborts the one still in flight, so a stale answer never replaces a newer
 * one.
 */
(() => {
  'use strict';
  if (customElements.get('harmonie-autocomplete')) return;

  // The server that served this script answers the searches, unless the
  // element says otherwise with `endpoint`.
  const SCRIPT_ORIGIN = document.currentScript
    ? new URL(document.currentScript.src, location.href).origin
    : location.origin;

  const STYLE = `
:where(harmonie-autocomplete) { display: block; position: relative; }
:where(harmonie-autocomplete) .hac-label { display: block; font-weight: 600; margin-bottom: .25rem; }
:where(harmonie-autocomplete) .hac-input { width: 100%; box-sizing: border-box; font: inherit; padding: .5rem .6rem;
  border: 1px solid #595959; border-radius: 4px; background: #fff; color: #1a1a1a; }
:where(harmonie-autocomplete) .hac-listbox { position: absolute; z-index: 1000; left: 0; right: 0; margin: 2px 0 0;
  padding: 0; list-style: none; background: #fff; color: #1a1a1a; border: 1px solid #595959; border-radius: 4px;
  max-height: 24rem; overflow-y: auto; box-shadow: 0 4px 14px rgba(0, 0, 0, .18); text-align: left; }
:where(harmonie-autocomplete) .hac-listbox[hidden] { display: none; }
:where(harmonie-autocomplete) .hac-option { padding: .45rem .6rem; cursor: pointer; border-bottom: 1px solid #e6e6e6;
  overflow-wrap: anywhere; }
:where(harmonie-autocomplete) .hac-option:last-child { border-bottom: 0; }
:where(harmonie-autocomplete) .hac-option:hover { background: #eef3f8; }
:where(harmonie-autocomplete) .hac-option[aria-selected="true"] { background: #0b4f8a; color: #fff; }
:where(harmonie-autocomplete) .hac-code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-weight: 700;
  margin-right: .4rem; }
:where(harmonie-autocomplete) .hac-option mark { background: #ffe27a; color: #1a1a1a; padding: 0 1px; }
:where(harmonie-autocomplete) .hac-meta { display: block; font-size: .85em; color: #474747; margin-top: .1rem; }
:where(harmonie-autocomplete) .hac-option[aria-selected="true"] .hac-meta { color: #f0f4f8; }
:where(harmonie-autocomplete) .hac-message { font-size: .9em; color: #474747; margin: .25rem 0 0; }
:where(harmonie-autocomplete) .hac-message.hac-error { color: #a4000f; }
:where(harmonie-autocomplete) .hac-message:empty { display: none; }
:where(harmonie-autocomplete) .hac-sr { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; }
`;

  function injectStyle() {
    if (document.getElementById('harmonie-autocomplete-style')) return;
    const style = document.createElement('style');
    style.id = 'harmonie-autocomplete-style';
    style.textContent = STYLE;
    // First in <head>, so that the page's own rules win.
    document.head.prepend(style);
  }

  let counter = 0;

  class HarmonieAutocomplete extends HTMLElement {
    static get observedAttributes() {
      return ['system', 'level', 'level-only', 'limit'];
    }

    connectedCallback() {
      if (this._input) return;
      injectStyle();
      this._id = `hac-${++counter}`;
      this._results = [];
      this._active = -1;
      this._timer = 0;
      this._controller = null;
      this._selected = null;
      this._build();
      const initial = this.getAttribute('value');
      if (initial) this._lookup(initial);
    }

    disconnectedCallback() {
      clearTimeout(this._timer);
      if (this._controller) this._controller.abort();
    }

    attributeChangedCallback(name, before, after) {
      if (!this._input || before === after) return;
      // New scope: the suggestions may no longer belong to it; ask again.
      this._results = [];
      this._close();
      if (this._input.value.trim() && !this._selected) this._schedule();
    }

    /** The code chosen, or '' when none is. */
    get value() {
      return this._selected ? this._selected.code : '';
    }

    /** The whole result chosen (system, code, display, level, ancestors), or null. */
    get selected() {
      return this._selected;
    }

    get _endpoint() {
      return (this.getAttribute('endpoint') || SCRIPT_ORIGIN).replace(/\/+$/, '');
    }

    _number(name, fallback) {
      const n = parseInt(this.getAttribute(name), 10);
      return Number.isFinite(n) && n >= 0 ? n : fallback;
    }

    _build() {
      const id = this._id;
      // A page may give its own <label> and <input> (progressive
      // enhancement); otherwise the element makes them.
      let input = this.querySelector('input:not([type="hidden"])');
      if (!input) {
        input = document.createElement('input');
        input.type = 'text';
        input.id = `${id}-input`;
        const text = this.getAttribute('label');
        if (text) {
          const label = document.createElement('label');
          label.className = 'hac-label';
          label.htmlFor = input.id;
          label.textContent = text;
          this.append(label);
        } else {
          const system = this.getAttribute('system');
          input.setAttribute('aria-label', system ? `Code ${system}` : 'Code');
        }
        if (this.hasAttribute('placeholder')) input.placeholder = this.getAttribute('placeholder');
        if (this.hasAttribute('required')) input.required = true;
        this.append(input);
      }
      if (!input.id) input.id = `${id}-input`;
      input.classList.add('hac-input');
      input.setAttribute('role', 'combobox');
      input.setAttribute('aria-autocomplete', 'list');
      input.setAttribute('aria-expanded', 'false');
      input.setAttribute('aria-controls', `${id}-listbox`);
      input.setAttribute('autocomplete', 'off');
      input.setAttribute('autocapitalize', 'off');
      input.spellcheck = false;

      const listbox = document.createElement('ul');
      listbox.id = `${id}-listbox`;
      listbox.className = 'hac-listbox';
      listbox.setAttribute('role', 'listbox');
      listbox.setAttribute('aria-label', 'Suggestions');
      listbox.hidden = true;

      // Visible messages (no result, server unreachable) and a polite live
      // region announcing how many suggestions appeared.
      const message = document.createElement('p');
      message.className = 'hac-message';
      message.id = `${id}-message`;
      const live = document.createElement('div');
      live.className = 'hac-sr';
      live.setAttribute('role', 'status');
      live.setAttribute('aria-live', 'polite');
      input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} ${message.id}`.trim());

      input.after(listbox, message, live);

      const name = this.getAttribute('name');
      if (name) {
        const hidden = document.createElement('input');
        hidden.type = 'hidden';
        hidden.name = name;
        this.append(hidden);
        this._hidden = hidden;
      }

      this._input = input;
      this._listbox = listbox;
      this._message = message;
      this._live = live;

      input.addEventListener('input', () => this._onInput());
      input.addEventListener('keydown', (e) => this._onKey(e));
      input.addEventListener('blur', () => this._close());
      // Keep the focus in the input when an option is clicked.
      listbox.addEventListener('mousedown', (e) => e.preventDefault());
      listbox.addEventListener('click', (e) => {
        const li = e.target.closest('[role="option"]');
        if (li) this._choose(Number(li.dataset.index));
      });
      const form = this.closest('form');
      if (form) form.addEventListener('reset', () => setTimeout(() => this._clear(false), 0));
    }

    _onInput() {
      if (this._selected) this._clear(true, false);
      this._validate();
      this._schedule();
    }

    _onKey(e) {
      const open = !this._listbox.hidden;
      const n = this._results.length;
      switch (e.key) {
        case 'ArrowDown':
          e.preventDefault();
          if (!open && n) this._open();
          if (n) this._setActive((this._active + 1) % n);
          break;
        case 'ArrowUp':
          e.preventDefault();
          if (!open && n) this._open();
          if (n) this._setActive(this._active <= 0 ? n - 1 : this._active - 1);
          break;
        case 'Enter':
          if (open && this._active >= 0) {
            e.preventDefault();
            this._choose(this._active);
          }
          break;
        case 'Escape':
          if (open) {
            e.preventDefault();
            // A search still pending must not open the list again.
            this._cancel();
            this._close();
          } else if (this._input.value) {
            e.preventDefault();
            this._input.value = '';
            this._onInput();
          }
          break;
        case 'Tab':
          this._close();
          break;
        default:
      }
    }

    _schedule() {
      clearTimeout(this._timer);
      const q = this._input.value.trimStart();
      if (q.trim().length < this._number('min-chars', 2)) {
        if (this._controller) this._controller.abort();
        this._results = [];
        this._close();
        this._say('', '');
        return;
      }
      this._timer = setTimeout(() => this._search(q), this._number('debounce', 20));
    }

    async _search(q) {
      if (this._controller) this._controller.abort();
      const controller = new AbortController();
      this._controller = controller;
      const params = new URLSearchParams({ q, limit: String(this._number('limit', 8)), explain: 'true' });
      for (const attr of ['system', 'level']) {
        const v = this.getAttribute(attr);
        if (v) params.set(attr, v);
      }
      if (this.hasAttribute('level-only') && this.getAttribute('level')) params.set('level_only', 'true');
      let data;
      try {
        const res = await fetch(`${this._endpoint}/v1/search?${params}`, {
          signal: controller.signal,
          headers: { Accept: 'application/json' },
        });
        if (!res.ok) {
          let detail = `HTTP ${res.status}`;
          try {
            detail = (await res.json()).detail || detail;
          } catch (_) {
            /* not a problem+json body */
          }
          throw new Error(detail);
        }
        data = await res.json();
      } catch (err) {
        if (err.name === 'AbortError') return;
        if (controller !== this._controller) return;
        this._results = [];
        this._close();
        const why = err instanceof TypeError ? `serveur ${this._endpoint} injoignable` : err.message;
        this._say(`Recherche impossible : ${why}.`, 'error');
        return;
      }
      // An answer to a query that has been replaced is dropped.
      if (controller !== this._controller) return;
      this._controller = null;
      this._render(data.results || [], q);
      this.dispatchEvent(
        new CustomEvent('harmonie-results', {
          bubbles: true,
          detail: { query: q, count: this._results.length, took_us: data.took_us },
        }),
      );
    }

    _render(results, q) {
      this._results = results;
      this._active = -1;
      this._input.removeAttribute('aria-activedescendant');
      const showPath = this.hasAttribute('show-path');
      const showSystem = this.hasAttribute('show-system') || !this.getAttribute('system');
      const items = results.map((r, i) => {
        const li = document.createElement('li');
        li.id = `${this._id}-opt-${i}`;
        li.className = 'hac-option';
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', 'false');
        li.dataset.index = String(i);
        li.dataset.code = r.code;
        const code = document.createElement('span');
        code.className = 'hac-code';
        code.textContent = r.code;
        const label = document.createElement('span');
        label.className = 'hac-text';
        label.append(...highlighted(r.display, r.highlight || []));
        li.append(code, label);
        const meta = [];
        if (showSystem) meta.push(r.system);
        if (showPath && r.ancestors && r.ancestors.length) meta.push(pathOf(r.ancestors));
        if (meta.length) {
          const m = document.createElement('span');
          m.className = 'hac-meta';
          m.textContent = meta.join(' · ');
          li.append(m);
        }
        return li;
      });
      this._listbox.replaceChildren(...items);
      if (results.length) {
        // The list opens only under the user's eyes (the field has focus).
        if (document.activeElement === this._input) this._open();
        this._say('', '');
        this._live.textContent = `${results.length} suggestion${results.length > 1 ? 's' : ''}, flèches haut et bas pour parcourir`;
      } else {
        this._close();
        this._say(`Aucun code pour « ${q.trim()} ».`, '');
      }
    }

    _open() {
      this._listbox.hidden = false;
      this._input.setAttribute('aria-expanded', 'true');
    }

    /** Drops the search scheduled or in flight, if any. */
    _cancel() {
      clearTimeout(this._timer);
      if (this._controller) this._controller.abort();
      this._controller = null;
    }

    _close() {
      if (!this._listbox) return;
      this._listbox.hidden = true;
      this._input.setAttribute('aria-expanded', 'false');
      this._input.removeAttribute('aria-activedescendant');
      this._setActive(-1);
    }

    _setActive(i) {
      const options = this._listbox.children;
      if (this._active >= 0 && options[this._active]) options[this._active].setAttribute('aria-selected', 'false');
      this._active = i;
      if (i >= 0 && options[i]) {
        options[i].setAttribute('aria-selected', 'true');
        this._input.setAttribute('aria-activedescendant', options[i].id);
        options[i].scrollIntoView({ block: 'nearest' });
      }
    }

    _choose(i) {
      const r = this._results[i];
      if (!r) return;
      this._set(r);
      this._close();
      this._live.textContent = `${r.code} ${r.display} choisi`;
      this.dispatchEvent(new CustomEvent('harmonie-select', { bubbles: true, detail: r }));
      this.dispatchEvent(new Event('change', { bubbles: true }));
    }

    _set(r) {
      this._selected = r;
      this._input.value = `${r.code} — ${r.display}`;
      if (this._hidden) this._hidden.value = r.code;
      this._say('', '');
      this._validate();
    }

    _clear(notify, resetText = true) {
      const had = this._selected !== null;
      this._selected = null;
      if (this._hidden) this._hidden.value = '';
      if (resetText) {
        this._results = [];
        this._close();
        this._say('', '');
      }
      this._validate();
      if (notify && had) this.dispatchEvent(new CustomEvent('harmonie-clear', { bubbles: true }));
    }

    /** A code field with text but no code chosen cannot be submitted. */
    _validate() {
      if (!this._hidden) return;
      const pending = this._input.value.trim() !== '' && !this._selected;
      this._input.setCustomValidity(pending ? 'Choisissez un code dans la liste des suggestions.' : '');
    }

    _say(text, kind) {
      this._message.textContent = text;
      this._message.classList.toggle('hac-error', kind === 'error');
    }

    /** Shows the concept of an initial `value` (any spelling of a code). */
    async _lookup(code) {
      const pending = { system: this.getAttribute('system') || '', code, display: '', level: '', ancestors: [] };
      this._set(pending);
      this._input.value = code;
      if (!pending.system) return;
      try {
        const url = `${this._endpoint}/v1/systems/${encodeURIComponent(pending.system)}/concepts/${encodeURIComponent(code)}`;
        const res = await fetch(url, { headers: { Accept: 'application/json' } });
        if (!res.ok) throw new Error((await res.json()).detail || `HTTP ${res.status}`);
        const c = await res.json();
        // Unless the user has started typing meanwhile.
        if (this._selected === pending) {
          this._set({ system: c.system, code: c.code, display: c.display, level: c.level, ancestors: c.ancestors });
        }
      } catch (err) {
        if (this._selected === pending) {
          this._clear(false, false);
          this._say(`Code initial « ${code} » non reconnu : ${err.message}`, 'error');
        }
      }
    }
  }

  /** Text nodes and <mark>s for `display` with `[start, end)` character ranges. */
  function highlighted(display, ranges) {
    const chars = Array.from(display);
    const nodes = [];
    let at = 0;
    for (const [start, end] of [...ranges].sort((a, b) => a[0] - b[0])) {
      if (start < at) continue;
      if (start > at) nodes.push(document.createTextNode(chars.slice(at, start).join('')));
      const mark = document.createElement('mark');
      mark.textContent = chars.slice(start, end).join('');
      nodes.push(mark);
      at = end;
    }
    if (at < chars.length) nodes.push(document.createTextNode(chars.slice(at).join('')));
    return nodes;
  }

  /** `XIII › M50-M54 › M54 Dorsalgies`: ancestor codes, then the parent's label. */
  function pathOf(ancestors) {
    return ancestors.map((a, i) => (i === ancestors.length - 1 ? `${a.code} ${a.display}` : a.code)).join(' › ');
  }

  customElements.define('harmonie-autocomplete', HarmonieAutocomplete);
})();
