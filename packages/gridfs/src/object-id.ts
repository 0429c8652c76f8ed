import { ObjectId } from 'mongodb';

const OBJECT_ID_HEX = /^[0-9a-f]{24}$/i;

/**
 * The ObjectId written as 24 hex digits, or undefined for anything else. Stricter than
 * `ObjectId.isValid`, which also accepts any 12-character string and numbers.
 */
export function parseObjectId(value: unknown): ObjectId | undefined {
  if (typeof value !== 'string' || !OBJECT_ID_HEX.test(value)) return undefined;
  return ObjectId.createFromHexString(value);
}
