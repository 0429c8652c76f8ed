import { PayloadTooLargeError } from '@mp3converter/errors';

/** The upload stream delivered more than `maxBytes`; nothing was kept. */
export class FileTooLargeError extends PayloadTooLargeError {
  override name = 'FileTooLargeError';
  readonly maxBytes: number;

  constructor(maxBytes: number) {
    super('FILE_TOO_LARGE', `The file is larger than the limit of ${maxBytes} bytes`, {
      details: { maxBytes },
    });
    this.maxBytes = maxBytes;
  }
}
