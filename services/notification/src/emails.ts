/**
 * The two emails the service sends, composed but not sent: "MP3 Download" when a job is
 * done, and "conversion failed" with what to try when it is not. Each comes as a subject, a
 * plain-text body and an HTML body saying the same things; the HTML has inline styles only
 * (mail clients drop <style> and block remote resources).
 *
 * File names are user text: they are HTML-escaped by construction (the `markup` tag below) and
 * never reach the subject with a line break in it.
 */

export interface ComposedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface SuccessEmail {
  /** The job id (a UUID). */
  jobId: string;
  /** The original file name the user uploaded, e.g. `holiday "best" .mp4` — untrusted user text. */
  filename: string;
  /** The MP3's file name, e.g. `holiday "best" .mp3`. */
  mp3Filename: string;
  /** The MP3's GridFS id, 24 hex digits. */
  fid: string;
  durationSeconds: number;
  /** May be unknown. */
  sizeBytes?: number;
  /** Absolute signed link, e.g. http://mp3converter.com/download?fid=…&expires=…&sig=… */
  downloadUrl: string;
  /** When that link stops working. */
  linkExpiresAt: Date;
  /** e.g. http://mp3converter.com — for the curl command that works with a token after the link expired. */
  publicBaseUrl: string;
}

export interface FailureEmail {
  jobId: string;
  filename: string;
  /** Stable code from the converter, e.g. NO_AUDIO_TRACK, and its plain-words message ("the file has no audio track"). */
  error: { code: string; message: string };
  publicBaseUrl: string;
}

/** Longest file name shown in a subject, in code points; longer ones end in an ellipsis. */
const SUBJECT_FILENAME_MAX = 100;

// Control characters (CR, LF, tab…) and the Unicode line and paragraph separators: any of
// them could start a new header or fake a new line in a body.
const LINE_BREAKING = /[\p{Cc}\p{Zl}\p{Zp}]/gu;

/**
 * The "MP3 Download" email: the original project's line, the signed link, and how to
 * download with a token once the link has expired.
 */
export function successEmail(input: SuccessEmail): ComposedEmail {
  const filename = oneLine(input.filename);
  const mp3Filename = oneLine(input.mp3Filename);
  const readyLine = `mp3 file_id: ${input.fid} is now ready!`;
  const expires = formatUtc(input.linkExpiresAt);
  const download = new URL(publicUrl(input.publicBaseUrl, 'download'));
  download.searchParams.set('fid', input.fid);
  // Quoted: the URL has a `?`, which an unquoted shell word would glob.
  const curl = `curl -fOJ -H "Authorization: Bearer $TOKEN" "${download.href}"`;
  const login = loginCommand(input.publicBaseUrl);
  const details: [string, string][] = [
    ['File', filename],
    ['MP3', mp3Filename],
    ['Duration', formatDuration(input.durationSeconds)],
  ];
  if (input.sizeBytes !== undefined) details.push(['Size', formatSize(input.sizeBytes)]);
  details.push(['Job id', input.jobId]);
  const subject = `MP3 Download: ${subjectFilename(input.filename)}`;

  const text = [
    readyLine,
    '',
    'Your video has been converted to MP3.',
    '',
    ...textTable(details),
    '',
    `Download it here (the link works until ${expires}):`,
    input.downloadUrl,
    '',
    'After that, download it with your account from a terminal:',
    `  ${login}`,
    `  ${curl}`,
    '',
  ].join('\n');

  const body = markup`
    <h1 style="${H1_STYLE}">Your MP3 is ready</h1>
    <p style="${P_STYLE}">${readyLine}</p>
    ${htmlTable(details)}
    <p style="${P_STYLE}">
      <a href="${input.downloadUrl}" style="${BUTTON_STYLE}">Download the MP3</a>
    </p>
    <p style="${SMALL_STYLE}">
      The link works until ${expires}:<br />
      <a href="${input.downloadUrl}" style="${LINK_STYLE}">${input.downloadUrl}</a>
    </p>
    <p style="${P_STYLE}">After that, download it with your account from a terminal:</p>
    <pre style="${PRE_STYLE}">${login}\n${curl}</pre>
  `;
  return { subject, text, html: htmlDocument(subject, body) };
}

const INCOMPLETE =
  'The upload or the file itself may be incomplete. Check that the file plays on your computer, then upload it again.';

/** What the user can do about each failure the converter reports, by its stable code. */
const ADVICE = new Map<string, string>([
  ['EMPTY_FILE', INCOMPLETE],
  ['TRUNCATED_MEDIA', INCOMPLETE],
  [
    'NOT_MEDIA',
    'This is not a video or audio file that our converter (ffmpeg) can read. Export it as MP4 and try again.',
  ],
  [
    'NO_AUDIO_TRACK',
    'The video has no sound, so there is nothing to convert. Upload a video that has an audio track.',
  ],
  [
    'CONVERSION_TIMED_OUT',
    'The video took too long to convert. Split it into shorter parts, or upload a shorter video.',
  ],
  ['VIDEO_MISSING', 'Your upload is no longer stored. Please upload it again.'],
  [
    'CONVERSION_UNAVAILABLE',
    'This was a problem on our side, not with your file. Your file is kept and our operators will try the conversion again; or upload it again later.',
  ],
]);
const DEFAULT_ADVICE =
  'Please try again. If it keeps failing, contact support and quote the job id above.';

/** The email for a failed job: why, in plain words, and what to try for that kind of failure. */
export function failureEmail(input: FailureEmail): ComposedEmail {
  const filename = oneLine(input.filename);
  // A Map, not an object literal: a code such as `constructor` must not find a prototype member.
  const advice = ADVICE.get(input.error.code) ?? DEFAULT_ADVICE;
  const login = loginCommand(input.publicBaseUrl);
  const jobState = `curl -s -H "Authorization: Bearer $TOKEN" ${publicUrl(
    input.publicBaseUrl,
    `jobs/${encodeURIComponent(input.jobId)}`,
  )}`;
  const details: [string, string][] = [
    ['File', filename],
    ['Reason', input.error.message],
    ['Job id (for support)', input.jobId],
  ];
  const subject = `MP3 conversion failed: ${subjectFilename(input.filename)}`;

  const text = [
    'Your file could not be converted to MP3.',
    '',
    ...textTable(details),
    '',
    advice,
    '',
    "To see the job's state from a terminal:",
    `  ${login}`,
    `  ${jobState}`,
    '',
  ].join('\n');

  const body = markup`
    <h1 style="${H1_STYLE}">Your file could not be converted</h1>
    ${htmlTable(details)}
    <p style="${P_STYLE}">${advice}</p>
    <p style="${P_STYLE}">To see the job's state from a terminal:</p>
    <pre style="${PRE_STYLE}">${login}\n${jobState}</pre>
  `;
  return { subject, text, html: htmlDocument(subject, body) };
}

/** `3:25`, or `1:02:03` from one hour on; rounded to whole seconds. */
function formatDuration(seconds: number): string {
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * `4.9 MB`, in SI units (1 MB = 1,000,000 bytes), as most file managers and phones show sizes.
 * The unit is chosen after rounding, so 999,999 bytes is `1.0 MB`, not `1000.0 kB`.
 */
function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} bytes`;
  for (const [factor, unit] of [
    [1e3, 'kB'],
    [1e6, 'MB'],
  ] as const) {
    const value = (bytes / factor).toFixed(1);
    if (Number(value) < 1000) return `${value} ${unit}`;
  }
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/**
 * `2026-11-30 14:05 UTC`. Seconds are cut, not rounded, so the time shown is never later
 * than the real expiry.
 */
function formatUtc(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Shows how to get a token; the user puts in their own email and password. */
function loginCommand(publicBaseUrl: string): string {
  return `TOKEN=$(curl -s -X POST -u you@example.com:your-password ${publicUrl(publicBaseUrl, 'login')})`;
}

/**
 * `path` under the public base URL, with or without its trailing slash; a path prefix in the
 * base (`https://example.com/mp3/`) is kept.
 */
function publicUrl(base: string, path: string): string {
  return new URL(path, base.endsWith('/') ? base : `${base}/`).href;
}

function oneLine(value: string): string {
  return value.replace(LINE_BREAKING, ' ');
}

/** Cut by code points, so a surrogate pair is never split. */
function subjectFilename(filename: string): string {
  const chars = Array.from(oneLine(filename));
  if (chars.length <= SUBJECT_FILENAME_MAX) return chars.join('');
  return `${chars.slice(0, SUBJECT_FILENAME_MAX - 1).join('')}…`;
}

function textTable(rows: [string, string][]): string[] {
  const width = Math.max(...rows.map(([label]) => label.length)) + 2;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`);
}

/** HTML that `markup` inserts as it is; every other value it inserts is escaped. */
class SafeHtml {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char] ?? char);
}

/**
 * A template tag that escapes every interpolated string, in text and attribute values alike.
 * Not named `html`: Prettier would reformat the templates as HTML, whitespace inside <pre>
 * included.
 */
function markup(strings: TemplateStringsArray, ...values: (string | SafeHtml)[]): SafeHtml {
  let out = strings[0] ?? '';
  for (const [i, value] of values.entries()) {
    out += (value instanceof SafeHtml ? value.value : escapeHtml(value)) + (strings[i + 1] ?? '');
  }
  return new SafeHtml(out);
}

const FONT =
  'font-family:-apple-system,BlinkMacSystemFont,Segoe UI,Roboto,Helvetica,Arial,sans-serif';
const H1_STYLE = 'margin:0 0 16px;font-size:20px;line-height:1.3;color:#111827';
const P_STYLE = 'margin:0 0 16px;font-size:15px;line-height:1.5';
const SMALL_STYLE = 'margin:0 0 16px;font-size:13px;line-height:1.5;color:#4b5563';
const LINK_STYLE = 'color:#1d4ed8;word-break:break-all';
const BUTTON_STYLE =
  'display:inline-block;padding:10px 18px;border-radius:6px;background:#1d4ed8;color:#ffffff;text-decoration:none;font-weight:600';
const PRE_STYLE =
  'margin:0 0 16px;padding:12px;border-radius:6px;background:#f3f4f6;font-size:12px;line-height:1.5;white-space:pre-wrap;word-break:break-all;font-family:Menlo,Consolas,monospace';
const TH_STYLE =
  'padding:2px 12px 2px 0;vertical-align:top;font-size:15px;text-align:left;font-weight:normal;color:#4b5563';
const TD_STYLE = 'padding:2px 0;vertical-align:top;font-size:15px;word-break:break-word';

function htmlTable(rows: [string, string][]): SafeHtml {
  const body = rows
    .map(
      ([label, value]) =>
        markup`<tr><th scope="row" style="${TH_STYLE}">${label}</th><td style="${TD_STYLE}">${value}</td></tr>`
          .value,
    )
    .join('\n');
  return markup`<table role="presentation" style="margin:0 0 16px;border-collapse:collapse">
${new SafeHtml(body)}
</table>`;
}

function htmlDocument(title: string, body: SafeHtml): string {
  return markup`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>${title}</title>
</head>
<body style="margin:0;padding:24px 12px;background:#f9fafb;color:#1f2937;${FONT}">
<div style="max-width:560px;margin:0 auto;padding:24px;border-radius:8px;background:#ffffff;border:1px solid #e5e7eb">
${body}
</div>
</body>
</html>
`.value;
}
