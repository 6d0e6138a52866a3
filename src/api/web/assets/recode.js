/*
 * Recode page: sends the chosen file as it is to POST /v1/recode and
 * offers the answer (CSV, every row in its place) as a download.
 */
(() => {
  'use strict';
  const form = document.getElementById('recode');
  if (!form) return;
  const status = document.getElementById('recode-status');
  const error = document.getElementById('recode-error');
  const result = document.getElementById('recode-result');
  const link = document.getElementById('recode-download');
  const button = form.querySelector('button[type="submit"]');

  function fail(text) {
    error.textContent = text;
    error.hidden = false;
    status.textContent = '';
  }

  // The transition report (old codes moved through a correspondence table):
  // the same file recoded again with report=true, shown as text nodes only.
  const WAYS = {
    unchanged: 'déjà au bon code',
    one_to_one: 'un pour un',
    merged: 'regroupés',
    split_settled: 'éclatés, tranchés par le libellé',
    split_review: 'éclatés, à revoir',
    no_correspondence: 'sans correspondance',
  };
  async function showReport(params, file) {
    const section = document.getElementById('recode-report');
    section.hidden = true;
    const q = new URLSearchParams(params);
    q.set('report', 'true');
    const res = await fetch(`/v1/recode?${q}`, { method: 'POST', headers: { 'Content-Type': 'text/csv' }, body: file });
    if (!res.ok) return;
    const summary = await res.json();
    const ways = Object.entries(summary.transition || {});
    if (ways.length === 0) return;
    const rows = document.getElementById('report-rows');
    rows.replaceChildren();
    for (const [way, n] of ways) {
      const tr = document.createElement('tr');
      for (const text of [WAYS[way] || way, String(n)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      }
      rows.appendChild(tr);
    }
    const review = document.getElementById('report-review');
    review.replaceChildren();
    for (const [code, counts] of Object.entries(summary.transition_by_code || {})) {
      if (counts.split_review) {
        const li = document.createElement('li');
        li.textContent = `${code} : ${counts.split_review} ligne(s)`;
        review.appendChild(li);
      }
    }
    section.hidden = false;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    result.hidden = true;
    const file = form.elements.file.files[0];
    if (!file) {
      fail('Choisissez un fichier.');
      return;
    }
    const params = new URLSearchParams({ system: form.elements.system.value });
    for (const key of ['code_col', 'label_col']) {
      const v = form.elements[key].value.trim();
      if (v) params.set(key, v);
    }
    if (!params.has('code_col') && !params.has('label_col')) {
      fail('Indiquez la colonne du code, celle du libellé, ou les deux.');
      form.elements.code_col.focus();
      return;
    }
    const started = performance.now();
    button.disabled = true;
    form.setAttribute('aria-busy', 'true');
    status.textContent = `Recodage de ${file.name} (${(file.size / 1024).toFixed(0)} Kio) en cours…`;
    try {
      const res = await fetch(`/v1/recode?${params}`, {
        method: 'POST',
        headers: { 'Content-Type': 'text/csv' },
        body: file,
      });
      if (!res.ok) {
        let detail = `HTTP ${res.status}`;
        try {
          detail = (await res.json()).detail || detail;
        } catch (_) {
          /* not a problem+json body */
        }
        fail(`Le recodage a échoué : ${detail}`);
        return;
      }
      const blob = await res.blob();
      if (link.href.startsWith('blob:')) URL.revokeObjectURL(link.href);
      link.href = URL.createObjectURL(new Blob([blob], { type: 'text/csv' }));
      const base = file.name.replace(/\.[^.]*$/, '');
      link.download = `${base}-recode.csv`;
      link.textContent = `Télécharger ${link.download} (${(blob.size / 1024).toFixed(0)} Kio)`;
      result.hidden = false;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      status.textContent = `Fichier recodé en ${seconds} s.`;
      link.focus();
      await showReport(params, file);
    } catch (err) {
      fail(`Le serveur n'a pas répondu : ${err.message}`);
    } finally {
      button.disabled = false;
      form.removeAttribute('aria-busy');
    }
  });
})();
