// @ts-check
// The mp3converter page: sign in or register, upload a video with a progress bar, follow the
// conversions live, listen, download and delete. Plain DOM, no framework; every text from the
// server or the user goes in through textContent, never as HTML. Each part is a module that
// keeps its own state (session, api, account, upload, jobs); this one ties them to the session.

import { offerSignIn, showSignedIn, showSignedOut } from './account.js';
import { startJobs, stopJobs } from './jobs.js';
import { resumedSession, startSession, watchSession } from './session.js';
import { resetUpload, showUpload } from './upload.js';

watchSession({
  started: (session) => {
    showSignedIn(session);
    showUpload();
    startJobs();
  },
  ended: (reason) => {
    resetUpload();
    stopJobs();
    showSignedOut(reason);
  },
});

const resumed = resumedSession();
if (resumed === undefined) offerSignIn();
else startSession(resumed);
