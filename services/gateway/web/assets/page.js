// @ts-check
// What every part of the page shows with: its elements by id, its messages and the upload limit
// it was rendered with.

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} type
 * @returns {T}
 */
export function byId(id, type) {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`the page has no ${type.name} #${id}`);
  return element;
}

/** MAX_UPLOAD_BYTES: the page refuses a larger file before sending it. */
export const maxUploadBytes = Number(
  document.querySelector('meta[name="max-upload-bytes"]')?.getAttribute('content'),
);

const announcer = byId('announcer', HTMLParagraphElement);

/**
 * @param {HTMLElement} element
 * @param {string} text
 * @param {'error' | 'info' | 'success' | 'busy'} [kind] busy: under way, a final word follows
 */
export function show(element, text, kind = 'info') {
  const next = text === '' ? '' : kind;
  // Unchanged: left alone, so that a live region does not say it again.
  if (element.textContent === text && element.dataset['kind'] === next) return;
  element.textContent = text;
  element.dataset['kind'] = next;
}

/** @param {string} text */
export function announce(text) {
  // A fresh node each time, so a screen reader speaks the same sentence twice if it must.
  const line = document.createElement('span');
  line.textContent = text;
  announcer.replaceChildren(line);
}
