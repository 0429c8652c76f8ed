// @ts-check
// Choosing or dropping a file, and uploading it with a progress bar and Cancel.

import { ApiError, apiError, failureText, isSessionOver, parseJson } from './api.js';
import { listChanged, pollNow, upsertJobs } from './jobs.js';
import { formatBytes } from './messages.js';
import { byId, maxUploadBytes, show } from './page.js';
import { currentSession, endSession } from './session.js';

/** @typedef {import('./messages.js').Job} Job */

const convert = byId('convert', HTMLElement);
const uploadForm = byId('upload-form', HTMLFormElement);
const fileInput = byId('file', HTMLInputElement);
const fileChosen = byId('file-chosen', HTMLSpanElement);
const dropZone = byId('drop-zone', HTMLLabelElement);
const quality = byId('quality', HTMLSelectElement);
const uploadButton = byId('upload', HTMLButtonElement);
const uploadProgress = byId('upload-progress', HTMLDivElement);
const uploadLabel = byId('upload-label', HTMLLabelElement);
const uploadBar = byId('upload-bar', HTMLProgressElement);
const uploadBytes = byId('upload-bytes', HTMLParagraphElement);
const cancel = byId('cancel', HTMLButtonElement);
const uploadMessage = byId('upload-message', HTMLParagraphElement);

/** @type {{ abort(): void } | undefined} */
let currentUpload;

export function showUpload() {
  convert.hidden = false;
}

/** Stops an upload under way and empties the form: nothing is left for whoever signs in next. */
export function resetUpload() {
  currentUpload?.abort();
  uploadForm.reset();
  showChosenFile();
  uploadProgress.hidden = true;
  uploadButton.disabled = false;
  show(uploadMessage, '');
  convert.hidden = true;
}

function showChosenFile() {
  const file = fileInput.files?.[0];
  fileChosen.textContent = file === undefined ? '' : `${file.name} (${formatBytes(file.size)})`;
  dropZone.dataset['chosen'] = file === undefined ? 'false' : 'true';
}

fileInput.addEventListener('change', () => {
  showChosenFile();
  show(uploadMessage, '');
});

/** @param {DragEvent} event */
function carriesFiles(event) {
  return event.dataTransfer?.types.includes('Files') === true;
}

// A file dropped anywhere is taken (or refused while signed out): never opened by the browser
// in place of the page.
document.addEventListener('dragover', (event) => {
  if (!carriesFiles(event)) return;
  event.preventDefault();
  const signedIn = currentSession() !== undefined;
  if (event.dataTransfer !== null) event.dataTransfer.dropEffect = signedIn ? 'copy' : 'none';
  if (signedIn) document.body.dataset['dragging'] = 'true';
});
document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) delete document.body.dataset['dragging'];
});
document.addEventListener('drop', (event) => {
  delete document.body.dataset['dragging'];
  if (!carriesFiles(event)) return;
  event.preventDefault();
  if (currentSession() === undefined) return;
  const files = event.dataTransfer?.files;
  if (files === undefined || files.length === 0) return;
  if (files.length > 1) {
    show(uploadMessage, 'Drop one file at a time.', 'error');
    return;
  }
  fileInput.files = files;
  showChosenFile();
  show(uploadMessage, '');
  uploadButton.focus();
});

/**
 * POSTs the form with XMLHttpRequest: fetch() cannot report how much of a body is sent.
 * @param {FormData} form
 * @param {(sent: number, total: number) => void} onProgress
 * @returns {{ done: Promise<Job>, abort(): void }}
 */
function sendUpload(form, onProgress) {
  const request = new XMLHttpRequest();
  const done = /** @type {Promise<Job>} */ (
    new Promise((resolve, reject) => {
      request.open('POST', '/upload');
      const session = currentSession();
      if (session !== undefined) {
        request.setRequestHeader('Authorization', `Bearer ${session.token}`);
      }
      request.setRequestHeader('Accept', 'application/json');
      request.upload.addEventListener('progress', (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total);
      });
      request.addEventListener('load', () => {
        if (request.status === 202) {
          try {
            resolve(/** @type {Job} */ (parseJson(request.responseText)));
          } catch {
            // Accepted, but the answer is unreadable (a proxy's page?): the list shows the job.
            reject(new ApiError(202, { detail: 'The upload was accepted.' }, undefined));
          }
        } else {
          reject(
            apiError(
              request.status,
              request.responseText,
              request.getResponseHeader('retry-after'),
            ),
          );
        }
      });
      request.addEventListener('error', () => {
        reject(new ApiError(0, {}, undefined));
      });
      request.addEventListener('abort', () => {
        reject(new DOMException('the upload was cancelled', 'AbortError'));
      });
      request.send(form);
    })
  );
  return {
    done,
    abort: () => {
      request.abort();
    },
  };
}

uploadForm.addEventListener('submit', (event) => {
  event.preventDefault();
  if (currentUpload !== undefined) return;
  const file = fileInput.files?.[0];
  if (file === undefined) {
    show(uploadMessage, 'Choose a video first, or drop one on the page.', 'error');
    fileInput.focus();
    return;
  }
  if (file.size === 0) {
    show(uploadMessage, `${file.name} is empty: there is nothing to convert.`, 'error');
    return;
  }
  if (Number.isFinite(maxUploadBytes) && file.size > maxUploadBytes) {
    show(
      uploadMessage,
      `${file.name} is larger than the limit of ${formatBytes(maxUploadBytes)}.`,
      'error',
    );
    return;
  }
  const form = new FormData();
  // The options before the file, as curl -F sends them.
  const [option, value] = quality.value.split('=');
  if (option !== undefined && value !== undefined) form.append(option, value);
  form.append('file', file, file.name);

  show(uploadMessage, '');
  uploadLabel.textContent = `Uploading ${file.name}`;
  uploadBar.value = 0;
  uploadBar.max = file.size;
  uploadBytes.textContent = `0 B of ${formatBytes(file.size)} sent`;
  uploadProgress.hidden = false;
  uploadButton.disabled = true;
  const upload = sendUpload(form, (sent, total) => {
    // The request is the file and a little multipart framing around it.
    const fileSent = Math.min(Math.round((sent / total) * file.size), file.size);
    uploadBar.value = fileSent;
    const percent = Math.floor((fileSent / file.size) * 100);
    uploadBytes.textContent =
      sent >= total
        ? `${formatBytes(file.size)} sent; waiting for the server to store it…`
        : `${formatBytes(fileSent)} of ${formatBytes(file.size)} sent (${percent} %)`;
  });
  currentUpload = upload;
  cancel.focus();
  // An answer that arrives after sign-out is not this page's business any more.
  const owner = currentSession();
  upload.done
    .then((job) => {
      if (currentSession() !== owner) return;
      show(uploadMessage, `${file.name} is uploaded and queued for conversion.`, 'success');
      uploadForm.reset();
      showChosenFile();
      listChanged();
      upsertJobs([job], { prepend: true });
      pollNow();
    })
    .catch((/** @type {unknown} */ error) => {
      if (currentSession() !== owner) return;
      if (error instanceof DOMException && error.name === 'AbortError') {
        show(uploadMessage, `The upload of ${file.name} was cancelled.`);
        return;
      }
      if (isSessionOver(error)) {
        endSession(failureText(error, 'upload'));
        return;
      }
      show(uploadMessage, failureText(error, 'upload'), 'error');
    })
    .finally(() => {
      if (currentUpload === upload) currentUpload = undefined;
      if (currentSession() !== owner) return;
      uploadProgress.hidden = true;
      uploadButton.disabled = false;
      if (document.activeElement === cancel || document.activeElement === document.body) {
        uploadButton.focus();
      }
    });
});

cancel.addEventListener('click', () => {
  currentUpload?.abort();
});
