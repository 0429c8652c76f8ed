/** The OpenAPI 3.1 document of the public API, served at /openapi.json. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'mp3converter gateway', version: '0.1.0' },
  paths: {},
} as const;
