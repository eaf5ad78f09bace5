import type { FastifyServerOptions } from "fastify";

/**
 * Fastify's `schemaController` for Sluice's HTTP hosts (the gateway and the
 * admin listener). None of their routes has a schema to compile: the CORS
 * and static-file plugins declare only `hide`. Without compilers of its own,
 * Fastify loads Ajv and fast-json-stringify (a fifth of the host's code) as
 * each app is created, which is start-up time spent on nothing. A route that
 * did ask for a validator or a serializer fails to register, naming itself.
 */
export const noSchemaCompilers: NonNullable<FastifyServerOptions["schemaController"]> = {
  compilersFactory: {
    buildValidator: () => ({ method, url, httpPart }) => {
      throw new Error(`${method} ${url}: Sluice's HTTP host compiles no JSON schemas (a ${httpPart} schema was given)`);
    },
    buildSerializer: () => ({ method, url, httpStatus }) => {
      throw new Error(`${method} ${url}: Sluice's HTTP host compiles no JSON schemas (a response schema for ${httpStatus} was given)`);
    },
  },
};
