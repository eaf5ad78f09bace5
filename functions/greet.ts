// Unary: a greeting lookup that validates its input.
//
// Invalid input is answered with INVALID_ARGUMENT and a google.rpc.BadRequest
// detail that names each bad field, the way gRPC APIs report validation
// errors. Clients get it in grpc-status-details-bin (gRPC, gRPC-Web) or in
// the error's "details" (Connect).
import { Code, ConnectError, defineFunction } from "sluice";
import { BadRequestSchema, type BadRequest_FieldViolation } from "../proto/gen/google/rpc/error_details_pb.js";
import { GreetService } from "../proto/gen/greet/v1/greet_pb.js";

const greetings: Record<string, (name: string) => string> = {
  en: (name) => `Hello, ${name}!`,
  fr: (name) => `Bonjour, ${name} !`,
  de: (name) => `Hallo, ${name}!`,
  es: (name) => `¡Hola, ${name}!`,
};

type Violation = Pick<BadRequest_FieldViolation, "field" | "reason" | "description">;

export default defineFunction({
  service: GreetService,
  // A lookup should never take long; calls without a deadline get this one.
  options: { defaultTimeoutMs: 5_000 },
  implementation: {
    greet(req) {
      const violations: Violation[] = [];
      const name = req.name.trim();
      if (name === "") {
        violations.push({ field: "name", reason: "REQUIRED", description: "name is required" });
      } else if ([...name].length > 64) {
        violations.push({ field: "name", reason: "TOO_LONG", description: "name must be at most 64 characters" });
      }
      const locale = req.locale === "" ? "en" : req.locale;
      const greet = greetings[locale];
      if (greet === undefined) {
        violations.push({
          field: "locale",
          reason: "UNSUPPORTED",
          description: `locale must be one of ${Object.keys(greetings).join(", ")}`,
        });
      }
      if (violations.length > 0 || greet === undefined) {
        throw new ConnectError(
          `invalid GreetRequest: ${violations.map((v) => v.description).join("; ")}`,
          Code.InvalidArgument,
          undefined,
          [{ desc: BadRequestSchema, value: { fieldViolations: violations } }],
        );
      }
      return { greeting: greet(name), locale };
    },
  },
});
