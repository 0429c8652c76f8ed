/** Where a page of jobs ended: the sort key (createdAt, id) of its last job. */
export interface JobCursor {
  createdAt: Date;
  id: string;
}

/** Opaque to clients: base64url of `<createdAt ms>.<id>`. */
export function encodeCursor({ createdAt, id }: JobCursor): string {
  return Buffer.from(`${createdAt.getTime()}.${id}`, 'utf8').toString('base64url');
}

/** The cursor, or undefined for anything `encodeCursor` did not make. */
export function decodeCursor(cursor: string): JobCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) return undefined;
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const [, time, id] = /^(\d{1,15})\.([0-9a-f-]{36})$/.exec(decoded) ?? [];
  if (time === undefined || id === undefined) return undefined;
  return { createdAt: new Date(Number(time)), id };
}
