// Small DOM helpers shared by the experiment view's modules (experiments-runs.js,
// experiments-models.js, experiments-panels.js): element lookup, run ids and times as shown.

export const $ = (id) => document.getElementById(id);

// Run ids are UUIDs: the first 8 characters tell them apart on screen; the full id is the title.
export const short = (runId) => (runId.length > 12 ? runId.slice(0, 8) : runId);

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : '–');

/** A table cell maker over the page's el(): cell(text, class?). */
export const cellMaker = (el) => (text, cls) => el('td', cls ? { class: cls, text } : { text });
