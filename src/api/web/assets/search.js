/*
 * Search and system pages: the filters drive the suggestions of the
 * <harmonie-autocomplete> field, and choosing a suggestion opens its
 * concept page. Without this script the form still works (results are
 * rendered by the server).
 */
(() => {
  'use strict';
  const field = document.querySelector('form.search harmonie-autocomplete');
  if (!field) return;

  field.addEventListener('harmonie-select', (e) => {
    const r = e.detail;
    location.assign(`/systemes/${encodeURIComponent(r.system)}/${encodeURIComponent(r.code)}`);
  });

  const system = document.getElementById('f-system');
  const level = document.getElementById('f-level');
  const data = document.getElementById('harmonie-levels');
  if (!system || !level || !data) return;
  const levels = JSON.parse(data.textContent);

  // The level choices follow the system chosen (all systems: every name).
  function fillLevels() {
    const names = system.value ? levels[system.value] || [] : [...new Set(Object.values(levels).flat())];
    const keep = level.value;
    const options = [new Option('Tous', '')].concat(names.map((n) => new Option(n, n)));
    level.replaceChildren(...options);
    level.value = names.includes(keep) ? keep : '';
  }

  system.addEventListener('change', () => {
    fillLevels();
    field.setAttribute('system', system.value);
    field.setAttribute('level', level.value);
  });
  level.addEventListener('change', () => field.setAttribute('level', level.value));
})();
