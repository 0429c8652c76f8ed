// @ts-check
// Signing in, registering and signing out: the account form, and whose account is signed in.

import { api, failureText, readJson } from './api.js';
import { announce, byId, show } from './page.js';
import { endSession, startSession } from './session.js';

/** @typedef {import('./session.js').Session} Session */

const who = byId('who', HTMLDivElement);
const whoEmail = byId('who-email', HTMLElement);
const signOut = byId('sign-out', HTMLButtonElement);
const account = byId('account', HTMLElement);
const accountForm = byId('account-form', HTMLFormElement);
const email = byId('email', HTMLInputElement);
const password = byId('password', HTMLInputElement);
const accountMessage = byId('account-message', HTMLParagraphElement);
// Where focus goes once signed in: the first thing to do next.
const convertTitle = byId('convert-title', HTMLHeadingElement);

/** The form, for someone not signed in. */
export function offerSignIn() {
  account.hidden = false;
  show(accountMessage, '');
}

/** @param {Session} session */
export function showSignedIn(session) {
  whoEmail.textContent = session.email;
  who.hidden = false;
  account.hidden = true;
  show(accountMessage, '');
}

/** @param {string} [reason] why, when the user did not sign out themselves */
export function showSignedOut(reason) {
  who.hidden = true;
  account.hidden = false;
  password.value = '';
  const said = reason ?? 'You are signed out.';
  show(accountMessage, said, reason === undefined ? 'info' : 'error');
  announce(said);
  email.focus();
}

/** @param {string} text */
function base64Utf8(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * @param {string} address
 * @param {string} secret
 */
async function signIn(address, secret) {
  const response = await api('/login', {
    method: 'POST',
    headers: {
      Authorization: `Basic ${base64Utf8(`${address}:${secret}`)}`,
      Accept: 'application/json',
    },
    signedIn: false,
  });
  const body = /** @type {{ token: string, expiresAt: string }} */ (await readJson(response));
  startSession({ token: body.token, email: address, expiresAt: body.expiresAt });
  announce(`Signed in as ${address}.`);
  convertTitle.focus();
}

/**
 * Registers first when asked to, then signs in; says what went wrong otherwise.
 * @param {string} address
 * @param {string} secret
 * @param {boolean} registering
 */
async function enter(address, secret, registering) {
  /** @type {import('./messages.js').Action} */
  let action = 'register';
  try {
    if (registering) {
      await api('/register', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: address, password: secret }),
        signedIn: false,
      });
    }
    action = 'sign-in';
    await signIn(address, secret);
  } catch (error) {
    show(accountMessage, failureText(error, action), 'error');
    password.focus();
  }
}

accountForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const submitter = /** @type {SubmitEvent} */ (event).submitter;
  const registering = submitter instanceof HTMLButtonElement && submitter.value === 'register';
  const address = email.value.trim();
  const secret = password.value;
  if (address === '' || secret === '') {
    show(accountMessage, 'Enter your email and password.', 'error');
    (address === '' ? email : password).focus();
    return;
  }
  const buttons = accountForm.querySelectorAll('button');
  for (const button of buttons) button.disabled = true;
  show(accountMessage, registering ? 'Creating your account…' : 'Signing in…', 'busy');
  void enter(address, secret, registering).finally(() => {
    for (const button of buttons) button.disabled = false;
  });
});

signOut.addEventListener('click', () => {
  endSession();
});
